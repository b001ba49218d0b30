"""A live view of a run in Rerun's viewer, and a recording of the same streams (.rrd) to open later.

`RunViewer` is an observer of the nodes, like `ros.pipeline.RunMonitor` (see
``node_main.publish``): the pipeline hands it what the nodes publish and it shows, on the image's
timeline, the debug image (MediaPipe's landmarks), the published skeleton beside MediaPipe's
keypoints in the camera frame, joint angles, jitter, latency and attention. The nodes never
import it; a run without it pays nothing. Rerun bundles a native and a web viewer and writes
recordings that both open, so watching needs no ROS install.
"""
import atexit
import ctypes
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from urllib.parse import quote

import numpy as np
import rerun as rr
import rerun.blueprint as rrb
import rerun_cli

from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import best_per_side
from iknet_ros.ros.conversions import cloud_to_keypoints, image_to_jpeg
from iknet_ros.ros.messages import attention_by_side, rotations_by_side, stamp_ns
from iknet_ros.tracking.summary import joint_positions

APPLICATION = 'iknet_ros'
TIMELINE = 'image_stamp'  # every entity is logged at the stamp of the image it came from
DEBUG_IMAGE, KEYPOINTS, ROTATIONS, ANGLES, ATTENTION = (
    '/hand/debug_image', '/hand/keypoints', '/hand/joint_rotations', '/hand/joint_states',
    '/hand/attention')
WEB_PORT, GRPC_PORT = 9090, 9876  # Rerun's own defaults
# the flexion shown per finger: its first and second joint (the thumb's MCP and IP)
FLEXION = {'mcp': [f'{f}_mcp_flexion' for f in sk.FINGERS],
           'pip': ['thumb_ip_flexion'] + [f'{f}_pip_flexion' for f in sk.FINGERS[1:]]}
FINGER_RGB = [tuple(int(255 * c) for c in color) for color in sk.FINGER_COLORS]
BONE_RGB = [tuple(int(255 * c) for c in sk.joint_color(child)) for _, child in sk.BONES]
JOINT_RGB = [tuple(int(255 * c) for c in sk.joint_color(j)) for j in range(sk.NUM_JOINTS)]
KEYPOINT_RGB = (150, 150, 150)
LAYER_RGB = [(90, 170, 230), (240, 170, 60), (120, 200, 120), (220, 100, 160)]  # attention
JPEG_QUALITY = 75  # of the debug image in the viewer and the recording
BONE_INDEX = np.array(sk.BONES)  # (20, 2) parent, child
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def blueprint() -> rrb.Blueprint:
    """The layout: image and 3D skeleton on top, the time series and attention below.

    The time series show the whole run: a view's ``time_ranges`` (e.g. the last seconds) makes
    rerun-sdk 0.23.1 write blueprints its viewer cannot read.
    """
    return rrb.Blueprint(
        rrb.Vertical(
            rrb.Horizontal(
                rrb.Spatial2DView(name='debug image: MediaPipe landmarks', origin='camera'),
                rrb.Spatial3DView(name='published skeleton (colour), MediaPipe keypoints '
                                       '(grey), camera frame (m)', origin='world')),
            rrb.Horizontal(
                rrb.TimeSeriesView(name='MCP flexion (deg)', origin='series/flexion_mcp'),
                rrb.TimeSeriesView(name='PIP flexion, thumb IP (deg)',
                                   origin='series/flexion_pip'),
                rrb.TimeSeriesView(name='jitter: joint acceleration (mm/frame²)',
                                   origin='series/jitter'),
                rrb.TimeSeriesView(name='latency, image to rotations (ms)',
                                   origin='series/latency_ms'),
                rrb.BarChartView(name='attention of the newest frame over the window '
                                      '(right = newest)', origin='attention')),
            row_shares=[3, 2]),
        rrb.BlueprintPanel(state='collapsed'), rrb.SelectionPanel(state='collapsed'),
        rrb.TimePanel(state='collapsed'))


