"""The launch file's graph in one process, for machines without ``ros2 launch``.

video_source -> keypoint_node -> iknet_node (or a synthetic keypoint source -> iknet_node) run in
one `InProcessGraph` with the parameters of the same YAML file (each node's ``ros__parameters``).
A `RunMonitor` observes what the nodes publish: the run's statistics (``tracking.summary``) and,
with a recorder, a rosbag2 bag of every ``/hand/*`` topic and ``/tf``. Callers may hand in more
observers (e.g. ``viz.viewer.RunViewer``); `Observers` lets the nodes see them as one.
"""
import math
import threading
import time
from pathlib import Path

import yaml
from rclpy.parameter import Parameter
from tqdm import tqdm

from iknet_ros.detect.video import VideoFrames
from iknet_ros.hand.keypoints import best_per_side
from iknet_ros.paths import default_params
from iknet_ros.ros.conversions import cloud_to_keypoints
from iknet_ros.ros.graph import InProcessGraph, wait_for
from iknet_ros.ros.messages import rotations_by_side, stamp_ns
from iknet_ros.ros.node_main import use_large_image_transport
from iknet_ros.ros.recording import BagRecorder
from iknet_ros.tracking.summary import RunSummary

KEYPOINTS, ROTATIONS = '/hand/keypoints', '/hand/joint_rotations'
# what a recording keeps: every /hand/* topic and /tf
RECORDED = frozenset({KEYPOINTS, ROTATIONS, '/hand/skeleton', '/hand/attention',
                      '/hand/joint_states', '/hand/debug_image', '/tf'})
NODE_NAMES = ('video_source', 'keypoint_node', 'iknet_node')


class RunMonitor:
    """An observer of the nodes (`node_main.publish`): the run's statistics, and the recording.

    Without a recorder it watches only the keypoints and the rotations, so keypoint_node does not
    draw debug images for nobody.
    """

    def __init__(self, recorder: BagRecorder = None):
        self.recorder = recorder
        self.topics = RECORDED if recorder is not None else frozenset({KEYPOINTS, ROTATIONS})
        self.summary = RunSummary()
        self.seen = 0
        self.last_rotations = None  # time.monotonic() of the newest joint rotations
        self._lock = threading.Lock()

    def __call__(self, topic: str, msg):
        """Account for one published message (any thread)."""
        now = time.time_ns()
        if self.recorder is not None:
            self.recorder.write(topic, msg, now)
        with self._lock:
            if topic == KEYPOINTS:
                hands = best_per_side(cloud_to_keypoints(msg))
                self.summary.add_keypoints(stamp_ns(msg.header),
                                           {side: h.xyz for side, h in hands.items()})
            elif topic == ROTATIONS:
                stamp = stamp_ns(msg.header)
                self.summary.add_rotations(stamp, rotations_by_side(msg), (now - stamp) * 1e-9)
                self.last_rotations = time.monotonic()
            self.seen += 1


class Observers:
    """Several observers handed to the nodes as one: each message goes to those watching its topic.

    The nodes ask an observer only for its ``topics`` and call it; this keeps them unaware of
    how many there are.
    """

    def __init__(self, *observers):
        self.observers = observers
        self.topics = frozenset().union(*(observer.topics for observer in observers))

    def __call__(self, topic: str, msg):
        """Hand one published message to each observer that watches its topic."""
        for observer in self.observers:
            if topic in observer.topics:
                observer(topic, msg)


