"""`iknet-ros run`: the launch file's graph in one process on a video or camera (ros.pipeline)."""
import json
from pathlib import Path

from iknet_ros.cli import CliError


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


def run(args) -> int:
    """Run the pipeline; print the headline numbers and where the recording went."""
    from iknet_ros.ros.pipeline import run_pipeline

    if args.max_frames is not None and args.max_frames < 1:
        raise CliError('--max-frames must be >= 1')
    summary = run_pipeline(video=args.video, camera=args.camera, params=args.params,
                           record=args.record, max_frames=args.max_frames)
    if not summary:
        return 130  # interrupted while starting
    fmt = {k: ('n/a' if v is None else f'{v:.2f}' if isinstance(v, float) else v)
           for k, v in summary.items()}
    print(f"{fmt['frames_in']} frames, {fmt['frames_with_keypoints']} with keypoints, "
          f"{fmt['frames_with_rotations']} with rotations at {fmt['fps']} fps; "
          f"bone std {fmt['skeleton_bone_std_mm']} mm, accel ratio {fmt['accel_ratio']}, "
          f"fidelity {fmt['fidelity_mm']} mm")
    if args.record:
        path = Path(args.record) / 'summary.json'
        path.write_text(json.dumps(summary, indent=2) + '\n')
        print(f'recorded to {args.record} (ros2 bag play {args.record}) and {path}')
    return 0
