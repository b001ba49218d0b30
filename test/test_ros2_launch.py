"""The real `ros2 launch iknet_ros hand.launch.py` as a user runs it, and its clean shutdown.

`ros2 launch` runs as a subprocess in its own process group (as in a terminal); the outputs are
received here by a real rclpy subscriber over DDS. SIGINT goes to the whole group, as Ctrl-C does:
every node then gets it twice (from the "terminal", then forwarded by launch).
"""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import cv2
import pytest
from conftest import REAL_VIDEO, require_real
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import MultiDOFJointState, PointCloud2
from tf2_msgs.msg import TFMessage

from iknet_ros.detect.video import VideoFrames
from iknet_ros.ros.graph import wait_for

NODES = ('video_source', 'keypoint_node', 'iknet_node')


class Ros2Launch:
    """`ros2 launch iknet_ros hand.launch.py ARGS` in a new process group, output to a file."""

    def __init__(self, env: dict, log: Path, *arguments: str):
        self.log = log
        self._out = self.log.open('w')
        self.process = subprocess.Popen(
            ['ros2', 'launch', 'iknet_ros', 'hand.launch.py', *arguments], env=env,
            stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text()

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the whole process group; the launch's exit status."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=30)

    def group_alive(self) -> bool:
        """Whether any process of the launch's group (a node) still runs."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def close(self):
        if self.group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._out.close()


@pytest.fixture
def launch(ros2_env, tmp_path):
    """Start `ros2 launch` with the given arguments; everything it started is gone afterwards."""
    started = []

    def start(*arguments):
        started.append(Ros2Launch(ros2_env, tmp_path / f'launch{len(started)}.log', *arguments))
        return started[-1]

    yield start
    for one in started:
        one.close()


class Arrivals:
    """Messages of one topic as they arrive here: receive times and header stamps."""

    def __init__(self, node, msg_type, topic):
        self.times, self.stamps = [], []
        node.create_subscription(msg_type, topic, self._on_msg, QoSProfile(depth=1000))

    def _on_msg(self, msg):
        self.times.append(time.monotonic())
        header = msg.transforms[0].header if isinstance(msg, TFMessage) else msg.header
        self.stamps.append((header.stamp.sec, header.stamp.nanosec))

    def rate_hz(self) -> float:
        """Mean arrival rate over the messages received."""
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


def assert_clean_exit(launch, status, nodes=NODES):
    """Launch exited 0, each node 'finished cleanly', no node died, nothing left running."""
    out = launch.output()
    assert status == 0, f'ros2 launch exited with {status}:\n{out[-3000:]}'
    for name in nodes:
        assert re.search(rf'\[{name}-\d+\]: process has finished cleanly', out), \
            f'{name} did not finish cleanly:\n{out[-3000:]}'
    for bad in ('process has died', 'Traceback', 'context is invalid', 'UserWarning'):
        assert bad not in out, f'{bad!r} in the launch output:\n{out[-3000:]}'
    assert not launch.group_alive(), 'a process of the launch is still running'


class Counters:
    """The newest value of each key of each status on /diagnostics: the nodes' own counts."""

    def __init__(self, node):
        self.values = {}
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_msg, 100)

    def _on_msg(self, msg):
        for status in msg.status:
            self.values[status.name] = {kv.key: kv.value for kv in status.values}

    def count(self, status: str, key: str) -> int:
        return int(self.values.get(status, {}).get(key, -1))


