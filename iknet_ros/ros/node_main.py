"""What every node shares: the console-script `main()` body, the image transport, observers."""
import os

import rclpy
import rclpy.logging
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException

from iknet_ros.paths import shipped_file

LARGE_IMAGES_PROFILE = 'fastdds_large_images.xml'
# the variable Fast DDS 2.x (ROS 2 Jazzy) reads, and the name Fast DDS 3 reads
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def use_large_image_transport():
    """Let Fast DDS carry camera images to other processes; call before `rclpy.init`.

    With its default 512 KiB shared-memory segment, Fast DDS loses most best-effort images
    bigger than that on their way to another process (the debug image to RViz, video_source's
    frames to keypoint_node). The shipped profile (config/fastdds_large_images.xml) is used
    unless the user set one.
    """
    if any(os.environ.get(name) for name in PROFILE_VARIABLES):
        return
    profile = shipped_file('config', LARGE_IMAGES_PROFILE)
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


def publish(publisher, msg, observer=None):
    """Publish `msg`, then hand it to `observer(topic, msg)` when it watches the topic.

    An observer (``iknet-ros run``'s statistics and recording) sees exactly what this process's
    nodes publish, without a second DDS hop of every message. It has a ``topics`` set of fully
    qualified topic names.
    """
    publisher.publish(msg)
    if observer is not None and publisher.topic_name in observer.topics:
        observer(publisher.topic_name, msg)
