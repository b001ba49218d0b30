"""``iknet-ros run``: the launch file's graph in one process, for machines without ``ros2 launch``.

video_source -> keypoint_node -> iknet_node run in one process (one executor thread beside the
nodes' own video and detector threads) with the parameters of the same YAML file (each node's
``ros__parameters``), until Ctrl-C or the end of the video.
``--record DIR`` also writes every ``/hand/*`` topic and ``/tf`` that these nodes publish to a
rosbag2-style MCAP file (profile ``ros2``, ``ros2msg`` schemas, CDR messages: ``ros2 bag play``
and Foxglove read it) and ``DIR/summary.json`` with the run's statistics (``tracking.summary``).
"""
import functools
import json
import math
import queue
import re
import threading
import time
from importlib import import_module
from pathlib import Path

import numpy as np
import rclpy
import yaml
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image, MultiDOFJointState, PointCloud2
from std_msgs.msg import Float32MultiArray
from tf2_msgs.msg import TFMessage
from tqdm import tqdm
from visualization_msgs.msg import MarkerArray

from iknet_ros.cli import CliError
from iknet_ros.detect.video import VideoSourceError
from iknet_ros.ros.conversions import cloud_to_keypoints, image_to_jpeg
from iknet_ros.ros.node_main import shipped_config, stop_graph, use_large_image_transport
from iknet_ros.tracking.summary import RunSummary

# the source tree's, else the installed one (pip or colcon)
DEFAULT_PARAMS = (shipped_config('hand.yaml')
                  or Path(__file__).resolve().parents[2] / 'config' / 'hand.yaml')

# --- message definitions, as rosbag2 stores them --------------------------------------------

_PRIMITIVES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16',
               'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring'}
_DELIMITER = '=' * 80 + '\n'


def _msg_file(type_name: str) -> Path:
    """The .msg file of 'pkg/Type' or 'pkg/msg/Type', found like ament's share lookup."""
    package, *_, name = type_name.split('/')
    try:
        from ament_index_python.packages import get_package_share_directory
        share = Path(get_package_share_directory(package))
    except (ImportError, LookupError, OSError, ValueError):
        # no AMENT_PREFIX_PATH (the PyPI wheels): <prefix>/share/<pkg> beside lib/pythonX/...
        module = Path(import_module(package).__file__).resolve()
        share = next((parent / 'share' / package for parent in module.parents
                      if (parent / 'share' / package / 'msg').is_dir()), None)
        if share is None:
            raise LookupError(f'no share folder with msg/ found for package {package!r}') from None
    return share / 'msg' / f'{name}.msg'


def _dependencies(text: str, package: str) -> list:
    """Sorted 'pkg/Type' names of the non-primitive field types of a .msg text."""
    found = set()
    for line in text.splitlines():
        tokens = line.split('#', 1)[0].split()
        if len(tokens) < 2:
            continue
        base = re.sub(r'(<=\d+)?(\[[^\]]*\])?$', '', tokens[0])  # string<=5, Type[], Type[<=3]
        if base and base not in _PRIMITIVES:  # constants are primitive, so skipped here too
            found.add(base if '/' in base else f'{package}/{base}')
    return sorted(found)


def message_definition(type_name: str) -> str:
    """Return the full ``ros2msg`` text of a type, as rosbag2 stores it in a bag.

    Its .msg, then each dependency once, depth first, each after a line of 80 '=' and
    ``MSG: pkg/Type`` (rosbag2's LocalMessageDefinitionSource), so readers need no ROS install.
    """
    seen = set()

    def text_of(name: str) -> str:
        package = name.split('/')[0]
        text = _msg_file(name).read_text()
        for dep in _dependencies(text, package):
            if dep not in seen:
                seen.add(dep)
                text += '\n' + _DELIMITER + f'MSG: {dep}\n' + text_of(dep)
        return text

    return text_of(type_name)


def type_name_of(msg_type) -> str:
    """'pkg/msg/Type' of a generated message class."""
    return f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"


