"""`iknet-ros run`: the launch file's graph in one process on a video or camera (ros.pipeline)."""
import json
import sys
from contextlib import nullcontext
from pathlib import Path

from iknet_ros.cli import CliError


def add_view_argument(parser):
    """``--view [web|native]`` of ``run`` and ``demo``."""
    parser.add_argument('--view', nargs='?', const='web', choices=('web', 'native'),
                        help='watch the run live in Rerun\'s viewer: web (default; served here, '
                             'open the printed address in a browser) or native (its desktop '
                             'window)')


def start_viewer(view: str = None, recording=None):
    """The `viz.viewer.RunViewer` of ``--view`` and/or a .rrd recording, saying where to look."""
    from iknet_ros.viz.viewer import RunViewer

    viewer = RunViewer(recording=recording, serve=view)
    if viewer.url:
        print(f'viewer: open {viewer.url} in a browser')
    elif view == 'native':
        print("viewer: starting Rerun's desktop viewer")
    return viewer


def linger(viewer):
    """Keep a web viewer's servers up after the run while a person at a terminal looks on.

    The servers hold the whole run, so a browser opened late still gets all of it.
    """
    if viewer is not None and viewer.url and sys.stdin.isatty():
        viewer.keep_serving()


def add_arguments(parser):
    """Arguments of ``iknet-ros run``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--video', help='video file to track hands in')
    source.add_argument('--camera', type=int, help='camera index to capture from (e.g. 0)')
    parser.add_argument('--params', default=None,
                        help='ROS 2 parameter YAML of the nodes (default: config/hand.yaml)')
    parser.add_argument('--record', metavar='DIR',
                        help='write /hand/* and /tf to the rosbag2 folder DIR (new) and '
                             'DIR/summary.json')
    parser.add_argument('--max-frames', type=int, help='stop after this many frames')
    add_view_argument(parser)


def run(args) -> int:
    """Run the pipeline (watched with ``--view``) and report it."""
    from iknet_ros.ros.pipeline import run_pipeline

    if args.max_frames is not None and args.max_frames < 1:
        raise CliError('--max-frames must be >= 1')
    with start_viewer(args.view) if args.view else nullcontext() as viewer:
        summary = run_pipeline(video=args.video, camera=args.camera, params=args.params,
                               record=args.record, max_frames=args.max_frames,
                               observers=(viewer,) if viewer else ())
        if viewer is not None:
            viewer.flush()
        status = report(args, summary)
        linger(viewer)
    return status


def report(args, summary: dict) -> int:
    """Print the headline numbers and where the recording went; the exit status."""
    if not summary:
        return 130  # interrupted while starting
    fmt = {k: ('n/a' if v is None else f'{v:.2f}' if isinstance(v, float) else v)
           for k, v in summary.items()}
    print(f"{fmt['frames_in']} frames, {fmt['frames_with_keypoints']} with keypoints, "
          f"{fmt['frames_with_rotations']} with rotations at {fmt['fps']} fps; "
          f"bone std {fmt['skeleton_bone_std_mm']} mm, accel ratio {fmt['accel_ratio']}, "
          f"fidelity {fmt['fidelity_mm']} mm, {fmt['cpu_cores']} CPU cores")
    if args.record:
        path = Path(args.record) / 'summary.json'
        path.write_text(json.dumps(summary, indent=2) + '\n')
        print(f'recorded to {args.record} (ros2 bag play {args.record}) and {path}')
    return 0
