"""The real-data folder, discovered by its layout, loaded with errors that name what is wrong.

Any folder of this layout works (``paths.real_data_dir()`` is the default)::

    gt_frames/<set>/images/*, gt.npz   real frames with 3D ground truth (camera frame, metres)
    stereo/<set>/cam0.mp4, cam1.mp4, calib.yaml   a calibrated, synchronised camera pair
    videos/<name>.<video suffix> [+ <name>.yaml with fx fy cx cy]   videos without ground truth

Only the layout is read here; nothing runs MediaPipe.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import SIDES, Intrinsics

# the containers taken as videos in videos/ (OpenCV reads more, but these are what people have)
VIDEO_SUFFIXES = ('.mp4', '.m4v', '.mov', '.avi', '.mkv', '.webm', '.mpg', '.mpeg', '.wmv')
GT_KEYS = ('image', 'joints_m', 'side', 'K')
CAMERA_KEYS = ('K', 'D', 'R', 'T')


class RealDataError(ValueError):
    """A real-data folder whose layout is missing or malformed; the message names the file."""


@dataclass
class GtFrames:
    """Real images with the 3D joints of every hand in them (MediaPipe order, camera frame)."""

    name: str
    folder: Path
    images: list           # N image paths
    joints_m: np.ndarray   # (N, H, 21, 3) metres, camera frame
    side: np.ndarray       # (N, H) 'left' | 'right'
    K: np.ndarray          # (N, 3, 3) intrinsics of each image, pixels

    @property
    def key(self) -> str:
        """The dataset's name in the results: ``gt_frames/<set>``."""
        return f'gt_frames/{self.name}'


