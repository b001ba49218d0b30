"""The node console scripts end cleanly on SIGINT and SIGTERM, whenever the signal comes.

Each node runs as its own process, as `ros2 launch` and `ros2 run` start it; status 0 and no
traceback are expected while it starts, while it waits and while it publishes. Ctrl-C under
`ros2 launch` means two SIGINTs (the terminal's, then launch's), so the tests send two.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from iknet_ros.ros.graph import wait_for


class NodeProcess:
    """A node's console script (next to this python) as a subprocess, output to a file."""

    def __init__(self, executable: str, folder: Path, *ros_args: str):
        script = Path(sys.executable).with_name(executable)
        if not script.exists():
            pytest.skip(f'no console script {script} (pip install -e . puts it there)')
        self.log = folder / f'{executable}.log'
        with self.log.open('w') as out:
            self.process = subprocess.Popen(
                [str(script), '--ros-args', *ros_args], stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, ROS_LOG_DIR=str(folder / 'ros_log')))

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, *signals) -> int:
        """Send the signals 50 ms apart; the exit status (the process is killed after 10 s)."""
        started = time.monotonic()
        for number in signals:
            self.process.send_signal(number)
            time.sleep(0.05)
        try:
            status = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        print(f'\n{Path(self.process.args[0]).name} ended {time.monotonic() - started:.2f} s '
              f'after {[signal.Signals(n).name for n in signals]}, status {status}')
        return status


def test_sigterm_while_publishing_ends_video_source_cleanly(ros_graph, tmp_path, small_video):
    images = []
    listener = ros_graph.add(Node('test_listener', context=ros_graph.context))
    listener.create_subscription(Image, 'image', images.append, qos_profile_sensor_data)
    node = NodeProcess('video_source', tmp_path, '-p', f'video:={small_video}',
                       '-p', 'loop:=true')
    assert wait_for(lambda: len(images) > 10, 30), node.output()
    status = node.stop(signal.SIGTERM)
    assert status == 0, node.output()
    assert 'Traceback' not in node.output() and 'context is invalid' not in node.output()


def test_ctrl_c_twice_ends_a_started_keypoint_node_cleanly(tmp_path):
    node = NodeProcess('keypoint_node', tmp_path)
    assert wait_for(lambda: 'detecting up to' in node.output(), 60), node.output()
    status = node.stop(signal.SIGINT, signal.SIGINT)
    assert status == 0, node.output()
    assert 'Traceback' not in node.output()


def test_a_stop_while_iknet_node_still_starts_ends_it_cleanly(tmp_path):
    node = NodeProcess('iknet_node', tmp_path)
    time.sleep(0.5)  # its imports (torch) take longer than that
    status = node.stop(signal.SIGTERM, signal.SIGINT)
    assert 'sequence IKNet on' not in node.output(), 'iknet_node had started already'
    assert status == 0, node.output()
    assert 'Traceback' not in node.output()


STUCK_TEARDOWN = """
import time
from rclpy.node import Node
from iknet_ros.ros.node_main import STOP_SIGNALS, run_node


class StuckNode(Node):
    def __init__(self):
        super().__init__('stuck_node')
        print('stuck_node up', flush=True)

    def destroy_node(self):
        time.sleep(60)


STOP_SIGNALS.install()
run_node(StuckNode)
"""


def test_a_node_stuck_in_its_teardown_ends_with_every_thread_s_stack(tmp_path):
    log = tmp_path / 'stuck.log'
    with log.open('w') as out:
        process = subprocess.Popen([sys.executable, '-c', STUCK_TEARDOWN], stdout=out,
                                   stderr=subprocess.STDOUT,
                                   env=dict(os.environ, ROS_LOG_DIR=str(tmp_path / 'ros_log')))
    assert wait_for(lambda: 'stuck_node up' in log.read_text(), 30), log.read_text()
    process.send_signal(signal.SIGINT)
    try:  # well before launch's SIGKILL (15 s after its SIGINT)
        status = process.wait(timeout=10)
    finally:
        process.kill()
    assert status == 1, log.read_text()
    assert 'in destroy_node' in log.read_text(), 'no stack of the stuck thread'