class McapRecorder:
    """Writes serialized ROS 2 messages to an MCAP file the way rosbag2's MCAP plugin does.

    Compression and disk writes happen on a thread of their own, so the executor's callbacks
    (and the nodes sharing the two cores) are not held up by the recording. Raw images are
    recorded as JPEG on ``<topic>/compressed`` (image_transport's name), like ``ros2 bag record``
    of the compressed transport: a raw 720p frame costs 2.7 MB and, on two cores, enough
    serialisation and compression time to make keypoint_node drop frames; a JPEG about 0.1 MB.
    """

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, 'wb')
        # LZ4: a third of zstd's CPU time on the debug images (3 vs 8 ms per 720p frame), for
        # files about 1.3 times larger; the cores are busy with MediaPipe
        self._writer = McapWriter(self._file, compression=CompressionType.LZ4)
        self._writer.start(profile='ros2', library='iknet_ros')
        self._channels = {}
        self.counts = {}
        self._lock = threading.Lock()
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name='mcap_writer', daemon=True)
        self._thread.start()

    def write(self, topic: str, msg, log_time_ns: int):
        """Queue one message of `topic` for the file (called from any thread).

        Serialization happens here; schema registration, compression and disk writes on the
        writer thread, so publishers are not held up.
        """
        if isinstance(msg, Image):
            topic = f'{topic}/compressed'
        with self._lock:
            sequence = self.counts.get(topic, 0)
            self.counts[topic] = sequence + 1
        self._queue.put((topic, msg, sequence, log_time_ns))

    def _drain(self):
        while (item := self._queue.get()) is not None:
            topic, msg, sequence, log_time = item
            if isinstance(msg, Image):
                msg = image_to_jpeg(msg)  # OpenCV encodes without holding the GIL
            data = serialize_message(msg)  # CDR with its encapsulation header, as rosbag2 stores
            msg_type = type(msg)
            if topic not in self._channels:
                name = type_name_of(msg_type)
                schema = self._writer.register_schema(name=name, encoding='ros2msg',
                                                      data=message_definition(name).encode())
                self._channels[topic] = self._writer.register_channel(
                    topic=topic, message_encoding='cdr', schema_id=schema)
            self._writer.add_message(channel_id=self._channels[topic], log_time=log_time,
                                     publish_time=log_time, data=data, sequence=sequence)

    def close(self):
        """Write what is queued and finish the file (summary and indexes readers need)."""
        if self._file is not None:
            self._queue.put(None)
            self._thread.join()
            self._writer.finish()
            self._file.close()
            self._file = None


# --- what the run published ---------------------------------------------------------------------

def _stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _best_per_side(hands) -> dict:
    best = {}
    for h in hands:  # the tracker keeps the most confident hand of each side
        if h.side not in best or h.score > best[h.side].score:
            best[h.side] = h
    return {side: h.xyz for side, h in best.items()}


def _rotations_by_side(msg: MultiDOFJointState) -> dict:
    sides = {}
    for name, t in zip(msg.joint_names, msg.transforms, strict=True):
        quats, offsets = sides.setdefault(name.split('_', 1)[0], ([], []))
        quats.append((t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w))
        offsets.append((t.translation.x, t.translation.y, t.translation.z))
    return {side: (np.array(q), np.array(o)) for side, (q, o) in sides.items()}


# what listen=True subscribes to: topic -> (type, QoS)
LISTENED = {
    '/hand/keypoints': (PointCloud2, 10),
    '/hand/joint_rotations': (MultiDOFJointState, 10),
    '/hand/skeleton': (MarkerArray, 10),
    '/hand/attention': (Float32MultiArray, 10),
    '/hand/debug_image': (Image, qos_profile_sensor_data),
    '/tf': (TFMessage, 100),
}


def is_recorded(topic: str) -> bool:
    """Whether --record keeps a topic: every /hand/* topic and /tf."""
    return topic.startswith('/hand/') or topic == '/tf'


class RunMonitor(Node):
    """What the pipeline publishes: statistics for the summary, and the recording.

    ``iknet-ros run`` taps its own nodes' publishers (``tap``, with ``listen=False``): that sees
    exactly this process's pipeline even when another one runs on the same ROS domain, and
    spares the cores a second DDS hop of every debug image. With ``listen=True`` the monitor
    subscribes to the topics instead, for graphs whose publishers it cannot tap.
    """

    def __init__(self, recorder: McapRecorder = None, listen: bool = True, **kwargs):
        super().__init__('iknet_run_monitor', **kwargs)
        self.recorder = recorder
        self.summary = RunSummary()
        self.seen = 0
        self.last_rotations = None  # time.monotonic() of the newest joint rotations
        self._lock = threading.Lock()
        for topic, (msg_type, qos) in (LISTENED.items() if listen else ()):
            self.create_subscription(msg_type, topic, functools.partial(self.on_message, topic),
                                     qos)

    def tap(self, node: Node):
        """Have every recorded publisher of `node` report what it publishes here too."""
        for publisher in node.publishers:
            if is_recorded(publisher.topic_name):
                publisher.publish = self._tapped(publisher.topic_name, publisher.publish)

    def _tapped(self, topic: str, publish):
        def publish_and_report(msg):
            publish(msg)
            self.on_message(topic, msg)
        return publish_and_report

    def on_message(self, topic: str, msg):
        """Account for one published message (any thread)."""
        now = time.time_ns()
        if self.recorder is not None:
            self.recorder.write(topic, msg, now)
        if topic == '/hand/keypoints':
            try:
                hands = _best_per_side(cloud_to_keypoints(msg))
            except ValueError:  # not from our keypoint_node; iknet_node logs such clouds
                return
            with self._lock:
                self.summary.add_keypoints(_stamp_ns(msg.header), hands)
        elif topic == '/hand/joint_rotations':
            stamp = _stamp_ns(msg.header)
            with self._lock:
                self.summary.add_rotations(stamp, _rotations_by_side(msg), (now - stamp) * 1e-9)
                self.last_rotations = time.monotonic()
        self.seen += 1