def load_parameters(path) -> dict:
    """{node name: [Parameter]} of the graph's nodes from a ROS 2 parameter YAML.

    The file is keyed like ``ros2 launch`` parameter files: ``node_name: ros__parameters: ...``
    or ``/**/node_name`` (that node in any namespace, as config/hand.yaml has it), and ``/**``
    for every node, applied before the node's own section.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'parameter file not found: {path}')
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f'{path} is not valid YAML: {error}') from error
    if not isinstance(content, dict):
        raise ValueError(f'{path}: expected node names at the top level')
    out = {}
    for node, section in content.items():
        params = (section or {}).get('ros__parameters') if isinstance(section, dict) else None
        if not isinstance(params, dict):
            raise ValueError(f'{path}: {node!r} has no ros__parameters mapping')
        name = node.strip('/')
        name = name[3:] if name.startswith('**/') else name
        out.setdefault(name, []).extend(Parameter(key, value=value)
                                        for key, value in params.items())
    common = out.pop('**', [])
    return {name: common + out.get(name, []) for name in NODE_NAMES}


class PacedFrames:
    """A frame source for video_source that ends after `limit` frames and can be paced.

    With `ready` (a predicate) each frame after the first is read only once `ready()` holds
    (for benchmarks: once keypoint_node has started on the previous frame), so the detector never
    waits for a frame and no frame is decoded only to be dropped.
    """

    def __init__(self, frames, limit: int = None, ready=None):
        self.frames, self.limit, self.ready, self.count = frames, limit, ready, 0
        self.size, self.fps, self.is_camera, self.source = \
            frames.size, frames.fps, frames.is_camera, frames.source
        total = frames.frame_count
        self.frame_count = min(total, limit) if total and limit else (total or limit)
        self.cancelled = False

    def read(self):
        """The next frame, or None at the end, after `limit` frames or once cancelled."""
        if self.ready is not None and self.count:
            wait_for(lambda: self.cancelled or self.ready(), timeout=10.0, interval=0.001)
        if self.cancelled or (self.limit is not None and self.count >= self.limit):
            return None
        self.count += 1
        return self.frames.read()

    def cancel(self):
        """End the source at the next read."""
        self.cancelled = True

    def close(self):
        """Release the video or camera."""
        self.frames.close()


def _wait_quiet(counters, quiet: float = 1.0, timeout: float = 10.0):
    """Wait until none of the counters changed for `quiet` seconds (the graph drained)."""
    state = {'last': None, 'since': time.monotonic()}

    def settled():
        now = tuple(c() for c in counters)
        if now != state['last']:
            state['last'], state['since'] = now, time.monotonic()
        return time.monotonic() - state['since'] >= quiet
    wait_for(settled, timeout, interval=0.05)


def json_ready(summary: dict) -> dict:
    """The summary with NaN and infinities as None (JSON has no NaN)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in summary.items()}