def test_every_frame_of_the_video_becomes_joint_rotations(ros_graph, launch):
    video = require_real(REAL_VIDEO)
    with VideoFrames(video) as frames:
        frame_count = frames.frame_count
    listener = ros_graph.add(Node('test_launch_listener', context=ros_graph.context))
    rotations = Arrivals(listener, MultiDOFJointState, '/hand/joint_rotations')
    tf = Arrivals(listener, TFMessage, '/tf')
    keypoints = Arrivals(listener, PointCloud2, '/hand/keypoints')
    counters = Counters(listener)
    run = launch('use_rviz:=false', f'video:={video}')

    assert wait_for(lambda: len(rotations.stamps) > 30, 90), \
        f'no joint rotations from the launched graph:\n{run.output()[-3000:]}'
    # this listener's view of the graph may lag behind what already flows through it
    assert wait_for(lambda: set(listener.get_node_names()) >= set(NODES), 10), \
        f'nodes up: {sorted(listener.get_node_names())}'
    assert wait_for(lambda: 'video_source-1]: process has finished cleanly' in run.output(),
                    90), 'video_source did not reach the end of the video'
    published = int(re.search(r'after (\d+) frames', run.output()).group(1))

    # the nodes count what they did (this listener may connect after the first frames went)
    def processed():
        return counters.count('keypoint_node: hand detection', 'images processed')

    def answered():
        return counters.count('iknet_node: tracking', 'rotations published')

    wait_for(lambda: processed() >= published and answered() >= published, 10)
    started = time.monotonic()
    status = run.interrupt()
    print(f'\nframes published {published} of {frame_count} (the first sent again '
          f'{run.output().count("to the first frame yet")} times); keypoint_node processed '
          f'{processed()}, iknet_node answered {answered()}; received here: keypoint clouds '
          f'{len(set(keypoints.stamps))}, rotations {len(set(rotations.stamps))}, tf '
          f'{len(tf.stamps)}; rates {keypoints.rate_hz():.1f} / {rotations.rate_hz():.1f} / '
          f'{tf.rate_hz():.1f} Hz; launch exit {status} '
          f'{time.monotonic() - started:.2f} s after SIGINT')

    assert published == frame_count
    # the first frame goes again until iknet_node answers it (the graph still connecting)
    again = run.output().count('to the first frame yet')
    # every frame reached keypoint_node; of the first one's sends, those before keypoint_node
    # was connected did not
    assert frame_count <= processed() <= frame_count + again, 'keypoint_node: a frame lost'
    assert frame_count <= answered() <= processed(), 'iknet_node: every frame answered'
    # what arrived here: one rotations message per cloud, from the first cloud received on
    assert len(set(rotations.stamps)) == len(rotations.stamps), 'a frame answered twice'
    first = max(min(rotations.stamps), min(keypoints.stamps))
    assert {s for s in rotations.stamps if s >= first} == {s for s in keypoints.stamps
                                                           if s >= first}
    assert len(rotations.stamps) > 0.5 * frame_count
    assert len(tf.stamps) > 0.45 * frame_count  # /tf only for frames with a hand
    for topic in (keypoints, rotations, tf):  # the video's 30 fps, loosely
        assert topic.rate_hz() > 20.0
    assert_clean_exit(run, status)


def test_ctrl_c_while_the_video_plays_stops_every_node_cleanly(ros_graph, launch):
    video = require_real(REAL_VIDEO)
    listener = ros_graph.add(Node('test_launch_listener', context=ros_graph.context))
    rotations = Arrivals(listener, MultiDOFJointState, '/hand/joint_rotations')
    run = launch('use_rviz:=false', f'video:={video}')
    assert wait_for(lambda: len(rotations.stamps) > 60, 90), run.output()[-3000:]
    status = run.interrupt()
    assert 'end of' not in run.output(), 'the video ended before the interrupt'
    assert_clean_exit(run, status)


def clip(source: Path, out: Path, start: int, count: int) -> Path:
    """`count` frames of `source` from `start` on, at 640x360, as an MJPG file."""
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (640, 360))
    with VideoFrames(source) as frames:
        for i, frame in enumerate(frames):
            if start <= i < start + count:
                writer.write(cv2.resize(frame, (640, 360)))
    writer.release()
    return out