# --- parameters and the run -------------------------------------------------------------------

def load_parameters(path) -> dict:
    """{node name: [Parameter]} of the three nodes from a ROS 2 parameter YAML.

    The file is keyed like ``ros2 launch`` parameter files: ``node_name: ros__parameters: ...``
    (or ``/**`` for every node).
    """
    path = Path(path)
    if not path.is_file():
        raise CliError(f'parameter file not found: {path}')
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise CliError(f'{path} is not valid YAML: {error}') from error
    if not isinstance(content, dict):
        raise CliError(f'{path}: expected node names at the top level')
    out = {}
    for node, section in content.items():
        params = (section or {}).get('ros__parameters') if isinstance(section, dict) else None
        if not isinstance(params, dict):
            raise CliError(f'{path}: {node!r} has no ros__parameters mapping')
        out[node.strip('/')] = [Parameter(name, value=value) for name, value in params.items()]
    common = out.pop('**', [])  # '/**' applies to every node, before its own section
    return {name: common + out.get(name, []) for name in ('video_source', 'keypoint_node',
                                                          'iknet_node')}


class _Frames:
    """The source's frames held until the graph is connected, and at most `limit` of them.

    With `ready` (a predicate) each frame after the first also waits until `ready()` is true.
    """

    def __init__(self, frames, limit: int = None, ready=None):
        self.frames, self.limit, self.count, self.ready = frames, limit, 0, ready
        self.go = threading.Event()
        self.cancelled = False
        self.is_camera, self.source = frames.is_camera, frames.source

    def read(self):
        while not self.go.wait(0.1):
            pass
        while self.ready is not None and self.count and not self.ready() and not self.cancelled:
            time.sleep(0.0005)
        if self.cancelled or (self.limit is not None and self.count >= self.limit):
            return None
        self.count += 1
        return self.frames.read()

    def cancel(self):
        self.cancelled = True
        self.go.set()

    def close(self):
        self.frames.close()


def _wait_quiet(counters, quiet: float = 1.0, timeout: float = 10.0):
    """Wait until none of the counters changed for `quiet` seconds (the pipeline drained)."""
    last, since, deadline = None, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = tuple(c() for c in counters)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def _json_ready(summary: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in summary.items()}


