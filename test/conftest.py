"""Shared test fixtures: an isolated DDS domain per test run, and a real rclpy graph."""
import os
import random
import threading
from pathlib import Path

import pytest

# Keep test traffic on this machine and away from other test runs and live robots.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

REAL_DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'real'
REAL_VIDEO = REAL_DATA / 'right_hand_720p.mp4'
REAL_LANDMARKS = REAL_DATA / 'right_hand_world_landmarks_wristframe.npy'


def require_real(path: Path) -> Path:
    """Skip the calling test with a clear reason when a shared real-data file is absent."""
    if not path.exists():
        pytest.skip(f'real data not available: {path} is absent (../shared/data/real/)')
    return path


class RosGraph:
    """A private rclpy context with one executor thread spinning in the background.

    As the in-process graph runs (bringup). rclpy's MultiThreadedExecutor (Jazzy) returns from
    shutdown() with callbacks still running on its pool, which then fail on the destroyed guard
    condition ("exception was never retrieved: cannot use Destroyable").
    """

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes = []
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def add(self, node):
        """Spin `node` in this graph and return it."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def close(self):
        """Stop spinning, destroy the nodes and shut the context down (in that order)."""
        self.executor.shutdown()
        self._thread.join(timeout=5)
        for node in self.nodes:
            node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def ros_graph():
    """A running rclpy graph for one test; nodes are created with ``context=ros_graph.context``."""
    graph = RosGraph()
    yield graph
    graph.close()


def wait_for(predicate, timeout=10.0, interval=0.02):
    """Poll `predicate` until it is true or `timeout` seconds pass; return its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
