"""The `iknet-ros` command line: one entry point, one module per command in this package.

Each command module has ``add_arguments(parser)`` and ``run(args) -> int`` and imports its heavy
dependencies (torch, rclpy, MediaPipe) inside ``run``, so ``--help`` and ``--version`` stay fast.
Libraries raise their own errors; here a user's mistake (``CliError``, ``ValueError``,
``OSError``: a bad file, checkpoint, video or option) becomes one line and exit status 2.
Nothing imports this package.
"""
import argparse
import importlib
import os
import sys

from iknet_ros import __version__

# command -> (module in iknet_ros.cli, one-line help)
COMMANDS = {
    'run': ('run', 'run the ROS 2 nodes in one process on a video or camera'),
    'demo': ('demo', 'the whole pipeline on a video, camera or synthetic hands, with pictures'),
    'train': ('train', 'train the baseline or the sequence IKNet'),
    'evaluate': ('evaluate', 'evaluate IKNets on the synthetic held-out set (mm)'),
    'evaluate-real': ('evaluate_real', 'every method side by side on real hands, with and '
                                       'without ground truth'),
    'noise-report': ('noise_report', 'real vs synthetic keypoint noise statistics'),
    'plot': ('plot', 'draw plots (PNG): iknet-ros plot KIND ...'),
    'bench': ('bench', 'speed and memory figures (JSON)'),
    'urdf': ('urdf', 'write the human-hand URDF (rest or measured bone lengths)'),
}


class CliError(Exception):
    """A problem with the command line itself: printed as one line, exit status 2."""


USER_ERRORS = (CliError, ValueError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog='iknet-ros',
        description='Live 3D hand tracking for ROS 2: MediaPipe keypoints to joint rotations.')
    parser.add_argument('--version', action='version', version=f'iknet-ros {__version__}')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f'{__name__}.{module_name}')
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    """Run the CLI; return the process exit status.

    The in-process graphs (run, demo, bench) talk DDS on this machine only unless the user sets
    ROS_AUTOMATIC_DISCOVERY_RANGE (e.g. SUBNET to watch them from RViz on another machine).
    """
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except USER_ERRORS as error:
        print(f'iknet-ros {args.command}: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
