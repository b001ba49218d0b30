"""Where the package's own files and the project's shared real data are.

Kept free of heavy imports: the CLI reads these defaults before it loads torch or rclpy.
"""
import os
import sys
from pathlib import Path

PACKAGE = 'iknet_ros'
# the source checkout (package.xml beside the Python package) when running from one
SOURCE_TREE = Path(__file__).resolve().parents[1]
# the folder with the shared real data; the default is ../shared/data/real beside the checkout
REAL_DATA_VARIABLE = 'IKNET_ROS_REAL_DATA'


def shipped_file(*parts: str):
    """A file of the package's share folder (source tree, pip or colcon install), or None.

    E.g. ``shipped_file('config', 'hand.yaml')``. The source tree comes first so that edits are
    seen without reinstalling; then ``sys.prefix/share``, then the ament index.
    """
    for folder in (SOURCE_TREE, Path(sys.prefix) / 'share' / PACKAGE):
        if folder.joinpath(*parts).is_file():
            return folder.joinpath(*parts)
    try:
        from ament_index_python.packages import get_package_share_directory

        path = Path(get_package_share_directory(PACKAGE)).joinpath(*parts)
    except (ImportError, LookupError, OSError):  # no ament index, or iknet_ros not in it
        return None
    return path if path.is_file() else None


def default_params() -> Path:
    """The nodes' shipped parameter file (config/hand.yaml), or its source-tree path."""
    return shipped_file('config', 'hand.yaml') or SOURCE_TREE / 'config' / 'hand.yaml'


def real_data_dir() -> Path:
    """The shared real-data folder: $IKNET_ROS_REAL_DATA, else ../shared/data/real.

    ``..`` is the parent of the source checkout, or of the working directory for an install.
    """
    if os.environ.get(REAL_DATA_VARIABLE):
        return Path(os.environ[REAL_DATA_VARIABLE]).expanduser()
    base = SOURCE_TREE if (SOURCE_TREE / 'package.xml').is_file() else Path.cwd()
    return base.parent / 'shared' / 'data' / 'real'


def sample_video() -> Path:
    """The short real clip the package ships for the demo (samples/NOTICE.txt: source, licence)."""
    return Path(__file__).resolve().parent / 'samples' / 'right_hand_clip.mp4'


def real_video() -> Path:
    """The shared real video the tests and benchmarks use (it may be absent)."""
    return real_data_dir() / 'right_hand_720p.mp4'


def cache_dir() -> Path:
    """Where commands keep what they can recompute: $XDG_CACHE_HOME/iknet_ros or ~/.cache/..."""
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base).expanduser() / PACKAGE
