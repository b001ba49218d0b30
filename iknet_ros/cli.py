"""The `iknet-ros` command line: one entry point, one subcommand per job.

Each subcommand lives beside the code it drives, in a module with ``add_arguments(parser)`` and
``run(args) -> int``; this file only lists them.
"""
import argparse
import importlib
import os
import sys

from iknet_ros import __version__

# subcommand -> (module, one-line help)
COMMANDS = {
    'noise-report': ('iknet_ros.hand.noise_stats', 'real vs synthetic keypoint noise statistics'),
    'plot': ('iknet_ros.plots', 'draw plots (PNG): iknet-ros plot KIND ...'),
    'train': ('iknet_ros.model.train', 'train the baseline or the sequence IKNet'),
    'evaluate': ('iknet_ros.model.evaluate', 'evaluate IKNets on the held-out set (mm)'),
    'urdf': ('iknet_ros.hand.urdf_command', 'write the human-hand URDF (rest or measured '
             'bone lengths)'),
    'bench': ('iknet_ros.bench', 'speed and memory figures (JSON)'),
    'run': ('iknet_ros.ros.bringup', 'run the ROS 2 nodes in one process on a video or camera'),
    'demo': ('iknet_ros.ros.demo', 'the whole pipeline on a video, camera or synthetic hands, '
             'with pictures'),
}


class CliError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog='iknet-ros',
        description='Live 3D hand tracking for ROS 2: MediaPipe keypoints to joint rotations.')
    parser.add_argument('--version', action='version', version=f'iknet-ros {__version__}')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
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
    except CliError as error:
        print(f'iknet-ros {args.command}: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    # `python -m iknet_ros.cli` runs this file as a second module, `__main__`, whose CliError is
    # not the one the subcommands raise: run the package's own copy
    from iknet_ros import cli
    sys.exit(cli.main())
