"""The `iknet-ros` command line: one entry point, a subcommand per job."""
import argparse
import sys

from iknet_ros import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog='iknet-ros',
        description='Live 3D hand tracking for ROS 2: MediaPipe keypoints to joint rotations.')
    parser.add_argument('--version', action='version', version=f'iknet-ros {__version__}')
    parser.add_subparsers(dest='command', metavar='COMMAND')
    return parser


def main(argv=None) -> int:
    """Run the CLI; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == '__main__':
    sys.exit(main())