def run_pipeline(video=None, camera=None, params=DEFAULT_PARAMS, record=None, max_frames=None,
                 progress=True, paced=False) -> dict:
    """Run the graph in this process until the video ends, `max_frames` or Ctrl-C; the summary.

    `paced` (for benchmarks): each frame is read from the video only once keypoint_node has
    started on the previous one, so the detector never waits for a frame and no frame is
    decoded just to be dropped; the video_source's own rate then only caps it.
    """
    from iknet_ros.ros.iknet_node import IKNetNode, use_one_torch_thread
    from iknet_ros.ros.keypoint_node import KeypointNode
    from iknet_ros.ros.video_source import VideoSource

    use_one_torch_thread()

    overrides = load_parameters(params)
    source_params = [p for p in overrides['video_source']
                     if p.name not in ('video', 'camera', 'wait_for_subscriber', 'loop')]
    source_params += [Parameter('video', value=str(video) if video is not None else ''),
                      Parameter('camera', value=-1 if camera is None else int(camera)),
                      Parameter('loop', value=False),
                      Parameter('wait_for_subscriber', value=True)]
    record = Path(record) if record is not None else None
    use_large_image_transport()  # the debug image to RViz or Foxglove in another process
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes, executor, thread, recorder, frames = [], None, None, None, None
    source = monitor = iknet = keypoint = None
    started, cpu_started, cpu_used = time.monotonic(), None, float('nan')
    try:
        try:  # open the video or camera first: a bad path fails before MediaPipe loads
            source = VideoSource(context=context, parameter_overrides=source_params)
        except (VideoSourceError, ValueError, ParameterException) as error:
            raise CliError(str(error)) from error
        nodes.append(source)
        frames = source.frames = _Frames(source.frames, max_frames, ready=(
            (lambda: keypoint is not None and keypoint.taken >= source.published)
            if paced else None))
        total = frames.frames.frame_count
        total = min(total, max_frames) if total and max_frames else (total or max_frames)
        if record is not None:
            record.mkdir(parents=True, exist_ok=True)
            recorder = McapRecorder(record / f'{record.resolve().name}_0.mcap')  # as rosbag2
        monitor = RunMonitor(recorder, listen=False, context=context)
        nodes.append(monitor)  # destroyed with the others; it only receives what is tapped
        try:
            iknet = IKNetNode(context=context, parameter_overrides=overrides['iknet_node'])
            nodes.append(iknet)
            keypoint = KeypointNode(context=context,
                                    parameter_overrides=overrides['keypoint_node'])
            keypoint.debug_image_tapped = recorder is not None
            nodes.append(keypoint)
        except (ValueError, OSError, ParameterException) as error:
            raise CliError(f'cannot start the nodes: {error}') from error
        # one thread spins every node: on two busy cores rclpy's MultiThreadedExecutor lost 50
        # more frames of 300 (its spin loop competes for the GIL); the detector has its own
        # worker thread, and the other callbacks take a few ms per frame
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            if node is not monitor:
                monitor.tap(node)
                executor.add_node(node)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        # hold the first frame until every subscriber along the chain is matched
        _wait_until(lambda: keypoint.keypoints_pub.get_subscription_count() >= 1
                    and source.image_pub.get_subscription_count() >= 1, 10.0)
        started, cpu_started = time.monotonic(), time.process_time()
        frames.go.set()
        with tqdm(total=total, unit='frame', disable=not progress) as bar:
            while not source.finished.is_set() and context.ok():
                time.sleep(0.1)
                bar.update(source.published - bar.n)
                bar.set_postfix(rotations=iknet.published, dropped=keypoint.dropped,
                                refresh=False)
            bar.update(source.published - bar.n)
        if context.ok():
            _wait_quiet([lambda: keypoint.processed, lambda: iknet.received,
                         lambda: monitor.seen])
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if cpu_started is not None:  # every thread of this process, MediaPipe's included
            cpu_used = time.process_time() - cpu_started
        if frames is not None:
            frames.cancel()
        stop_graph(executor, thread, nodes, context)
        if recorder is not None:
            recorder.close()
    if keypoint is None:  # interrupted while starting
        return {}
    seconds = (monitor.last_rotations or time.monotonic()) - started
    summary = monitor.summary.result(
        source.published, seconds, source_fps=frames.frames.fps if not frames.is_camera else None,
        frames_dropped=keypoint.dropped, frames_rejected=keypoint.rejected + iknet.rejected,
        iknet_update_ms_p50=iknet.update_ms_p50(),
        iknet_device=iknet.tracker.device if iknet.tracker else None,
        cpu_cores=cpu_used / seconds if seconds > 0 else float('nan'))
    summary = _json_ready(summary)
    if recorder is not None:
        summary['recorded_messages'] = dict(recorder.counts)
        (record / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary


def _wait_until(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


# --- CLI --------------------------------------------------------------------------------------

def add_arguments(parser):
    """Arguments of ``iknet-ros run``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--video', help='video file to track hands in')
    source.add_argument('--camera', type=int, help='camera index to capture from (e.g. 0)')
    parser.add_argument('--params', default=str(DEFAULT_PARAMS),
                        help='ROS 2 parameter YAML of the nodes (default: config/hand.yaml)')
    parser.add_argument('--record', metavar='DIR',
                        help='write /hand/* and /tf to DIR/DIR.mcap and DIR/summary.json')
    parser.add_argument('--max-frames', type=int, help='stop after this many frames')


def run(args) -> int:
    """Run the pipeline; print where the recording went and the headline numbers."""
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError('--max-frames must be >= 1')
    summary = run_pipeline(video=args.video, camera=args.camera, params=args.params,
                           record=args.record, max_frames=args.max_frames)
    fmt = {k: ('n/a' if v is None else f'{v:.2f}' if isinstance(v, float) else v)
           for k, v in summary.items()}
    print(f"{fmt['frames_in']} frames, {fmt['frames_with_keypoints']} with keypoints, "
          f"{fmt['frames_with_rotations']} with rotations at {fmt['fps']} fps; "
          f"bone std {fmt['skeleton_bone_std_mm']} mm, accel ratio {fmt['accel_ratio']}, "
          f"fidelity {fmt['fidelity_mm']} mm")
    if args.record:
        print(f'recorded to {Path(args.record) / "summary.json"} and its .mcap')
    return 0
