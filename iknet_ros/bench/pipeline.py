"""The live pipeline's figures for `iknet-ros bench`: node latency, frames per second, memory.

* ``node_latency_ms``: a keypoint cloud published -> its ``/hand/joint_rotations`` published by
  iknet_node (``p50``, ``p95``: the rotations' DDS source timestamp, so the way back is not
  counted) and -> received by the probe's callback (``received_by_probe``), with iknet_node in
  this process and in a second process (its console script), over real DDS.
* ``pipeline_fps``: the real video through video_source -> keypoint_node -> iknet_node in one
  process, at 1280x720 and 640x360, each frame decoded and offered as soon as keypoint_node has
  started on the previous one (a camera faster than the pipeline, without decoding frames only
  to drop them); ``mediapipe_only_fps``: the MediaPipe detector alone on the same decoded
  frames, the floor our nodes cannot beat.
* ``rss_mb``: peak resident memory of this process after running the pipeline.
"""
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from iknet_ros.bench.models import percentiles
from iknet_ros.paths import default_params, real_video

SIZES = {'1280x720': (1280, 720), '640x360': (640, 360)}


def _latency(iknet_in_process: bool, messages: int = 150) -> dict:
    """Cloud out -> rotations published and -> back, with iknet_node here or in a child process.

    Both clocks are this machine's system clock: ``time.time_ns`` here, Fast DDS's source
    timestamp in iknet_node's process.
    """
    from rclpy.node import Node
    from sensor_msgs.msg import MultiDOFJointState, PointCloud2
    from std_msgs.msg import Header

    from iknet_ros.hand.keypoints import HandKeypoints
    from iknet_ros.ros.conversions import keypoints_to_cloud
    from iknet_ros.ros.graph import InProcessGraph, wait_for
    from iknet_ros.synth.camera import synthetic_hands

    xyz, uv, rays, _ = synthetic_hands(messages)
    sent, published, received = {}, [], []  # ns since the cloud was sent
    child, iknet = None, None
    with InProcessGraph() as graph:
        probe = graph.add(Node('latency_probe', context=graph.context))

        def on_rotations(msg, info):
            now = time.time_ns()
            start = sent.pop((msg.header.stamp.sec, msg.header.stamp.nanosec), None)
            if start is not None:
                published.append(info['source_timestamp'] - start)
                received.append(now - start)

        probe.create_subscription(MultiDOFJointState, 'hand/joint_rotations', on_rotations, 50)
        publisher = probe.create_publisher(PointCloud2, 'hand/keypoints', 50)
        try:
            if iknet_in_process:
                from iknet_ros.ros.iknet_node import IKNetNode, use_one_torch_thread

                use_one_torch_thread()
                iknet = graph.add(IKNetNode(context=graph.context))
            else:
                child = subprocess.Popen([sys.executable, '-m', 'iknet_ros.ros.iknet_node'],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # a child process loads torch first
            if not wait_for(lambda: publisher.get_subscription_count() > 0
                            and probe.count_publishers('hand/joint_rotations') > 0, timeout=60.0):
                raise RuntimeError('iknet_node did not come up within 60 s')
            time.sleep(0.5)
            for i in range(messages):
                header = Header(stamp=probe.get_clock().now().to_msg(),
                                frame_id='camera_optical_frame')
                hand = HandKeypoints('right', xyz[i], uv[i], 0.99, rays=rays[i], guessed=False)
                cloud = keypoints_to_cloud(header, [hand])
                sent[(header.stamp.sec, header.stamp.nanosec)] = time.time_ns()
                publisher.publish(cloud)
                time.sleep(1 / 30)
            wait_for(lambda: not sent, timeout=1.0)
        finally:
            if child is not None:
                child.terminate()
                child.wait(timeout=10)
    if len(received) < messages // 2:
        raise RuntimeError(f'only {len(received)} of {messages} clouds were answered')
    results = {**percentiles(np.array(published[10:]) / 1e9),  # skip the warm-up
               'received_by_probe': percentiles(np.array(received[10:]) / 1e9),
               'messages': len(received)}
    if iknet is not None:  # of which the tracker's own work (the model and the skeleton)
        results['tracker_update'] = percentiles(np.array(list(iknet.update_ms)[10:]) / 1000)
    return results


def _resized_video(source: Path, size, frames: int, folder: Path) -> Path:
    """The first `frames` frames of `source` at `size`, as an MP4 in `folder`."""
    import cv2

    from iknet_ros.detect.video import VideoFrames

    path = folder / f'video_{size[0]}x{size[1]}.mp4'
    with VideoFrames(str(source)) as video:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), video.fps, size)
        for _ in range(frames):
            frame = video.read()
            if frame is None:
                break
            writer.write(frame if frame.shape[1::-1] == tuple(size) else
                         cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        writer.release()
    return path


def _mediapipe_fps(video: Path) -> tuple:
    """Frames per second of the MediaPipe detector alone, and its CPU ms per frame.

    Decoding is not counted; the CPU is this process's, MediaPipe's threads included.
    """
    import cv2

    from iknet_ros.detect.detector import HandDetector
    from iknet_ros.detect.video import VideoFrames

    with VideoFrames(str(video)) as frames, HandDetector() as detector:
        spent, cpu, count = 0.0, 0.0, 0
        for i, frame in enumerate(frames):
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            start, cpu_start = time.perf_counter(), time.process_time()
            detector.detect(rgb, i * 33_333_333)
            if i:  # the first call loads the models
                spent, count = spent + time.perf_counter() - start, count + 1
                cpu += time.process_time() - cpu_start
    return count / spent, cpu / count * 1000.0


def _pipeline_fps(video: Path, folder: Path) -> tuple:
    """Rotation messages per second with the video offered as fast as it is taken; CPU ms each.

    The CPU is the process's, every thread: decoding, transport, MediaPipe and the IKNet.
    """
    from iknet_ros.ros.pipeline import run_pipeline

    params = yaml.safe_load(default_params().read_text())
    params.setdefault('video_source', {}).setdefault('ros__parameters', {})['fps'] = 1000.0
    path = folder / 'bench_params.yaml'
    path.write_text(yaml.safe_dump(params))
    summary = run_pipeline(video=str(video), params=path, progress=False, paced=True)
    return summary['fps'], summary['cpu_cores'] / summary['fps'] * 1000.0


def bench_pipeline(frames: int = 300, messages: int = 150) -> dict:
    """All pipeline figures (skipping the video ones when the real video is absent)."""
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))  # stay off live graphs
    results = {'node_latency_ms': {'in_process': _latency(True, messages),
                                   'two_processes': _latency(False, messages)}}
    print(f'iknet_node latency (cloud sent -> rotations published; -> received by the probe): '
          f'{results["node_latency_ms"]}')
    if not real_video().is_file():
        results['pipeline_skipped'] = f'real video absent: {real_video()}'
        print(results['pipeline_skipped'])
        return results
    keys = ('pipeline_fps', 'pipeline_cpu_ms_per_frame', 'mediapipe_only_fps',
            'mediapipe_only_cpu_ms_per_frame')
    results.update({key: {} for key in keys})
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in SIZES.items():
            video = _resized_video(real_video(), size, frames, Path(tmp))
            mediapipe = _mediapipe_fps(video)  # first, as in the earlier bench figures
            measured = _pipeline_fps(video, Path(tmp)) + mediapipe
            for key, value in zip(keys, measured, strict=True):
                results[key][name] = round(value, 2)
            print(f'{name}: pipeline {measured[0]:.1f} fps ({measured[1]:.1f} ms CPU per frame), '
                  f'MediaPipe alone {measured[2]:.1f} fps ({measured[3]:.1f} ms CPU per frame)')
    results['rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results['pipeline_frames'] = frames
    print(f'peak RSS of the pipeline process: {results["rss_mb"]} MB')
    return results