def run_pipeline(video=None, camera=None, params=None, record=None, max_frames=None,
                 progress=True, paced=False, observers=()) -> dict:
    """Run the graph on a video or camera until its end, `max_frames` or Ctrl-C; the summary.

    `record`: a new bag folder for every /hand/* topic and /tf. `paced`: see `PacedFrames`.
    `observers`: more observers of what the nodes publish, besides the run's `RunMonitor`.
    """
    from iknet_ros.ros.iknet_node import IKNetNode, use_one_torch_thread
    from iknet_ros.ros.keypoint_node import KeypointNode
    from iknet_ros.ros.video_source import VideoSource

    use_one_torch_thread()
    use_large_image_transport()  # the debug image to RViz or Foxglove in another process
    overrides = load_parameters(params or default_params())
    # a file plays at its rate, but each frame waits for keypoint_node's answer to the one
    # before (as the launch file has it): a busy machine slows the video down, drops no frame
    pace = '' if paced or camera is not None else KEYPOINTS
    source_params = [p for p in overrides['video_source']
                     if p.name not in ('wait_for_subscriber', 'pace_topic')]
    source_params += [Parameter('wait_for_subscriber', value=True),
                      Parameter('pace_topic', value=pace)]
    # video_source's camera_info is a pinhole guess
    keypoint_params = overrides['keypoint_node'] + [Parameter('intrinsics_guessed', value=True)]
    # open the video or camera first: a bad path fails before MediaPipe and torch load
    video_frames = VideoFrames(video if video is not None else camera)
    recorder = monitor = keypoint = source = frames = None
    started, cpu_started, cpu_used = time.monotonic(), None, float('nan')
    try:
        recorder = BagRecorder(record) if record is not None else None
        monitor = RunMonitor(recorder)
        observer = Observers(monitor, *observers) if observers else monitor
        with InProcessGraph() as graph:
            iknet = graph.add(IKNetNode(observer=observer, context=graph.context,
                                        parameter_overrides=overrides['iknet_node']))
            keypoint = graph.add(KeypointNode(observer=observer, context=graph.context,
                                              parameter_overrides=keypoint_params))
            graph.connected(keypoint.keypoints_pub)
            frames = PacedFrames(video_frames, max_frames, ready=(
                (lambda: source is not None and keypoint.taken >= source.published) if paced
                else None))
            started, cpu_started = time.monotonic(), time.process_time()
            # it holds its first frame until keypoint_node subscribes
            source = graph.add(VideoSource(frames=frames, context=graph.context,
                                           parameter_overrides=source_params))
            with tqdm(total=frames.frame_count, unit='frame', disable=not progress) as bar:
                while not source.finished.wait(0.1) and graph.ok():
                    bar.update(source.published - bar.n)
                    bar.set_postfix(rotations=iknet.published, dropped=keypoint.dropped,
                                    refresh=False)
                bar.update(source.published - bar.n)
            if graph.ok():
                _wait_quiet([lambda: keypoint.processed, lambda: iknet.received,
                             lambda: monitor.seen])
            cpu_used = time.process_time() - cpu_started  # every thread, MediaPipe's included
            frames.cancel()
    except KeyboardInterrupt:
        if frames is not None:
            frames.cancel()
    finally:
        video_frames.close()
        if recorder is not None:
            recorder.close()
    if source is None:  # interrupted while starting
        return {}
    seconds = (monitor.last_rotations or time.monotonic()) - started
    summary = json_ready(monitor.summary.result(
        source.published, seconds, source_fps=None if video_frames.is_camera else
        video_frames.fps, frames_dropped=keypoint.dropped,
        frames_rejected=keypoint.rejected + iknet.rejected,
        iknet_update_ms_p50=iknet.update_ms_p50(),
        iknet_device=iknet.tracker.device,
        cpu_cores=cpu_used / seconds if seconds > 0 else float('nan')))
    if recorder is not None:
        summary['recorded_messages'] = dict(recorder.counts)
    return summary


def run_synthetic(frames: int, record=None, progress=True, observers=()):
    """Synthetic keypoint clouds -> iknet_node in one graph; (summary, the camera's 3x3 matrix).

    `observers`: as for `run_pipeline`.
    """
    from iknet_ros.ros.iknet_node import IKNetNode, use_one_torch_thread
    from iknet_ros.ros.synthetic_source import SyntheticKeypointSource

    use_one_torch_thread()
    recorder = BagRecorder(record) if record is not None else None
    monitor = RunMonitor(recorder)
    observer = Observers(monitor, *observers) if observers else monitor
    try:
        with InProcessGraph() as graph:
            iknet = graph.add(IKNetNode(observer=observer, context=graph.context))
            source = graph.add(SyntheticKeypointSource(frames, observer=observer,
                                                       context=graph.context))
            graph.connected(source.publisher)
            started = time.monotonic()
            source.start()
            with tqdm(total=frames, unit='frame', disable=not progress) as bar:
                while not source.finished.wait(0.1) and graph.ok():
                    bar.update(source.published - bar.n)
                bar.update(source.published - bar.n)
            _wait_quiet([lambda: iknet.received, lambda: monitor.seen], quiet=0.5)
            seconds = (monitor.last_rotations or time.monotonic()) - started
    finally:
        if recorder is not None:
            recorder.close()
    summary = json_ready(monitor.summary.result(source.published, seconds,
                                                iknet_update_ms_p50=iknet.update_ms_p50()))
    if recorder is not None:
        summary['recorded_messages'] = dict(recorder.counts)
    return summary, source.camera_matrix
