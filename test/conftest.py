"""Shared test fixtures: an isolated DDS domain per test run, a real rclpy graph, `ros2`."""
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

# Keep test traffic on this machine and away from other test runs and live robots.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / 'shared' / 'data' / 'real'
ROS_VENDOR = ROOT.parent / 'shared' / 'vendor' / 'ros2-jazzy-launch'
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


@pytest.fixture(scope='session')
def ros2_overlay_env() -> dict:
    """The environment `source scripts/ros_env.sh` gives: the real `ros2`, iknet_ros indexed.

    The overlay is built or brought up to date first (a no-op when it is).
    """
    if not ROS_VENDOR.is_dir():
        pytest.skip(f'no ros2 command: {ROS_VENDOR} (upstream launch, ros2cli) is absent')
    env = dict(os.environ, VENV=sys.prefix)
    built = subprocess.run(['bash', str(ROOT / 'scripts' / 'setup_ros_overlay.sh')], env=env,
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f'scripts/setup_ros_overlay.sh failed:\n{built.stdout}\n{built.stderr}')
    sourced = subprocess.run(['bash', '-c', 'source scripts/ros_env.sh && env -0'], cwd=ROOT,
                             env=env, capture_output=True, text=True, check=True)
    return dict(line.split('=', 1) for line in sourced.stdout.split('\0') if '=' in line)


@pytest.fixture
def ros2_env(ros2_overlay_env, tmp_path) -> dict:
    """Environment of one test's `ros2 ...` subprocesses.

    This test run's DDS domain, on this machine only, logs in the test's temporary folder.
    """
    return dict(ros2_overlay_env, ROS_DOMAIN_ID=os.environ['ROS_DOMAIN_ID'],
                ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_LOG_DIR=str(tmp_path / 'ros_log'),
                PYTHONUNBUFFERED='1')
