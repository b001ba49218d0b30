"""``iknet-ros urdf``: write the hand URDF of one side, at rest proportions or a track's bones.

A bone-lengths file is JSON ``{joint name: metres}`` (the bone ending at that joint, all 20 of
``skeleton.JOINT_NAMES[1:]``), or an MCAP bag with ``/hand/joint_rotations`` (``iknet-ros run
--record DIR`` writes one): its translations are the tracked hand's bones, and the median over the
bag's messages of that side is taken.
"""
import json
import sys
from pathlib import Path

import numpy as np

from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.urdf import hand_urdf

ROTATIONS_TOPIC = '/hand/joint_rotations'


def bag_bone_lengths(path, side: str) -> dict:
    """{joint name: m}: the median bone lengths of `side` over a bag's joint rotations."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    names = sk.side_joint_names(side)
    lengths = []  # (21,) per message with that side
    with open(path, 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _, _, _, msg in reader.iter_decoded_messages(topics=[ROTATIONS_TOPIC]):
            by_name = {n: t.translation for n, t in zip(msg.joint_names, msg.transforms,
                                                            strict=True)}
            if names[1] in by_name:
                offsets = [(by_name[n].x, by_name[n].y, by_name[n].z) if j else (0.0, 0.0, 0.0)
                           for j, n in enumerate(names)]
                lengths.append(np.linalg.norm(offsets, axis=-1))
    if not lengths:
        raise ValueError(f'{path} has no {side} hand on {ROTATIONS_TOPIC}')
    median = np.median(np.stack(lengths), axis=0)  # (21,)
    return {name: float(median[j]) for j, name in enumerate(sk.JOINT_NAMES) if j != sk.ROOT}


def load_bone_lengths(path, side: str) -> dict:
    """Bone lengths from a JSON file or an MCAP bag (see the module's doc)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f'bone lengths file not found: {path}')
    if path.suffix == '.mcap':
        return bag_bone_lengths(path, side)
    try:
        lengths = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is neither JSON {{joint: metres}} nor a .mcap bag: {error}') \
            from error
    if not isinstance(lengths, dict):
        raise ValueError(f'{path} must hold a JSON object {{joint name: metres}}')
    return lengths


def add_arguments(parser):
    """Arguments of ``iknet-ros urdf``."""
    parser.add_argument('--side', choices=('right', 'left'), default='right',
                        help='hand side (default right)')
    parser.add_argument('--bone-lengths', metavar='FILE',
                        help='JSON {joint: metres} or an MCAP bag with /hand/joint_rotations '
                             '(default: the rest proportions)')
    parser.add_argument('--out', metavar='FILE', help='write here (default: standard output)')


def run(args) -> int:
    """Write the URDF."""
    from iknet_ros.cli import CliError

    try:
        lengths = (load_bone_lengths(args.bone_lengths, args.side)
                   if args.bone_lengths else None)
        text = hand_urdf(args.side, lengths)
    except ValueError as error:
        raise CliError(str(error)) from error
    if args.out:
        Path(args.out).write_text(text)
        print(f'wrote {args.out}', file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
