"""Shared test fixtures: an isolated DDS domain per test run, and a real rclpy graph."""
import os
import random
from pathlib import Path

import pytest

from iknet_ros.paths import real_data_dir
from iknet_ros.ros.graph import InProcessGraph

# Keep test traffic on this machine and away from other test runs and live robots.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

REAL_DATA = real_data_dir()
REAL_VIDEO = REAL_DATA / 'right_hand_720p.mp4'
REAL_LANDMARKS = REAL_DATA / 'right_hand_world_landmarks_wristframe.npy'


def require_real(path: Path) -> Path:
    """Skip the calling test with a clear reason when a shared real-data file is absent."""
    if not path.exists():
        pytest.skip(f'real data not available: {path} is absent (../shared/data/real/)')
    return path


@pytest.fixture
def ros_graph():
    """A running rclpy graph for one test; nodes are created with ``context=ros_graph.context``."""
    with InProcessGraph() as graph:
        yield graph