def _start_web_server(web_port: int, grpc_port: int) -> subprocess.Popen:
    """Start Rerun's web viewer and the gRPC server it reads from, on this machine only.

    A process of its own (the ``rerun`` executable of rerun-sdk), not ``rr.serve_grpc``: in
    rerun-sdk 0.23.1 the in-process server keeps a CPU core busy even while idle.
    """
    for port in (grpc_port, web_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(('127.0.0.1', port))
            except OSError:
                raise OSError(f'the viewer cannot listen on port {port}: it is in use '
                              '(another viewer still open?)') from None
    executable = Path(rerun_cli.__file__).with_name('rerun')
    server = subprocess.Popen(
        [str(executable), '--serve-web', '--bind', '127.0.0.1', '--port', str(grpc_port),
         '--web-viewer-port', str(web_port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # the Ctrl-C that ends a run leaves the run on show
        preexec_fn=_end_with_parent)
    atexit.register(server.terminate)
    deadline = time.monotonic() + 30.0
    while not all(_accepts(port) for port in (grpc_port, web_port)):
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise OSError(f'the Rerun web viewer server did not start ({executable})')
        time.sleep(0.1)
    return server


def _end_with_parent():
    """In the server's process before it starts: be sent SIGTERM when this process ends.

    Linux's ``PR_SET_PDEATHSIG``, so that no server outlives a run killed without its exit
    handlers (a closed terminal's SIGHUP); elsewhere the exit handler alone stops it.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _accepts(port: int) -> bool:
    """Whether something on this machine accepts connections on `port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(('127.0.0.1', port)) == 0


def _acceleration_mm(history) -> float:
    """Mean joint acceleration (mm/frame²) of three wrist-aligned (21, 3) frames, or None.

    None unless the frames are consecutive: a frame missing between them (dropped by a busy
    detector, or no hand) would read as a jump.
    """
    if len(history) < 3:
        return None
    (t0, x0), (t1, x1), (t2, x2) = history
    if max(t1 - t0, t2 - t1) > 1.5 * min(t1 - t0, t2 - t1):
        return None
    return float(np.linalg.norm(x2 - 2.0 * x1 + x0, axis=-1).mean() * 1000.0)


class RunViewer:
    """Shows what the nodes publish in Rerun's viewer and/or writes it to a recording (.rrd).

    `recording`: a .rrd file to write. `serve`: 'web' (Rerun's web viewer and the server it reads
    from, on this machine, at `url`), 'native' (Rerun's desktop viewer) or None. Messages are only
    queued in the nodes' threads; conversion and logging happen on a thread of its own. Call
    `flush()` when the run ends, `close()` when done looking (or use it as a context manager).
    """

    def __init__(self, recording=None, serve: str = None, web_port: int = WEB_PORT,
                 grpc_port: int = GRPC_PORT):
        if serve not in (None, 'web', 'native'):
            raise ValueError(f"viewer must be 'web' or 'native', not {serve!r}")
        self.topics = frozenset({DEBUG_IMAGE, KEYPOINTS, ROTATIONS, ANGLES, ATTENTION})
        self.url = None
        self.logged = 0  # messages logged so far
        recording_id = str(uuid.uuid4())  # one recording, whichever sinks show it
        self._streams, self._server = [], None
        if serve == 'web':
            self._server = _start_web_server(web_port, grpc_port)
            stream = rr.RecordingStream(APPLICATION, recording_id=recording_id)
            grpc_url = f'rerun+http://127.0.0.1:{grpc_port}/proxy'
            stream.connect_grpc(grpc_url)
            self.url = f'http://127.0.0.1:{web_port}/?url={quote(grpc_url, safe="")}'
            self._streams.append(stream)
        elif serve == 'native':  # joins a desktop viewer already listening on grpc_port
            stream = rr.RecordingStream(APPLICATION, recording_id=recording_id)
            stream.spawn(port=grpc_port)
            self._streams.append(stream)
        if recording is not None:
            Path(recording).parent.mkdir(parents=True, exist_ok=True)
            stream = rr.RecordingStream(APPLICATION, recording_id=recording_id)
            stream.save(recording)
            self._streams.append(stream)
        layout = blueprint()
        for stream in self._streams:
            stream.send_blueprint(layout)
        self._log('world', rr.ViewCoordinates.RDF, static=True)  # the camera's optical frame
        self._styled = set()  # series whose names and colours were sent
        self._history = {}  # (kind, side) -> the last three (stamp, wrist-aligned joints)
        self._sides = {}  # entity prefix -> sides it showed in its last message
        self._rotations_stamp = None  # attention has no header: it follows its rotations
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name='run_viewer', daemon=True)
        self._thread.start()

    def __call__(self, topic: str, msg):
        """Queue one published message (any thread)."""
        self._queue.put((topic, msg, time.time_ns()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def flush(self):
        """Log what is queued, send it to the viewer and finish the recording (the run ended)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            for stream in self._streams:
                stream.flush(blocking=True)
                stream.disconnect()

    def close(self):
        """Flush, and stop the web viewer's server (a page already open keeps what it got)."""
        self.flush()
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=10)
            self._server = None

    def keep_serving(self):
        """Keep the web viewer's server up until Ctrl-C: it holds the run for late browsers.

        Call it from the main thread: Ctrl-C is Python's again meanwhile (rclpy's handler, left
        from the run, only shuts its contexts down).
        """
        print(f'viewer: still serving the run at {self.url} (Ctrl-C to stop)', flush=True)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while self._server is not None and self._server.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGINT, previous)

    def _drain(self):
        handlers = {DEBUG_IMAGE: self._image, KEYPOINTS: self._keypoints,
                    ROTATIONS: self._rotations, ANGLES: self._angles, ATTENTION: self._attention}
        while (item := self._queue.get()) is not None:
            topic, msg, received_ns = item
            try:
                handlers[topic](msg, received_ns)
            except Exception as error:  # a message the viewer cannot show must not stop it
                print(f'viewer: cannot show a {topic} message: {error!r}', file=sys.stderr)
            self.logged += 1

    def _log(self, path: str, entity, static: bool = False):
        for stream in self._streams:
            stream.log(path, entity, static=static)

    def _at(self, stamp: int):
        for stream in self._streams:
            stream.set_time(TIMELINE, timestamp=np.datetime64(stamp, 'ns'))

    def _clear_lost(self, prefix: str, sides):
        """Clear `prefix/<side>` of each side shown last time but not now (a lost hand)."""
        for side in self._sides.get(prefix, set()) - set(sides):
            self._log(f'{prefix}/{side}', rr.Clear(recursive=True))
        self._sides[prefix] = set(sides)

    def _style(self, path: str, names: list, colors: list):
        if path not in self._styled:
            self._styled.add(path)
            self._log(path, rr.SeriesLines(names=names, colors=colors), static=True)

    def _jitter(self, kind: str, side: str, stamp: int, joints: np.ndarray):
        history = self._history.setdefault((kind, side), deque(maxlen=3))
        history.append((stamp, joints - joints[:1]))
        accel = _acceleration_mm(history)
        if accel is not None:
            path = f'series/jitter/{side}/{kind}'
            self._style(path, [f'{side} {kind}'],
                        [(230, 120, 40) if kind == 'published' else KEYPOINT_RGB])
            self._log(path, rr.Scalars([accel]))

    def _image(self, msg, _):
        self._at(stamp_ns(msg.header))
        # bytes: Rerun would take the message's array.array for a list of one-byte blobs
        jpeg = bytes(image_to_jpeg(msg, JPEG_QUALITY).data)
        self._log('camera/image', rr.EncodedImage(contents=jpeg, media_type='image/jpeg'))

    def _keypoints(self, msg, _):
        stamp = stamp_ns(msg.header)
        self._at(stamp)
        hands = best_per_side(cloud_to_keypoints(msg))
        self._clear_lost('world/keypoints', hands)
        for side, hand in hands.items():
            self._log(f'world/keypoints/{side}', rr.Points3D(
                hand.xyz, radii=0.003, colors=KEYPOINT_RGB))
            self._log(f'world/keypoints/{side}/bones', rr.LineStrips3D(
                hand.xyz[BONE_INDEX], radii=0.0008, colors=KEYPOINT_RGB))
            self._jitter('keypoints', side, stamp, hand.xyz)
        for side in ('left', 'right'):
            if side not in hands:
                self._history.pop(('keypoints', side), None)

    def _rotations(self, msg, received_ns: int):
        stamp = stamp_ns(msg.header)
        self._rotations_stamp = stamp
        self._at(stamp)
        hands = {side: joint_positions(quat, offsets)
                 for side, (quat, offsets) in rotations_by_side(msg).items()}
        self._clear_lost('world/skeleton', hands)
        for side, joints in hands.items():
            self._log(f'world/skeleton/{side}/bones', rr.LineStrips3D(
                joints[BONE_INDEX], radii=0.002, colors=BONE_RGB))
            self._log(f'world/skeleton/{side}/joints', rr.Points3D(
                joints, radii=0.004, colors=JOINT_RGB))
            self._jitter('published', side, stamp, joints)
        for side in ('left', 'right'):
            if side not in hands:
                self._history.pop(('published', side), None)
        if hands:
            self._style('series/latency_ms', ['image stamp to rotations'], [(80, 160, 230)])
            self._log('series/latency_ms', rr.Scalars([(received_ns - stamp) * 1e-6]))

    def _angles(self, msg, _):
        self._at(stamp_ns(msg.header))
        by_side = {}
        for name, angle in zip(msg.name, msg.position, strict=True):
            side, dof = name.split('_', 1)
            by_side.setdefault(side, {})[dof] = angle
        for side, angles in by_side.items():
            for joint, dofs in FLEXION.items():
                path = f'series/flexion_{joint}/{side}'
                self._style(path, [f'{side} {f}' for f in sk.FINGERS], FINGER_RGB)
                self._log(path, rr.Scalars(np.degrees([angles[d] for d in dofs])))

    def _attention(self, msg, _):
        if self._rotations_stamp is None:
            return
        self._at(self._rotations_stamp)
        hands = attention_by_side(msg)
        self._clear_lost('attention', hands)
        for side, layers in hands.items():
            for layer, weights in enumerate(layers):
                self._log(f'attention/{side}/layer_{layer + 1}', rr.BarChart(
                    weights, color=LAYER_RGB[layer % len(LAYER_RGB)]))
