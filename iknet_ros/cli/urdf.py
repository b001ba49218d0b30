"""``iknet-ros urdf``: write the hand URDF of one side, at rest proportions or a track's bones.

Bone lengths come from JSON ``{joint name: metres}`` (the bone ending at that joint, all 20 of
``skeleton.JOINT_NAMES[1:]``), or from a bag folder that ``iknet-ros run --record DIR`` wrote: its
``/hand/joint_rotations`` translations are the tracked hand's bones, and their median over the
bag's messages of that side is taken.
"""
import json
import sys
from pathlib import Path


def bag_bone_lengths(folder, side: str) -> dict:
    """{joint name: m}: the median bone lengths of `side` over a bag's joint rotations."""
    import numpy as np

    from iknet_ros.hand import skeleton as sk
    from iknet_ros.ros.messages import rotations_by_side
    from iknet_ros.ros.recording import read_bag

    topic = '/hand/joint_rotations'
    lengths = [np.linalg.norm(hands[side][1], axis=-1)                       # (21,)
               for _, msg in read_bag(folder, {topic}).get(topic, [])
               if side in (hands := rotations_by_side(msg))]
    if not lengths:
        raise ValueError(f'{folder} has no {side} hand on {topic}')
    median = np.median(np.stack(lengths), axis=0)
    return {name: float(median[j]) for j, name in enumerate(sk.JOINT_NAMES) if j != sk.ROOT}


def load_bone_lengths(path, side: str) -> dict:
    """Bone lengths from a JSON file or a recorded bag folder (see the module's doc)."""
    path = Path(path)
    if path.is_dir():
        return bag_bone_lengths(path, side)
    if not path.is_file():
        raise FileNotFoundError(f'bone lengths file or bag folder not found: {path}')
    try:
        lengths = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f'{path} is neither JSON {{joint: metres}} nor a bag folder: {error}') \
            from error
    if not isinstance(lengths, dict):
        raise ValueError(f'{path} must hold a JSON object {{joint name: metres}}')
    return lengths


def add_arguments(parser):
    """Arguments of ``iknet-ros urdf``."""
    parser.add_argument('--side', choices=('right', 'left'), default='right',
                        help='hand side (default right)')
    parser.add_argument('--bone-lengths', metavar='FILE|DIR',
                        help='JSON {joint: metres} or a bag folder of iknet-ros run --record '
                             '(default: the rest proportions)')
    parser.add_argument('--out', metavar='FILE', help='write here (default: standard output)')


def run(args) -> int:
    """Write the URDF."""
    from iknet_ros.hand.urdf import hand_urdf

    lengths = load_bone_lengths(args.bone_lengths, args.side) if args.bone_lengths else None
    text = hand_urdf(args.side, lengths)
    if args.out:
        Path(args.out).write_text(text)
        print(f'wrote {args.out}', file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
