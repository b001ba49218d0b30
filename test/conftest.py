"""Shared test fixtures: an isolated DDS domain per test run, a real rclpy graph, `ros2`."""
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from iknet_ros.paths import real_data_dir
from iknet_ros.ros.graph import InProcessGraph

# Keep test traffic on this machine and away from other test runs and live robots.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = real_data_dir()
ROS_VENDOR = ROOT.parent / 'shared' / 'vendor' / 'ros2-jazzy-launch'
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


@pytest.fixture
def small_video(tmp_path):
    """An 8-frame 64x48 MJPEG video at 30 fps whose frame i is filled with grey level 20 i."""
    import cv2
    import numpy as np

    path = tmp_path / 'small.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (64, 48))
    for i in range(8):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    return path


@pytest.fixture
def one_torch_thread():
    """As iknet_node's main() does: one torch thread (two oversubscribe busy cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def header_at(t: float, frame_id: str):
    """A std_msgs/Header stamped `t` seconds."""
    from std_msgs.msg import Header

    h = Header(frame_id=frame_id)
    h.stamp.sec, h.stamp.nanosec = int(t), int(round((t % 1.0) * 1e9))
    return h
