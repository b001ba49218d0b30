"""`iknet-ros demo`: the whole pipeline over real ROS topics, and pictures of what it did.

Source, unless one is named: the shared real video when it is there, else a synthetic source that
publishes keypoint clouds of generated hand motion straight to iknet_node, so a machine with no
camera and no data still gets a full run. Everything lands in one folder: the rosbag2 MCAP of
``/hand/*`` and ``/tf``, a PNG strip with the predicted skeleton drawn over the frames, the
attention map, a 3D skeleton view and ``summary.json``.
"""
import json
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, MultiDOFJointState, PointCloud2
from std_msgs.msg import Float32MultiArray, Header
from tqdm import tqdm

from iknet_ros.cli import CliError
from iknet_ros.detect.types import HandKeypoints
from iknet_ros.hand import skeleton as sk
from iknet_ros.ros.conversions import cloud_to_keypoints, jpeg_to_rgb, keypoints_to_cloud
from iknet_ros.ros.node_main import stop_graph

REAL_VIDEO = Path(__file__).resolve().parents[2].parent / 'shared' / 'data' / 'real' \
    / 'right_hand_720p.mp4'
SYNTHETIC_SIZE = (640, 480)   # pixels of the synthetic camera
SYNTHETIC_FX = 600.0
STRIP_FRAMES = 6
DEBUG_IMAGE = '/hand/debug_image/compressed'  # how --record keeps the debug image (JPEG)


# --- the synthetic source ---------------------------------------------------------------------

def synthetic_hands(frames: int, seed: int = 0):
    """Generated right-hand motion seen by a virtual camera aimed at it.

    Returns keypoints (F, 21, 3) metres, their pixels (F, 21, 2) and the camera's 3x3 matrix.
    """
    from iknet_ros.hand.motion import generate_motion
    from iknet_ros.hand.observation import observe

    motion = generate_motion(1, frames, seed)
    xyz = observe(motion.positions, 'realistic', seed).keypoints[0].numpy()   # (F, 21, 3)
    width, height = SYNTHETIC_SIZE
    centre = np.array([width / 2, height / 2]) - SYNTHETIC_FX * np.mean(
        xyz[..., :2] / xyz[..., 2:], axis=(0, 1))                              # principal point
    k = np.array([[SYNTHETIC_FX, 0, centre[0]], [0, SYNTHETIC_FX, centre[1]], [0, 0, 1]])
    return xyz.astype(np.float32), _project(xyz.reshape(-1, 3), k).reshape(
        xyz.shape[:-1] + (2,)).astype(np.float32), k


class SyntheticKeypointSource(Node):
    """Publishes `/hand/keypoints` clouds of generated motion at 30 Hz, like keypoint_node."""

    def __init__(self, frames: int, seed: int = 0, **kwargs):
        super().__init__('synthetic_keypoints', **kwargs)
        self.xyz, self.uv, self.camera_matrix = synthetic_hands(frames, seed)
        self.publisher = self.create_publisher(PointCloud2, '/hand/keypoints', 10)
        self.published = 0
        self.finished = threading.Event()
        self.go = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.go.wait()
        next_time = time.monotonic()
        for xyz, uv in zip(self.xyz, self.uv, strict=True):
            if self.finished.is_set():
                break
            header = Header(stamp=self.get_clock().now().to_msg(),
                            frame_id='camera_optical_frame')
            self.publisher.publish(keypoints_to_cloud(header, [HandKeypoints('right', xyz, uv,
                                                                              0.99)]))
            self.published += 1
            next_time += 1 / 30
            time.sleep(max(0.0, next_time - time.monotonic()))
        self.finished.set()

    def destroy_node(self):
        """Stop publishing."""
        self.finished.set()
        self.go.set()
        self._thread.join(timeout=2.0)
        return super().destroy_node()


