"""The one `main()` body of the console-script nodes: spin until done, a clear exit on bad setup."""
import os
import sys
from pathlib import Path

import rclpy
import rclpy.logging
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException

LARGE_IMAGES_PROFILE = 'fastdds_large_images.xml'
# the variable Fast DDS 2.x (ROS 2 Jazzy) reads, and the name Fast DDS 3 reads
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def shipped_config(name: str):
    """A file of the package's config/ folder (source tree, pip or colcon install), or None."""
    for folder in (Path(__file__).resolve().parents[2], Path(sys.prefix) / 'share' / 'iknet_ros'):
        if (folder / 'config' / name).is_file():
            return folder / 'config' / name
    try:
        from ament_index_python.packages import get_package_share_directory

        path = Path(get_package_share_directory('iknet_ros')) / 'config' / name
    except (ImportError, LookupError, OSError):  # no ament index, or iknet_ros not in it
        return None
    return path if path.is_file() else None


def use_large_image_transport():
    """Let Fast DDS carry camera images to other processes; call before `rclpy.init`.

    With its default 512 KiB shared-memory segment, Fast DDS loses most best-effort images
    bigger than that on their way to another process (here 46 % at 640x360 and 88 % at
    1280x720, 30 fps): the debug image to RViz, video_source's frames to keypoint_node. The
    shipped profile (config/fastdds_large_images.xml) is used unless the user set one.
    """
    if any(os.environ.get(name) for name in PROFILE_VARIABLES):
        return
    profile = shipped_config(LARGE_IMAGES_PROFILE)
    if profile is not None:
        os.environ[PROFILE_VARIABLES[0]] = str(profile)


def run_node(node_class, args=None, done=None, setup_errors=()) -> int:
    """Spin one `node_class()` until Ctrl-C, shutdown or `done(node)`; return the exit status.

    A bad parameter, file or model (`ValueError`, `OSError`, `ParameterException` or one of
    `setup_errors`) is logged as one line under the node class's name and gives status 1.
    """
    use_large_image_transport()
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        while rclpy.ok() and not (done and done(node)):
            rclpy.spin_once(node, timeout_sec=0.1)
    except (ParameterException, ValueError, OSError, *setup_errors) as error:
        rclpy.logging.get_logger(node_class.__name__).error(str(error))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def stop_graph(executor, thread, nodes, context):
    """Tear an in-process graph down in the only safe order.

    Executor first and its thread joined, then the nodes, then the context: shutting a context
    down under a spinning executor thread aborts the process ("terminate called without an
    active exception").
    """
    if executor is not None:
        executor.shutdown()
    if thread is not None:
        thread.join(timeout=5.0)
    for node in nodes:
        node.destroy_node()
    context.try_shutdown()
