"""The live viewer (viz.viewer) on a real run, seen by a real headless browser."""
import socket
import threading

import cv2
import numpy as np
import pytest
from headless_browser import HeadlessBrowser, available

from iknet_ros.paths import sample_video
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.pipeline import run_pipeline
from iknet_ros.viz.viewer import RunViewer


def free_port() -> int:
    """A TCP port nobody on this machine listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not available(), reason='chromium is not installed (scripts/'
                    'setup_test_browser.sh installs it as root with apt-get)')
def test_the_web_viewer_shows_the_run_while_frames_stream():
    viewer = RunViewer(serve='web', web_port=free_port(), grpc_port=free_port())
    run_over = threading.Event()
    seen = {}

    def look():
        """Load the web viewer as the run starts; once frames arrive, let it draw, look."""
        try:
            with HeadlessBrowser() as browser:
                browser.open(viewer.url)
                wait_for(lambda: viewer.logged >= 150 or run_over.is_set(), timeout=120)
                browser.wait(6.0)  # the viewer draws the newest frames (software WebGL)
                seen['while_streaming'] = not run_over.is_set()
                seen['canvases'] = browser.evaluate("document.querySelectorAll('canvas').length")
                seen['png'] = browser.screenshot()
                seen['errors'], seen['off_machine'] = browser.errors, browser.off_machine
        except Exception as error:  # reported by the test, not lost in the thread
            seen['failure'] = error

    browser_thread = threading.Thread(target=look)
    browser_thread.start()
    try:
        summary = run_pipeline(video=str(sample_video()), max_frames=240, progress=False,
                               observers=(viewer,))
        run_over.set()
        viewer.flush()
        browser_thread.join(timeout=180)
    finally:
        run_over.set()
        viewer.close()
    assert summary['frames_with_rotations'] > 0
    assert 'failure' not in seen, seen.get('failure')
    assert seen['errors'] == [], seen['errors']
    assert seen['canvases'] >= 1  # the viewer's WebGL canvas
    shot = cv2.imdecode(np.frombuffer(seen['png'], np.uint8), cv2.IMREAD_COLOR)
    colours = np.unique(shot.reshape(-1, 3), axis=0)
    print(f"screenshot {shot.shape[1]}x{shot.shape[0]}, {len(colours)} colours, taken "
          f"{'while' if seen['while_streaming'] else 'after'} frames streamed; requests that "
          f"left the machine, answered empty: {sorted(set(seen['off_machine']))}")
    assert len(colours) > 1, 'the screenshot is blank'