def run_synthetic(out: Path, frames: int, progress=True) -> dict:
    """Synthetic clouds -> iknet_node -> recorder, in one process; the run summary."""
    from iknet_ros.ros.bringup import McapRecorder, RunMonitor
    from iknet_ros.ros.iknet_node import IKNetNode, use_one_torch_thread

    use_one_torch_thread()
    out.mkdir(parents=True, exist_ok=True)
    recorder = McapRecorder(out / f'{out.resolve().name}_0.mcap')
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes, thread = [], None
    executor = SingleThreadedExecutor(context=context)  # see bringup: fewer losses on busy cores
    try:
        monitor = RunMonitor(recorder, context=context)
        iknet = IKNetNode(context=context)
        source = SyntheticKeypointSource(frames, context=context)
        nodes = [monitor, iknet, source]
        for node in nodes:
            executor.add_node(node)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10.0
        while source.publisher.get_subscription_count() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        source.go.set()
        with tqdm(total=frames, unit='frame', disable=not progress) as bar:
            while not source.finished.wait(0.1):
                bar.update(source.published - bar.n)
            bar.update(source.published - bar.n)
        time.sleep(0.5)  # let the last answers arrive
        seconds = (monitor.last_rotations or time.monotonic()) - started
    finally:
        stop_graph(executor, thread, nodes, context)
        recorder.close()
    summary = monitor.summary.result(source.published, seconds,
                                     iknet_update_ms_p50=iknet.update_ms_p50())
    summary = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
               for k, v in summary.items()}
    summary['recorded_messages'] = dict(recorder.counts)
    return summary, source.camera_matrix


# --- reading the recording back ---------------------------------------------------------------

def read_bag(path: Path) -> dict:
    """{topic: [(stamp_ns, message)]} of the demo's MCAP (rclpy deserialisation)."""
    from mcap.reader import make_reader

    types = {'/hand/joint_rotations': MultiDOFJointState, '/hand/keypoints': PointCloud2,
             '/hand/attention': Float32MultiArray, DEBUG_IMAGE: CompressedImage}
    messages = {topic: [] for topic in types}
    with open(path, 'rb') as stream:
        for _, channel, message in make_reader(stream).iter_messages(topics=list(types)):
            msg = deserialize_message(message.data, types[channel.topic])
            stamp = getattr(msg, 'header', None)
            stamp_ns = stamp.stamp.sec * 10**9 + stamp.stamp.nanosec if stamp else \
                message.log_time
            messages[channel.topic].append((stamp_ns, msg))
    return messages


def _published_positions(msg: MultiDOFJointState) -> dict:
    """{side: (21, 3) camera-frame joint positions} of one joint-rotations message."""
    from iknet_ros.tracking.summary import joint_positions

    out = {}
    for side in ('left', 'right'):
        names = sk.side_joint_names(side)
        if names[0] not in msg.joint_names:
            continue
        start = list(msg.joint_names).index(names[0])
        transforms = msg.transforms[start:start + sk.NUM_JOINTS]
        quat = [[t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w] for t in transforms]
        offsets = [[t.translation.x, t.translation.y, t.translation.z] for t in transforms]
        out[side] = joint_positions(quat, offsets)
    return out


