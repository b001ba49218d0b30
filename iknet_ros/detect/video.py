"""Frames from a video file or a camera (OpenCV), and the intrinsics guess for such a source."""
import math
from pathlib import Path

import cv2
import numpy as np

from iknet_ros.hand.keypoints import Intrinsics

# a typical webcam's horizontal field of view: fx = 1005 px at 1280 px wide
DEFAULT_FOV_DEG = 65.0


def guess_intrinsics(width: int, height: int, fx: float = 0.0,
                     fov_deg: float = DEFAULT_FOV_DEG) -> Intrinsics:
    """A pinhole guess for a camera without calibration: `fx` if given, else from `fov_deg`.

    Square pixels, principal point at the image centre (no distortion).
    """
    if fx <= 0.0:
        if not 0.0 < fov_deg < 180.0:
            raise ValueError(f'fov_deg must be in (0, 180), got {fov_deg}')
        fx = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return Intrinsics(fx, fx, width / 2.0, height / 2.0)


class VideoSourceError(OSError):
    """A video file or camera that cannot be opened or read."""


class VideoFrames:
    """Iterate the BGR frames (OpenCV's channel order) of a video file or camera.

    ``source`` is a file path or a camera index (an int, or a string of digits). A file is read
    once, or forever with ``loop``; a camera until it stops delivering. ``fps`` is the file's
    (or camera's) reported rate, 30 when it reports none.
    """

    def __init__(self, source, loop: bool = False):
        self.is_camera = isinstance(source, int) or str(source).strip().isdigit()
        if self.is_camera:
            self.source = int(source)
            self._capture = cv2.VideoCapture(self.source)
            where = f'camera {self.source}'
        else:
            self.source = Path(str(source)).expanduser()
            if not self.source.is_file():
                raise VideoSourceError(f'video file not found: {self.source}')
            self._capture = cv2.VideoCapture(str(self.source))
            where = f'video file {self.source}'
        self.loop = bool(loop) and not self.is_camera
        if not self._capture.isOpened():
            raise VideoSourceError(f'cannot open {where}')
        ok, first = self._capture.read()  # catches files that open but hold no decodable frame
        if not ok or first is None:
            self.close()
            raise VideoSourceError(f'cannot read a frame from {where}')
        self._first = first
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if np.isfinite(fps) and 0 < fps < 1000 else 30.0
        self.size = (first.shape[1], first.shape[0])  # (width, height)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 and not self.is_camera else None

    def read(self):
        """Return the next BGR frame, or None at the end (never, for a looping file)."""
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        if self._capture is None:
            return None
        ok, frame = self._capture.read()
        if not ok and self.loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        return frame if ok else None

    def __iter__(self):
        while (frame := self.read()) is not None:
            yield frame

    def close(self):
        """Release the file or camera."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
