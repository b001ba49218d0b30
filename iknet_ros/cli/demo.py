"""`iknet-ros demo`: the whole pipeline over real ROS topics, and pictures of what it did.

Source, unless one is named: the short real clip the package ships, so that a fresh clone with no
camera and no data runs the whole graph (video_source -> keypoint_node -> iknet_node) on a real
hand. Everything lands in one folder: the rosbag2 bag of ``/hand/*`` and ``/tf``, the Rerun
recording of what a live viewer shows (``demo.rrd``), the pictures of ``viz.demo_figures`` and
``summary.json``.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from iknet_ros.cli import CliError
from iknet_ros.cli.run import add_view_argument, linger, start_viewer

SUMMARY_KEYS = ('frames_in', 'frames_with_keypoints', 'frames_with_rotations', 'fps',
                'skeleton_bone_std_mm', 'accel_ratio', 'fidelity_mm', 'latency_ms_p50',
                'latency_ms_p95', 'cpu_cores')
RECORDING = 'demo.rrd'  # what the live viewer shows, for Rerun's viewer to open later


def choose_source(args):
    """('video', path) | ('camera', index) | ('synthetic', None), and a line saying why."""
    from iknet_ros.detect.video import VideoFrames
    from iknet_ros.paths import sample_video

    if args.synthetic:
        return ('synthetic', None), 'synthetic keypoints (--synthetic)'
    if args.camera is not None:
        VideoFrames(args.camera).close()  # a source that does not play fails before any output
        return ('camera', args.camera), f'camera {args.camera}'
    if args.video is not None:
        VideoFrames(args.video).close()
        return ('video', args.video), f'video {args.video}'
    if sample_video().is_file():
        return ('video', str(sample_video())), (
            f'the shipped sample clip {sample_video()} (10 s of a real right hand, MIT licence: '
            'NOTICE.txt beside it)')
    return ('synthetic', None), (f'synthetic keypoints (no camera or video given, and the '
                                 f'sample clip {sample_video()} is missing from this install)')


def demo(args, source, viewer) -> dict:
    """Run `source` (of `choose_source`) through the pipeline; write every output into args.out.

    `viewer` (a `viz.viewer.RunViewer`) is handed what the nodes publish and flushed when the run
    ends: it writes the Rerun recording whether or not a live viewer watches (``--view``).
    """
    from iknet_ros.detect.video import DEFAULT_FOV_DEG, guess_intrinsics
    from iknet_ros.paths import default_params
    from iknet_ros.ros.pipeline import load_parameters, run_pipeline, run_synthetic
    from iknet_ros.ros.recording import read_run
    from iknet_ros.synth.camera import SYNTHETIC_SIZE
    from iknet_ros.viz import demo_figures

    (kind, value), why = source
    out = Path(args.out)
    bag = out / 'bag'
    if bag.exists():  # the demo owns its output folder: a new run replaces the old bag
        shutil.rmtree(bag)
    out.mkdir(parents=True, exist_ok=True)
    if kind == 'synthetic':
        summary, k = run_synthetic(args.max_frames or 300, record=bag, observers=(viewer,))
        size = SYNTHETIC_SIZE
    else:
        # a file's frames wait for the detector (no frame dropped on a busy machine), a
        # camera's do not (run_pipeline)
        summary = run_pipeline(video=value if kind == 'video' else None,
                               camera=value if kind == 'camera' else None, record=bag,
                               max_frames=args.max_frames, observers=(viewer,))
    viewer.flush()
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
    summary['outputs']['recording'] = str(out / RECORDING)
    (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary


def _image_size(jpeg: bytes) -> tuple:
    import cv2

    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).shape[:2]


def add_arguments(parser):
    """Arguments of `iknet-ros demo`."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--video', help='video file (default: the sample clip the package ships)')
    source.add_argument('--camera', type=int, help='camera index')
    source.add_argument('--synthetic', action='store_true',
                        help='generated keypoints straight into iknet_node (no camera, no data)')
    parser.add_argument('--out', default='demo_output', help='output folder (default %(default)s)')
    parser.add_argument('--max-frames', type=int,
                        help='stop after this many frames (synthetic default: 300)')
    add_view_argument(parser)


def run(args) -> int:
    """Run the demo and say what it wrote."""
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError('--max-frames must be >= 1')
    source = choose_source(args)
    print(f'demo source: {source[1]}')
    with start_viewer(args.view, recording=Path(args.out) / RECORDING) as viewer:
        summary = demo(args, source, viewer)
        report(args, summary)
        linger(viewer)
    return 0


def report(args, summary: dict):
    """Print the summary, what the demo wrote and how to look at it."""
    print('summary: ' + ', '.join(
        f'{k} {summary[k]:.2f}' if isinstance(summary.get(k), float) else f'{k} {summary.get(k)}'
        for k in SUMMARY_KEYS))
    out = Path(args.out)
    print(f'wrote to {out}/:\n  bag/ (rosbag2 bag of /hand/* and /tf)')
    for path in summary['outputs'].values():
        print(f'  {Path(path).name}')
    rerun = Path(sys.executable).with_name('rerun')
    print('  summary.json\n'
          f'look at it: {rerun} {out / RECORDING} (Rerun\'s viewer; add --web-viewer for a '
          'browser), the PNGs; with a ROS 2 install: ros2 bag play '
          f'{out / "bag"} (then rviz2 -d config/hand.rviz), or open the bag in Foxglove Studio')