def _project(points: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixels with the 3x3 intrinsics `k`."""
    return (points[:, :2] / points[:, 2:]) * k[[0, 1], [0, 1]] + k[[0, 1], [2, 2]]


def draw_skeleton_2d(rgb: np.ndarray, uv: np.ndarray, thickness: int = 3) -> np.ndarray:
    """Draw a (21, 2) pixel skeleton, bones coloured per finger, onto an RGB image."""
    import cv2

    for parent, child in sk.BONES:
        color = tuple(int(255 * c) for c in sk.FINGER_COLORS[sk.FINGER_OF_JOINT[child]])
        cv2.line(rgb, tuple(np.round(uv[parent]).astype(int)),
                 tuple(np.round(uv[child]).astype(int)), color, thickness, cv2.LINE_AA)
    for point in np.round(uv).astype(int):
        cv2.circle(rgb, tuple(point), thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return rgb


def write_strip(bag: dict, out: Path, k: np.ndarray, size) -> Path:
    """PNG strip: frames with the predicted skeleton (projected) drawn over them."""
    from iknet_ros.plots import pyplot

    # frames placed in front of the camera (before camera_info arrives, points are hand-centred)
    rotations = {stamp: msg for stamp, msg in bag['/hand/joint_rotations'] if msg.joint_names
                 and all(p[:, 2].min() > 0.05 for p in _published_positions(msg).values())}
    images = {stamp: msg for stamp, msg in bag[DEBUG_IMAGE]}
    keypoints = {stamp: msg for stamp, msg in bag['/hand/keypoints']}
    stamps = sorted(s for s in rotations if s in images or not images)
    if not stamps:
        raise CliError('the run published no joint rotations to draw')
    pick = [stamps[i] for i in np.linspace(0, len(stamps) - 1, STRIP_FRAMES).astype(int)]
    plt = pyplot()
    cols = (len(pick) + 1) // 2
    fig, axes = plt.subplots(2, cols, figsize=(4.2 * cols, 2 * 4.2 * size[1] / size[0] + 1.0))
    for ax, stamp in zip(axes.flat, pick, strict=True):
        if images:
            rgb = jpeg_to_rgb(images[stamp])
        else:  # synthetic: the detections' pixels on a plain background
            rgb = np.full((size[1], size[0], 3), 40, np.uint8)
            for hand in cloud_to_keypoints(keypoints[stamp]) if stamp in keypoints else []:
                for u, v in np.round(hand.uv).astype(int):
                    if 2 <= u < size[0] - 2 and 2 <= v < size[1] - 2:
                        rgb[v - 2:v + 3, u - 2:u + 3] = 160
        for positions in _published_positions(rotations[stamp]).values():
            draw_skeleton_2d(rgb, _project(positions, k), thickness=max(2, size[0] // 320))
        ax.imshow(rgb)
        ax.set_axis_off()
        ax.set_title(f't = {(stamp - pick[0]) * 1e-9:.1f} s', fontsize=9)
    fig.suptitle('published skeleton (thick: joint rotations + held bone lengths) over the '
                 'frames' + (' and MediaPipe landmarks (thin, debug image)' if images else
                             ' and the detections (grey)'), fontsize=10)
    fig.tight_layout()
    path = out / 'annotated_frames.png'
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_attention(bag: dict, out: Path) -> Path:
    """Attention of the newest frame over the window, over the whole run, per layer."""
    from iknet_ros.plots import pyplot

    rows = []
    for _, msg in bag['/hand/attention']:
        dims = msg.layout.dim
        if len(dims) == 3 and dims[0].size:
            rows.append(np.asarray(msg.data, np.float32).reshape(
                dims[0].size, dims[1].size, dims[2].size)[0])     # first hand: (layers, T)
    if not rows:
        raise CliError('the run published no attention to draw')
    attention = np.stack(rows)                                     # (frames, layers, T)
    layers, window = attention.shape[1:]
    plt = pyplot()
    fig, axes = plt.subplots(1, layers + 1, figsize=(4 * (layers + 1), 3.6))
    for layer in range(layers):
        ax = axes[layer]
        image = ax.imshow(attention[:, layer].T, aspect='auto', cmap='viridis', origin='lower',
                          interpolation='nearest')
        ax.set_yticks(range(window), [str(window - 1 - i) for i in range(window)])
        ax.set_xlabel('message (time)')
        ax.set_ylabel('frames back from the newest')
        ax.set_title(f'layer {layer + 1}: newest frame over the window', fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    ax = axes[layers]
    for layer in range(layers):
        ax.plot(range(window), attention[:, layer].mean(0)[::-1], marker='o',
                label=f'layer {layer + 1}')
    ax.set_xlabel('frames back from the newest')
    ax.set_ylabel('mean attention over the run')
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / 'attention.png'
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_skeleton_view(bag: dict, out: Path) -> Path:
    """3D views of published skeletons against the keypoints they came from."""
    from matplotlib.ticker import MaxNLocator

    from iknet_ros.plots import CAMERA_VIEW, draw_skeleton_3d, pyplot, set_axes_equal

    clouds = {stamp: msg for stamp, msg in bag['/hand/keypoints']}
    pairs = [(stamp, msg) for stamp, msg in bag['/hand/joint_rotations']
             if msg.joint_names and stamp in clouds]
    if not pairs:
        raise CliError('the run published no joint rotations to draw')
    pick = [pairs[i] for i in np.linspace(0, len(pairs) - 1, 4).astype(int)]
    plt = pyplot()
    fig = plt.figure(figsize=(13, 3.6))
    for col, (stamp, msg) in enumerate(pick):
        ax = fig.add_subplot(1, len(pick), col + 1, projection='3d')
        hands = {h.side: h.xyz for h in cloud_to_keypoints(clouds[stamp])}
        drawn = []
        for side, positions in _published_positions(msg).items():
            drawn.append(draw_skeleton_3d(ax, positions, view=CAMERA_VIEW, equal=False))
            if side in hands:
                drawn.append(draw_skeleton_3d(ax, hands[side], view=CAMERA_VIEW, color='0.3',
                                              linestyle='--', linewidth=1, joint_size=4,
                                              alpha=0.7, equal=False))
        set_axes_equal(ax, np.concatenate(drawn))
        ax.view_init(elev=10, azim=-90)
        ax.set_yticklabels([])  # depth, seen end-on: its labels would overlap
        for axis in (ax.xaxis, ax.zaxis):
            axis.set_major_locator(MaxNLocator(4))
        ax.set_title(f't = {(stamp - pick[0][0]) * 1e-9:.1f} s (axes in m)', fontsize=9)
    fig.suptitle('published skeleton (coloured) vs the keypoints it came from (dashed), '
                 'camera view', fontsize=10)
    fig.tight_layout()
    path = out / 'skeleton_3d.png'
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --- the command ------------------------------------------------------------------------------

def choose_source(args):
    """('video', path) | ('camera', index) | ('synthetic', None), and a line saying why."""
    if args.synthetic:
        return ('synthetic', None), 'synthetic keypoints (--synthetic)'
    if args.camera is not None:
        return ('camera', args.camera), f'camera {args.camera}'
    if args.video is not None:
        if not Path(args.video).is_file():
            raise CliError(f'video not found or not a file: {args.video}')
        return ('video', args.video), f'video {args.video}'
    if REAL_VIDEO.is_file():
        return ('video', str(REAL_VIDEO)), f'the shared real video {REAL_VIDEO}'
    return ('synthetic', None), (f'synthetic keypoints (no camera or video given, and '
                                 f'{REAL_VIDEO} is absent)')


def demo(args) -> dict:
    """Run the chosen source through the pipeline and write every output into args.out."""
    from iknet_ros.ros.bringup import DEFAULT_PARAMS, load_parameters, run_pipeline
    from iknet_ros.ros.video_source import pinhole_camera_info

    (kind, value), why = choose_source(args)
    print(f'demo source: {why}')
    out = Path(args.out)
    if kind == 'synthetic':
        summary, k = run_synthetic(out, args.max_frames or 300)
    else:
        summary = run_pipeline(video=value if kind == 'video' else None,
                               camera=value if kind == 'camera' else None,
                               record=out, max_frames=args.max_frames)
    bag = read_bag(next(out.glob('*.mcap')))
    if kind == 'synthetic':
        size = SYNTHETIC_SIZE
    else:  # the pinhole guess video_source published, which placed the hand in the camera frame
        height, width = jpeg_to_rgb(bag[DEBUG_IMAGE][0][1]).shape[:2]
        source = {p.name: p.value for p in load_parameters(DEFAULT_PARAMS)['video_source']}
        fx = pinhole_camera_info(width, height, source.get('fx', 0.0),
                                 source.get('fov_deg', 65.0)).k[0]
        size = (width, height)
        k = np.array([[fx, 0, size[0] / 2], [0, fx, size[1] / 2], [0, 0, 1]])
    summary['source'] = why
    pictures = {'annotated_frames': write_strip(bag, out, k, size),
                'attention': write_attention(bag, out),
                'skeleton_3d': write_skeleton_view(bag, out)}
    summary['outputs'] = {name: str(path) for name, path in pictures.items()}
    (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary


def add_arguments(parser):
    """Arguments of `iknet-ros demo`."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--video', help='video file (default: the shared real video if present)')
    source.add_argument('--camera', type=int, help='camera index')
    source.add_argument('--synthetic', action='store_true',
                        help='generated keypoints straight into iknet_node (no camera, no data)')
    parser.add_argument('--out', default='demo_output', help='output folder (default %(default)s)')
    parser.add_argument('--max-frames', type=int,
                        help='stop after this many frames (synthetic default: 300)')


def run(args) -> int:
    """Entry point of `iknet-ros demo`."""
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError('--max-frames must be >= 1')
    summary = demo(args)
    out = Path(args.out)
    keys = ('frames_in', 'frames_with_keypoints', 'frames_with_rotations', 'fps',
            'skeleton_bone_std_mm', 'accel_ratio', 'fidelity_mm', 'latency_ms_p50',
            'latency_ms_p95', 'cpu_cores')
    print('summary: ' + ', '.join(
        f'{k} {summary[k]:.2f}' if isinstance(summary.get(k), float) else f'{k} {summary.get(k)}'
        for k in keys))
    bag = next(out.glob('*.mcap'))
    print(f'wrote to {out}/:\n  {bag.name} (rosbag2 MCAP of /hand/* and /tf)')
    for path in summary['outputs'].values():
        print(f'  {Path(path).name}')
    print('  summary.json\n'
          f'look at it: open the PNGs; replay with a ROS 2 install: ros2 bag play {bag} '
          '(then rviz2 -d config/hand.rviz), or open the .mcap in Foxglove Studio')
    return 0
