"""What every node shares: the console-script `main()` body, the image transport, observers.

The console scripts start here (`keypoint_node()`, `iknet_node()`, `video_source()`), so that
SIGINT and SIGTERM are taken over before the node's heavy imports (torch, MediaPipe).
"""
import faulthandler
import importlib
import os
import signal
import sys
import threading

from iknet_ros.paths import shipped_file

LARGE_IMAGES_PROFILE = 'fastdds_large_images.xml'
# the variable Fast DDS 2.x (ROS 2 Jazzy) reads, and the name Fast DDS 3 reads
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
# a node still stopping this long after the stop signal prints every thread's stack and exits
# with status 1: before launch escalates (SIGTERM after 5 s, which a stopping node ignores)
STOP_LIMIT_SEC = 4.0


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


class _StopSignals:
    """SIGINT and SIGTERM as a request to stop, so that a node's teardown is never cut short.

    Python's default handler raises `KeyboardInterrupt` wherever the main thread is, in the
    middle of a library's teardown too, and rclpy's invalidates the context under callbacks that
    still publish; Ctrl-C reaches every node of `ros2 launch` twice (from the terminal, then
    forwarded by launch). Here the first signal ends the process at once (status 0) while its
    modules load, before there is anything to tear down, and later only ends the spin loop once
    the node is made. From then on the signals are ignored, so the teardown and Python's own
    exit (which would restore the default action) always finish, or, stuck for STOP_LIMIT_SEC,
    end with the stack of every thread (faulthandler's watchdog thread, which needs no GIL).
    """

    def __init__(self):
        self.requested = threading.Event()
        self.making_node = False  # from rclpy.init on: there is something to tear down

    def install(self):
        if not self.requested.is_set():
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)

    def ignore(self):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def _on_signal(self, signum, frame):
        self.ignore()
        self.requested.set()
        if not self.making_node:
            os._exit(0)
        faulthandler.dump_traceback_later(STOP_LIMIT_SEC, exit=True)


STOP_SIGNALS = _StopSignals()


def run_node(node_class, args=None, done=None, setup_errors=()) -> int:
    """Spin one `node_class()` until SIGINT/SIGTERM, shutdown or `done(node)`; exit status.

    The one failure policy of every node: one that cannot do its job (a bad parameter, file,
    model or device: `ValueError`, `OSError`, `ParameterException` or one of `setup_errors`)
    fails at start with one line under the node's own name (namespace and remapping included)
    and status 1. A stop signal at any moment gives status 0 after a complete teardown.
    """
    # imported here, not at the top: the console scripts take the signals before rclpy loads
    import rclpy
    import rclpy.logging
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    STOP_SIGNALS.install()
    use_large_image_transport()
    node = made = None
    try:
        STOP_SIGNALS.making_node = True  # from here a signal ends the loop below
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        # made before it is initialised: once rclpy's part of __init__ has run, its logger
        # carries the node's real name even when the rest of __init__ fails
        made = node_class.__new__(node_class)
        made.__init__()
        node = made
        while not STOP_SIGNALS.requested.is_set() and rclpy.ok() and \
                not (done and done(node)):
            rclpy.spin_once(node, timeout_sec=0.1)
    except (ParameterException, ValueError, OSError, *setup_errors) as error:
        try:
            logger = made.get_logger()
        except AttributeError:  # rclpy's Node.__init__ itself failed
            logger = rclpy.logging.get_logger(getattr(node_class, 'NODE_NAME', 'iknet_ros'))
        logger.error(f'cannot start: {error}')
        return 1
    except ExternalShutdownException:
        pass
    finally:
        STOP_SIGNALS.ignore()  # the process ends after this teardown, signal or not
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        faulthandler.cancel_dump_traceback_later()  # stopped in time
    return 0


# console script -> the module whose main() runs that node
NODE_MODULES = {
    'keypoint_node': 'iknet_ros.ros.keypoint_node',
    'iknet_node': 'iknet_ros.ros.iknet_node',
    'video_source': 'iknet_ros.ros.video_source',
}


def _console_script(executable: str) -> int:
    """Take the stop signals first, then import the node's module, run its main() and leave.

    Leaving with `os._exit` once main() has torn the node down and rclpy is shut down skips
    Python's own exit, which unloads torch and MediaPipe slowly and does nothing a finished node
    needs.
    """
    STOP_SIGNALS.install()
    status = importlib.import_module(NODE_MODULES[executable]).main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def keypoint_node() -> int:
    """Console script `keypoint_node`."""
    return _console_script('keypoint_node')


def iknet_node() -> int:
    """Console script `iknet_node`."""
    return _console_script('iknet_node')


def video_source() -> int:
    """Console script `video_source`."""
    return _console_script('video_source')


def publish(publisher, msg, observer=None):
    """Publish `msg`, then hand it to `observer(topic, msg)` when it watches the topic.

    An observer (``iknet-ros run``'s statistics and recording) sees exactly what this process's
    nodes publish, without a second DDS hop of every message. It has a ``topics`` set of fully
    qualified topic names.
    """
    publisher.publish(msg)
    if observer is not None and publisher.topic_name in observer.topics:
        observer(publisher.topic_name, msg)