def test_two_cameras_in_two_namespaces_run_side_by_side(ros_graph, launch, tmp_path):
    """namespace:=cam1 and namespace:=cam2, each on its own looping clip, side by side.

    The params file sets max_hands 1, keyed /**/keypoint_node: it must reach /cam1/keypoint_node.
    The clips loop until each graph has answered enough frames: two graphs starting at once on
    two shared cores may take seconds to connect their nodes.
    """
    video = require_real(REAL_VIDEO)
    enough = 40
    clips = {'cam1': clip(video, tmp_path / 'cam1.avi', 0, 30),
             'cam2': clip(video, tmp_path / 'cam2.avi', 300, 30)}
    params = tmp_path / 'params.yaml'
    params.write_text((Path(__file__).parents[1] / 'config' / 'hand.yaml').read_text()
                      .replace('max_hands: 2', 'max_hands: 1').replace('loop: false', 'loop: true'))
    listener = ros_graph.add(Node('test_two_cameras', context=ros_graph.context))
    rotations = {name: Arrivals(listener, MultiDOFJointState, f'/{name}/hand/joint_rotations')
                 for name in clips}
    keypoints = {name: Arrivals(listener, PointCloud2, f'/{name}/hand/keypoints')
                 for name in clips}
    tf, statuses = [], set()
    listener.create_subscription(TFMessage, '/tf', tf.append, QoSProfile(depth=1000))
    listener.create_subscription(DiagnosticArray, '/diagnostics',
                                 lambda msg: statuses.update(s.name for s in msg.status), 100)
    runs = {name: launch('use_rviz:=false', f'namespace:={name}', f'video:={path}',
                         f'params_file:={params}') for name, path in clips.items()}
    assert wait_for(lambda: all(len(r.stamps) >= enough for r in rotations.values())
                    and len(statuses) >= 8, 180), \
        ({name: len(r.stamps) for name, r in rotations.items()}, sorted(statuses))
    outputs = {}
    for name, run in runs.items():
        status = run.interrupt()
        outputs[name] = run.output()
        assert_clean_exit(run, status)
    answered = {name: set(r.stamps) for name, r in rotations.items()}
    clouds = {name: set(r.stamps) for name, r in keypoints.items()}
    children = {}
    for msg in tf:
        for t in msg.transforms:
            children.setdefault(t.child_frame_id, set()).add(t.header.frame_id)
    print(f'\nrotations per namespace { {n: len(a) for n, a in answered.items()} }, keypoint '
          f'clouds { {n: len(c) for n, c in clouds.items()} }; /tf frames '
          f'{sorted(c for c in children if c.endswith("right_wrist"))} with parents '
          f'{sorted(children["cam1/right_wrist"])} / {sorted(children["cam2/right_wrist"])}')

    for name, other in (('cam1', 'cam2'), ('cam2', 'cam1')):
        assert answered[name] & clouds[name], f'{name} answered none of its own frames'
        assert not answered[name] & clouds[other], f'{name} answered frames of {other}'
        assert children[f'{name}/right_wrist'] == {f'{name}/camera_optical_frame'}
        assert children[f'{name}/right_index_tip'] == {f'{name}/right_index_dip'}
        assert re.search(rf'\[{name}\.keypoint_node\]: detecting up to 1 hands', outputs[name])
        assert {f'{name}/keypoint_node: camera input', f'{name}/iknet_node: tracking'} <= statuses
    assert all(len(parents) == 1 for parents in children.values()), 'a TF frame with two parents'
    assert 'right_wrist' not in children  # nothing outside the namespaces


def rviz2_installed(env) -> bool:
    return any((Path(prefix) / 'share/ament_index/resource_index/packages/rviz2').exists()
               for prefix in env['AMENT_PREFIX_PATH'].split(os.pathsep) if prefix)


def test_without_rviz2_the_default_launch_says_so_and_goes_on(ros2_env, launch):
    """use_rviz defaults to true: with no rviz2 the graph starts without it, after a warning.

    The interrupt comes while keypoint_node and iknet_node still load their models: as soon as
    video_source, the quickest to start, waits for them.
    """
    if rviz2_installed(ros2_env):
        pytest.skip('rviz2 is installed here')
    video = require_real(REAL_VIDEO)
    run = launch(f'video:={video}')
    assert wait_for(lambda: 'waiting for keypoint_node, iknet_node' in run.output(), 60), \
        run.output()[-3000:]
    status = run.interrupt()
    out = run.output()
    assert 'rviz2 is not installed: starting without RViz' in out
    assert out.count('process started') == len(NODES), 'the three nodes were started'
    assert not re.search(r'\[rviz2-\d+\]', out), 'an rviz2 process was started'
    assert 'sequence IKNet on' not in out, 'iknet_node had started before the interrupt'
    assert_clean_exit(run, status)


def test_hand_model_urdf_without_robot_state_publisher_stops_before_any_node(ros2_env, launch):
    """hand_model:=urdf needs robot_state_publisher: without it, one clear line, nothing runs."""
    if any((Path(prefix) / 'share/ament_index/resource_index/packages/robot_state_publisher')
           .exists() for prefix in ros2_env['AMENT_PREFIX_PATH'].split(os.pathsep) if prefix):
        pytest.skip('robot_state_publisher is installed here')
    run = launch('hand_model:=urdf', 'use_rviz:=false')
    status = run.process.wait(timeout=60)
    out = run.output()
    assert status != 0
    assert 'hand_model:=urdf needs robot_state_publisher' in out
    assert 'process started' not in out and not run.group_alive()