@dataclass(frozen=True)
class StereoCamera:
    """One calibrated camera: x_cam = R x_world + T (world units: the calibration's)."""

    K: np.ndarray  # (3, 3) pixels
    D: np.ndarray  # (k,) OpenCV distortion coefficients
    R: np.ndarray  # (3, 3)
    T: np.ndarray  # (3,)

    @property
    def intrinsics(self) -> Intrinsics:
        """The pinhole part, as keypoint_node takes it from camera_info (no distortion)."""
        return Intrinsics(self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2])

    def to_camera(self, world: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> the same in this camera's frame (same units)."""
        return world @ self.R.T + self.T


@dataclass
class StereoPair:
    """Synchronised videos of calibrated cameras, ``cam0``, ``cam1``, ... in name order."""

    name: str
    folder: Path
    videos: dict   # camera name -> video path
    cameras: dict  # camera name -> StereoCamera

    def key(self, camera: str) -> str:
        """The dataset's name in the results for one camera: ``stereo/<set>/<camera>``."""
        return f'stereo/{self.name}/{camera}'


@dataclass
class Video:
    """A real video without ground truth; intrinsics from ``<name>.yaml``, else None (a guess)."""

    name: str
    path: Path
    intrinsics: Intrinsics = None

    @property
    def key(self) -> str:
        """The dataset's name in the results: ``videos/<file stem>``."""
        return f'videos/{self.name}'


@dataclass
class RealData:
    """Everything found in one real-data folder."""

    folder: Path
    gt_frames: list = field(default_factory=list)  # GtFrames
    stereo: list = field(default_factory=list)     # StereoPair
    videos: list = field(default_factory=list)     # Video


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise RealDataError(f'{path} is not valid YAML: {error}') from error


def load_gt_frames(folder: Path) -> GtFrames:
    """Read ``<folder>/gt.npz`` and check it against ``<folder>/images/``."""
    gt_file, images = folder / 'gt.npz', folder / 'images'
    for path in (gt_file, images):
        if not path.exists():
            raise RealDataError(f'{folder}: a gt_frames set holds gt.npz and images/; '
                                f'{path.name} is missing')
    try:
        with np.load(gt_file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in GT_KEYS if k in npz.files}
    except (OSError, ValueError) as error:  # not an npz, or object arrays (pickle)
        raise RealDataError(f'{gt_file} is not a readable numpy .npz: {error}') from error
    missing = [k for k in GT_KEYS if k not in arrays]
    if missing:
        raise RealDataError(f'{gt_file} lacks {", ".join(missing)} '
                            f'(expected {", ".join(GT_KEYS)})')
    n = len(arrays['image'])
    joints, side, k = arrays['joints_m'], arrays['side'], arrays['K']
    if joints.ndim != 4 or joints.shape[0] != n or joints.shape[2:] != (sk.NUM_JOINTS, 3):
        raise RealDataError(f'{gt_file}: joints_m has shape {joints.shape}, expected '
                            f'({n}, H, {sk.NUM_JOINTS}, 3) for {n} images')
    if side.shape != joints.shape[:2]:
        raise RealDataError(f'{gt_file}: side has shape {side.shape}, expected '
                            f'{joints.shape[:2]} (one per hand)')
    if k.shape != (n, 3, 3):
        raise RealDataError(f'{gt_file}: K has shape {k.shape}, expected ({n}, 3, 3)')
    bad_sides = sorted(set(side.ravel().tolist()) - set(SIDES))
    if bad_sides:
        raise RealDataError(f'{gt_file}: side holds {bad_sides}; expected left or right')
    paths = [images / str(name) for name in arrays['image']]
    absent = [p.name for p in paths if not p.is_file()]
    if absent:
        raise RealDataError(f'{images}: {len(absent)} images named in gt.npz are missing, '
                            f'e.g. {absent[0]}')
    return GtFrames(folder.name, folder, paths, joints.astype(np.float64), side,
                    k.astype(np.float64))


def _matrix(value, shape, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise RealDataError(f'{what} is not numeric: {error}') from error
    if shape is not None and array.shape != shape:
        raise RealDataError(f'{what} has shape {array.shape}, expected {shape}')
    return array


def load_stereo(folder: Path) -> StereoPair:
    """Read a stereo set: its ``cam*.mp4`` videos and each camera's entry in ``calib.yaml``."""
    videos = {p.stem: p for p in sorted(folder.glob('cam*.mp4'))}
    if len(videos) < 2:
        raise RealDataError(f'{folder}: a stereo set holds cam0.mp4, cam1.mp4 (found '
                            f'{sorted(p.name for p in videos.values()) or "none"})')
    calib_file = folder / 'calib.yaml'
    if not calib_file.is_file():
        raise RealDataError(f'{folder}: calib.yaml is missing')
    calib = _read_yaml(calib_file)
    if not isinstance(calib, dict):
        raise RealDataError(f'{calib_file}: expected a mapping of camera names to K, D, R, T')
    cameras = {}
    for name in videos:
        entry = calib.get(name)
        if not isinstance(entry, dict):
            raise RealDataError(f'{calib_file} has no camera {name!r} (for {name}.mp4)')
        missing = [k for k in CAMERA_KEYS if k not in entry]
        if missing:
            raise RealDataError(f'{calib_file}: camera {name!r} lacks {", ".join(missing)}')
        where = f'{calib_file}: {name}'
        cameras[name] = StereoCamera(K=_matrix(entry['K'], (3, 3), f'{where}.K'),
                                     D=_matrix(entry['D'], None, f'{where}.D').ravel(),
                                     R=_matrix(entry['R'], (3, 3), f'{where}.R'),
                                     T=_matrix(entry['T'], None, f'{where}.T').reshape(-1))
        if cameras[name].T.shape != (3,):
            raise RealDataError(f'{where}.T has {cameras[name].T.size} values, expected 3')
    return StereoPair(folder.name, folder, videos, cameras)


def load_video(path: Path) -> Video:
    """A video and its intrinsics from ``<name>.yaml`` (fx fy cx cy) beside it, if any."""
    calib_file = path.with_suffix('.yaml')
    intrinsics = None
    if calib_file.is_file():
        calib = _read_yaml(calib_file)
        keys = ('fx', 'fy', 'cx', 'cy')
        if not isinstance(calib, dict) or any(k not in calib for k in keys):
            raise RealDataError(f'{calib_file}: expected fx, fy, cx, cy (pixels)')
        intrinsics = Intrinsics(*(float(calib[k]) for k in keys))
    return Video(path.stem, path, intrinsics)


def discover(folder) -> RealData:
    """Find every dataset in a real-data folder; RealDataError when there is none or one is bad."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise RealDataError(f'real-data folder not found: {folder}')
    found = RealData(folder)
    gt_root, stereo_root, video_root = folder / 'gt_frames', folder / 'stereo', folder / 'videos'
    if gt_root.is_dir():
        found.gt_frames = [load_gt_frames(p) for p in sorted(gt_root.iterdir()) if p.is_dir()]
    if stereo_root.is_dir():
        found.stereo = [load_stereo(p) for p in sorted(stereo_root.iterdir()) if p.is_dir()]
    if video_root.is_dir():
        found.videos = [load_video(p) for p in sorted(video_root.iterdir())
                        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
    if not (found.gt_frames or found.stereo or found.videos):
        raise RealDataError(f'{folder} holds no real data: expected gt_frames/<set>/, '
                            f'stereo/<set>/ or videos/ with a video')
    return found
