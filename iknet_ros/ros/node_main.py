"""The one `main()` body of the console-script nodes: spin until done, a clear exit on bad setup."""
import rclpy
import rclpy.logging
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException


def run_node(node_class, args=None, done=None, setup_errors=()) -> int:
    """Spin one `node_class()` until Ctrl-C, shutdown or `done(node)`; return the exit status.

    A bad parameter, file or model (`ValueError`, `OSError`, `ParameterException` or one of
    `setup_errors`) is logged as one line under the node class's name and gives status 1.
    """
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
