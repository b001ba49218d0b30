"""`iknet-ros demo`: the whole pipeline over real ROS topics, and pictures of what it did.

Source, unless one is named: the shared real video when it is there, else synthetic keypoint
clouds of generated hand motion published straight to iknet_node, so a machine with no camera and
no data still gets a full run. Everything lands in one folder: the rosbag2 bag of ``/hand/*`` and
``/tf``, the pictures of ``viz.demo_figures`` and ``summary.json``.
"""
import json
import shutil
from pathlib import Path

import numpy as np

from iknet_ros.cli import CliError

SUMMARY_KEYS = ('frames_in', 'frames_with_keypoints', 'frames_with_rotations', 'fps',
                'skeleton_bone_std_mm', 'accel_ratio', 'fidelity_mm', 'latency_ms_p50',
                'latency_ms_p95', 'cpu_cores')


def choose_source(args):
    """('video', path) | ('camera', index) | ('synthetic', None), and a line saying why."""
    from iknet_ros.paths import real_video

    if args.synthetic:
        return ('synthetic', None), 'synthetic keypoints (--synthetic)'
    if args.camera is not None:
        return ('camera', args.camera), f'camera {args.camera}'
    if args.video is not None:
        if not Path(args.video).is_file():
            raise CliError(f'video not found or not a file: {args.video}')
        return ('video', args.video), f'video {args.video}'
    if real_video().is_file():
        return ('video', str(real_video())), f'the shared real video {real_video()}'
    return ('synthetic', None), (f'synthetic keypoints (no camera or video given, and '
                                 f'{real_video()} is absent)')


def demo(args) -> dict:
    """Run the chosen source through the pipeline and write every output into args.out."""
    from iknet_ros.detect.video import DEFAULT_FOV_DEG, guess_intrinsics
    from iknet_ros.paths import default_params
    from iknet_ros.ros.pipeline import load_parameters, run_pipeline, run_synthetic
    from iknet_ros.ros.recording import read_run
    from iknet_ros.synth.camera import SYNTHETIC_SIZE
    from iknet_ros.viz import demo_figures

    (kind, value), why = choose_source(args)
    print(f'demo source: {why}')
    out = Path(args.out)
    bag = out / 'bag'
    if bag.exists():  # the demo owns its output folder: a new run replaces the old bag
        shutil.rmtree(bag)
    out.mkdir(parents=True, exist_ok=True)
    if kind == 'synthetic':
        summary, k = run_synthetic(args.max_frames or 300, record=bag)
        size = SYNTHETIC_SIZE
    else:
        summary = run_pipeline(video=value if kind == 'video' else None,
                               camera=value if kind == 'camera' else None,
                               record=bag, max_frames=args.max_frames)
    record = read_run(bag)
    if kind != 'synthetic':  # the pinhole guess video_source published, as keypoint_node used it
        if not record.images:
            raise ValueError('the run recorded no debug image to draw on')
        height, width = _image_size(next(iter(record.images.values())))
        source = {p.name: p.value for p in load_parameters(default_params())['video_source']}
        k = guess_intrinsics(width, height, source.get('fx', 0.0),
                             source.get('fov_deg', DEFAULT_FOV_DEG)).matrix
        size = (width, height)
    summary['source'] = why
    pictures = {'annotated_frames': demo_figures.write_strip(record, out, k, size),
                'attention': demo_figures.write_attention(record, out),
                'skeleton_3d': demo_figures.write_skeleton_view(record, out)}
    summary['outputs'] = {name: str(path) for name, path in pictures.items()}
    (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary


def _image_size(jpeg: bytes) -> tuple:
    import cv2

    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).shape[:2]


def add_arguments(parser):
    """Arguments of `iknet-ros demo`."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--video', help='video file (default: the shared real video if present)')
    source.add_argument('--camera', type=int, help='camera index')
    source.add_argument('--synthetic', action='store_true',
                        help='generated keypoints straight into iknet_node (no camera, no data)')
    parser.add_argument('--out', default='demo_output', help='output folder (default %(default)s)')
    parser.add_argument('--max-frames', type=int,
                        help='stop after this many frames (synthetic default: 300)')


def run(args) -> int:
    """Run the demo and say what it wrote."""
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError('--max-frames must be >= 1')
    summary = demo(args)
    print('summary: ' + ', '.join(
        f'{k} {summary[k]:.2f}' if isinstance(summary.get(k), float) else f'{k} {summary.get(k)}'
        for k in SUMMARY_KEYS))
    out = Path(args.out)
    print(f'wrote to {out}/:\n  bag/ (rosbag2 bag of /hand/* and /tf)')
    for path in summary['outputs'].values():
        print(f'  {Path(path).name}')
    print('  summary.json\n'
          f'look at it: open the PNGs; replay with a ROS 2 install: ros2 bag play {out / "bag"} '
          '(then rviz2 -d config/hand.rviz), or open the bag in Foxglove Studio')
    return 0
