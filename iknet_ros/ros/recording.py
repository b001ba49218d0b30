"""What a run publishes, recorded as a rosbag2 bag (MCAP storage) with rosbags, and read back.

rosbags lays the bag folder out as rosbag2 does (``DIR/DIR.mcap`` and ``metadata.yaml``) and
stores each topic's message definition from its ROS 2 Jazzy type store, so ``ros2 bag play DIR``
and Foxglove open it without a ROS install on the recording machine.
"""
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.serialization import serialize_message
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import Image

from iknet_ros.ros.conversions import cloud_to_keypoints, image_to_jpeg
from iknet_ros.ros.messages import attention_by_side, rotations_by_side, stamp_ns
from iknet_ros.tracking.summary import joint_positions

TYPESTORE = Stores.ROS2_JAZZY
BAG_VERSION = 8  # rosbag2's metadata version of Iron; Jazzy and newer read it too


def type_name(msg) -> str:
    """'pkg/msg/Type' of a generated rclpy message."""
    return f"{type(msg).__module__.split('.')[0]}/msg/{type(msg).__name__}"


class BagRecorder:
    """Writes messages to a new rosbag2 bag folder from any thread.

    Serialisation, JPEG encoding and disk writes happen on a thread of their own, so the nodes'
    callbacks are not held up. Raw images are recorded as JPEG on ``<topic>/compressed``, as
    ``ros2 bag record`` of image_transport's compressed transport would: a raw 720p frame is
    2.7 MB, a JPEG about 0.1 MB.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        if self.folder.exists():
            raise FileExistsError(f'bag folder already exists: {self.folder}')
        self._typestore = get_typestore(TYPESTORE)
        self._writer = Writer(self.folder, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {}
        self.counts = {}  # topic -> messages written (complete after close)
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name='bag_writer', daemon=True)
        self._thread.start()

    def write(self, topic: str, msg, log_time_ns: int):
        """Queue one message of `topic` for the bag."""
        if isinstance(msg, Image):
            topic = f'{topic}/compressed'
        self._queue.put((topic, msg, log_time_ns))

    def _drain(self):
        while (item := self._queue.get()) is not None:
            topic, msg, log_time = item
            if isinstance(msg, Image):
                msg = image_to_jpeg(msg)  # OpenCV encodes without holding the GIL
            if topic not in self._connections:
                self._connections[topic] = self._writer.add_connection(
                    topic, type_name(msg), typestore=self._typestore)
            # CDR with its encapsulation header, as rosbag2 stores it
            self._writer.write(self._connections[topic], log_time, serialize_message(msg))
            self.counts[topic] = self.counts.get(topic, 0) + 1

    def close(self):
        """Write what is queued and finish the bag (its index and metadata.yaml)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            self._writer.close()


def read_bag(folder, topics=None) -> dict:
    """{topic: [(log_time_ns, message)]} of a bag folder, messages as rosbags reads them.

    The messages have the ROS field names (``msg.header.stamp.sec``, ``msg.data``, ...), so the
    readers of ``ros.messages`` and ``ros.conversions`` take them as they take rclpy messages.
    """
    out = {}
    with AnyReader([Path(folder)], default_typestore=get_typestore(TYPESTORE)) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        for connection, log_time, raw in reader.messages(connections=connections):
            out.setdefault(connection.topic, []).append(
                (log_time, _deserialize(reader.typestore, raw, connection.msgtype)))
    return out


def _deserialize(typestore, raw: bytes, msgtype: str):
    """A CDR message, with the bytes that rclpy's serializer leaves after some messages.

    rclpy (rmw_fastrtps) reports a JointState with empty velocity and effort 8 bytes longer than
    its content; rosbags refuses the surplus, though the message before it is whole.
    """
    try:
        return typestore.deserialize_cdr(raw, msgtype)
    except SerdeError as error:
        if 'size mismatch' not in str(error):
            raise
        msgdef = typestore.get_msgdef(msgtype)
        read = msgdef.deserialize_cdr_le if raw[1] else msgdef.deserialize_cdr_be
        return read(raw[4:], 0, msgdef.cls, typestore)[0]


def bag_info(folder) -> dict:
    """What ``ros2 bag info`` shows: storage, duration, and per topic its type and count."""
    with AnyReader([Path(folder)], default_typestore=get_typestore(TYPESTORE)) as reader:
        return {'path': str(folder), 'duration_s': reader.duration * 1e-9,
                'messages': reader.message_count,
                'topics': {c.topic: {'type': c.msgtype, 'count': c.msgcount}
                           for c in reader.connections}}


@dataclass
class RunRecord:
    """A recorded run as plain data, keyed by image stamp (ns), for the demo's pictures."""

    skeletons: dict = field(default_factory=dict)  # stamp -> {side: (21, 3) published joints}
    keypoints: dict = field(default_factory=dict)  # stamp -> [HandKeypoints] fed to iknet_node
    attention: dict = field(default_factory=dict)  # stamp -> {side: (layers, T)}
    images: dict = field(default_factory=dict)     # stamp -> JPEG bytes of the debug image


def read_run(folder) -> RunRecord:
    """The published skeletons, keypoints, attention and debug images of a recorded run."""
    bag = read_bag(folder, topics={'/hand/joint_rotations', '/hand/keypoints',
                                   '/hand/attention', '/hand/debug_image/compressed'})
    record = RunRecord()
    for _, msg in bag.get('/hand/joint_rotations', []):
        if msg.joint_names:
            record.skeletons[stamp_ns(msg.header)] = {
                side: joint_positions(quat, offsets)
                for side, (quat, offsets) in rotations_by_side(msg).items()}
    for _, msg in bag.get('/hand/keypoints', []):
        record.keypoints[stamp_ns(msg.header)] = cloud_to_keypoints(msg)
    for log_time, msg in bag.get('/hand/attention', []):  # no header: in order of publishing
        if (hands := attention_by_side(msg)):
            record.attention[log_time] = hands
    for _, msg in bag.get('/hand/debug_image/compressed', []):
        record.images[stamp_ns(msg.header)] = bytes(msg.data)
    return record
