"""One in-process ROS graph: nodes in, one spin thread, wait until connected, ordered teardown.

Used by ``iknet-ros run``/``demo``, the benchmark and the tests. One thread spins every node:
rclpy's MultiThreadedExecutor lost more frames on two busy cores (its spin loop competes for the
GIL). In this rclpy no executor's ``shutdown()`` waits for a running callback, so the graph
stops its own spin loop and joins it before it shuts the executor down. The detector and the
video source have threads of their own.
"""
import threading
import time

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01):
    """Poll `predicate` until it is true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class InProcessGraph:
    """A private rclpy context whose nodes spin on one background thread.

    Use as a context manager; create nodes with ``context=graph.context`` and ``graph.add`` them.
    Leaving it stops the executor and joins its thread before the nodes are destroyed and the
    context shut down: shutting a context down under a spinning executor aborts the process.
    """

    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='ros_graph', daemon=True)
        self._thread.start()

    def _spin(self):
        try:
            while not self._stop.is_set() and self.context.ok():
                self.executor.spin_once(timeout_sec=0.1)
        except ExternalShutdownException:  # the context was shut down (Ctrl-C): nothing to do
            pass

    def add(self, node):
        """Spin `node` in this graph; return it."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def connected(self, *publishers, timeout: float = 10.0) -> bool:
        """Wait until every publisher has a subscriber; whether they all did in time."""
        return bool(wait_for(lambda: all(p.get_subscription_count() > 0 for p in publishers),
                             timeout))

    def ok(self) -> bool:
        """Whether the context still runs (not shut down, e.g. by Ctrl-C)."""
        return self.context.ok()

    def close(self):
        """Stop spinning, destroy the nodes (newest first) and shut the context down."""
        self._stop.set()
        self.executor.wake()
        self._thread.join(timeout=5.0)
        self.executor.shutdown()
        for node in reversed(self.nodes):
            node.destroy_node()
        self.nodes = []
        self.context.try_shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
