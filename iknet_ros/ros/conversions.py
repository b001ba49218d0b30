"""Message <-> numpy conversions that PyPI's ROS 2 lacks (cv_bridge, sensor_msgs_py).

The one place where images and keypoint clouds are packed and unpacked; every node uses these.
Bad input raises a ``ValueError`` subclass whose message says what is wrong, so a node can log
it in one line and go on with the next message; the subclass names the kind of problem, which
the nodes' logs are throttled by. Camera intrinsics are checked here too: only finite, positive
focal lengths and a principal point inside the image reach the numerical solvers.
"""
import math

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField

from iknet_ros.hand.keypoints import SIDES, HandKeypoints, Intrinsics
from iknet_ros.hand.skeleton import NUM_JOINTS

# encoding -> channels; all 8 bit, so byte order (is_bigendian) does not matter
IMAGE_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}
_FROM_RGB = {'bgr8': cv2.COLOR_RGB2BGR, 'rgba8': cv2.COLOR_RGB2RGBA, 'bgra8': cv2.COLOR_RGB2BGRA,
             'mono8': cv2.COLOR_RGB2GRAY}  # alpha 255; mono is ITU-R BT.601 luma


class ImageConversionError(ValueError):
    """An Image message that cannot be turned into an RGB array."""


class UnsupportedEncodingError(ImageConversionError):
    """The image's encoding is not one of ``IMAGE_CHANNELS``."""


class EmptyImageError(ImageConversionError):
    """The image has no pixels."""


class TruncatedImageError(ImageConversionError):
    """The image holds fewer bytes than its size and step promise."""


class CloudConversionError(ValueError):
    """A PointCloud2 that does not follow the keypoint contract."""


class CloudFieldError(CloudConversionError):
    """A keypoint field is missing, of another type or outside the point."""


class CloudSizeError(CloudConversionError):
    """The cloud's point count, rows or data length do not fit the contract."""


class CloudValueError(CloudConversionError):
    """The cloud holds values no keypoint has (non-finite, an unknown hand side)."""


class CameraInfoError(ValueError):
    """Intrinsics that cannot be used for the images; `kind` names the field and the problem."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def image_to_rgb(msg: Image) -> np.ndarray:
    """Return the image as an (H, W, 3) uint8 RGB array, honouring ``step`` row padding.

    The result may share memory with ``msg.data`` and be read-only; copy it to draw on it.
    """
    channels = IMAGE_CHANNELS.get(msg.encoding)
    if channels is None:
        raise UnsupportedEncodingError(
            f'unsupported image encoding {msg.encoding!r} '
            f'(supported: {", ".join(IMAGE_CHANNELS)})')
    height, width, data = msg.height, msg.width, msg.data
    if height == 0 or width == 0 or len(data) == 0:
        raise EmptyImageError(f'empty image ({width}x{height}, {len(data)} bytes)')
    row = width * channels
    step = msg.step or row
    if step < row:
        raise TruncatedImageError(
            f'image step {step} is less than width x channels = {row} ({msg.encoding})')
    if len(data) < step * height:
        raise TruncatedImageError(
            f'truncated image data: {len(data)} bytes, expected step x height = '
            f'{step} x {height} = {step * height} for {width}x{height} {msg.encoding}')
    pixels = np.frombuffer(data, dtype=np.uint8, count=step * height)
    pixels = pixels.reshape(height, step)[:, :row].reshape(height, width, channels)
    if msg.encoding == 'rgb8':
        return np.ascontiguousarray(pixels)
    if msg.encoding == 'mono8':
        return np.repeat(pixels, 3, axis=2)
    if msg.encoding == 'rgba8':
        return np.ascontiguousarray(pixels[:, :, :3])
    return np.ascontiguousarray(pixels[:, :, 2::-1])  # bgr8, bgra8


def image_to_jpeg(msg: Image, quality: int = 85) -> CompressedImage:
    """Return the image as a JPEG CompressedImage, as image_transport's compressed plugin does.

    Same header; ``format`` follows image_transport (``'<encoding>; jpeg compressed bgr8'``), so
    RViz, Foxglove and ``image_transport republish`` read it.
    """
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(image_to_rgb(msg), cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageConversionError(f'JPEG encoding failed for a {msg.width}x{msg.height} image')
    return CompressedImage(header=msg.header, format=f'{msg.encoding}; jpeg compressed bgr8',
                           data=jpeg.tobytes())


def jpeg_to_rgb(msg: CompressedImage) -> np.ndarray:
    """Return a JPEG or PNG CompressedImage as an (H, W, 3) uint8 RGB array."""
    bgr = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageConversionError(f'cannot decode a compressed image ({msg.format!r}, '
                                   f'{len(msg.data)} bytes)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_image(rgb: np.ndarray, header, encoding: str = 'rgb8') -> Image:
    """Return an Image message of an (H, W, 3) uint8 RGB array in ``encoding`` (unpadded rows)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}')
    if encoding not in IMAGE_CHANNELS:
        raise UnsupportedEncodingError(
            f'unsupported image encoding {encoding!r} (supported: {", ".join(IMAGE_CHANNELS)})')
    height, width = rgb.shape[:2]
    pixels = rgb if encoding == 'rgb8' else cv2.cvtColor(np.ascontiguousarray(rgb),
                                                         _FROM_RGB[encoding])
    msg = Image(header=header, height=height, width=width, encoding=encoding, is_bigendian=0,
                step=width * IMAGE_CHANNELS[encoding])
    msg.data = np.ascontiguousarray(pixels).tobytes()
    return msg


# The keypoint cloud: one point per joint, packed (no padding), in the contract's field order.
# ray_x ray_y (normalised image coordinates) and guessed (their intrinsics are a guess) are
# optional for readers: a cloud without them is read with the projection of x y z instead.
_FIELDS = (('x', PointField.FLOAT32, np.float32), ('y', PointField.FLOAT32, np.float32),
           ('z', PointField.FLOAT32, np.float32), ('u', PointField.FLOAT32, np.float32),
           ('v', PointField.FLOAT32, np.float32), ('hand', PointField.UINT8, np.uint8),
           ('score', PointField.FLOAT32, np.float32), ('ray_x', PointField.FLOAT32, np.float32),
           ('ray_y', PointField.FLOAT32, np.float32), ('guessed', PointField.UINT8, np.uint8))
_OPTIONAL = ('ray_x', 'ray_y', 'guessed')
_DATATYPE_DTYPES = {PointField.INT8: 'i1', PointField.UINT8: 'u1', PointField.INT16: 'i2',
                    PointField.UINT16: 'u2', PointField.INT32: 'i4', PointField.UINT32: 'u4',
                    PointField.FLOAT32: 'f4', PointField.FLOAT64: 'f8'}
_KNOWN = {name: datatype for name, datatype, _ in _FIELDS}


def _packed_fields():
    fields, offset = [], 0
    for name, datatype, dtype in _FIELDS:
        fields.append(PointField(name=name, offset=offset, datatype=datatype, count=1))
        offset += np.dtype(dtype).itemsize
    return fields, offset


CLOUD_FIELDS, CLOUD_POINT_STEP = _packed_fields()  # point_step 34
CLOUD_DTYPE = np.dtype({'names': [f.name for f in CLOUD_FIELDS],
                        'formats': [dtype for _, _, dtype in _FIELDS],
                        'offsets': [f.offset for f in CLOUD_FIELDS],
                        'itemsize': CLOUD_POINT_STEP})


def keypoints_to_cloud(header, hands: list) -> PointCloud2:
    """Return the keypoint PointCloud2: 21 points per hand in MediaPipe order; none = no hand."""
    points = np.zeros(NUM_JOINTS * len(hands), dtype=CLOUD_DTYPE)
    for i, hand in enumerate(hands):
        block = points[i * NUM_JOINTS:(i + 1) * NUM_JOINTS]
        block['x'], block['y'], block['z'] = hand.xyz.T
        block['u'], block['v'] = hand.uv.T
        block['hand'] = SIDES.index(hand.side)
        block['score'] = hand.score
        block['ray_x'], block['ray_y'] = hand.rays.T
        block['guessed'] = hand.guessed
    cloud = PointCloud2(header=header, height=1, width=len(points), fields=list(CLOUD_FIELDS),
                        is_bigendian=False, point_step=CLOUD_POINT_STEP,
                        row_step=CLOUD_POINT_STEP * len(points), is_dense=True)
    cloud.data = points.tobytes()
    return cloud


def _message_dtype(msg: PointCloud2) -> np.dtype:
    """Return the structured dtype of the contract's fields as laid out in ``msg``."""
    fields = {f.name: f for f in msg.fields}
    missing = [name for name in _KNOWN if name not in fields and name not in _OPTIONAL]
    if missing:
        raise CloudFieldError(
            f'keypoint cloud lacks field(s) {", ".join(missing)} '
            f'(has: {", ".join(fields) or "none"})')
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for name, datatype in _KNOWN.items():
        if name not in fields:
            continue
        field = fields[name]
        if field.datatype != datatype or field.count != 1:
            raise CloudFieldError(
                f'keypoint cloud field {name!r} has datatype {field.datatype} count '
                f'{field.count}; expected datatype {datatype} count 1')
        size = np.dtype(_DATATYPE_DTYPES[datatype]).itemsize
        if field.offset + size > msg.point_step:
            raise CloudFieldError(
                f'keypoint cloud field {name!r} at offset {field.offset} does not fit in '
                f'point_step {msg.point_step}')
        names.append(name)
        formats.append(order + _DATATYPE_DTYPES[datatype])
        offsets.append(field.offset)
    return np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                     'itemsize': msg.point_step})


def cloud_to_keypoints(msg: PointCloud2) -> list:
    """Return the hands of a keypoint cloud, validating it against the contract."""
    count = msg.width * msg.height
    if count == 0:
        return []
    if count % NUM_JOINTS:
        raise CloudSizeError(
            f'keypoint cloud has {count} points, not a multiple of {NUM_JOINTS}')
    if msg.row_step and msg.height > 1 and msg.row_step != msg.point_step * msg.width:
        raise CloudSizeError('keypoint clouds with padded rows are not supported')
    if len(msg.data) < count * msg.point_step:  # before the layout: no dtype of absurd size
        raise CloudSizeError(
            f'truncated keypoint cloud: {len(msg.data)} bytes for {count} points of '
            f'{msg.point_step} bytes')
    dtype = _message_dtype(msg)
    points = np.frombuffer(msg.data, dtype=dtype, count=count).reshape(-1, NUM_JOINTS)
    xyz = np.stack([points['x'], points['y'], points['z']], axis=-1).astype(np.float32)
    uv = np.stack([points['u'], points['v']], axis=-1).astype(np.float32)
    score = points['score'].astype(np.float32)
    for name, values in (('x y z', xyz), ('u v', uv), ('score', score)):
        if not np.all(np.isfinite(values)):
            raise CloudValueError(f'keypoint cloud has non-finite {name} values')
    side = points['hand']
    if np.any(side > 1) or np.any(side != side[:, :1]):
        raise CloudValueError(
            'keypoint cloud field hand must be 0 (left) or 1 (right), the same for each '
            f'block of {NUM_JOINTS} points')
    names = points.dtype.names
    rays = np.stack([points['ray_x'], points['ray_y']], axis=-1).astype(np.float32) \
        if {'ray_x', 'ray_y'} <= set(names) else [None] * len(points)
    if rays[0] is not None and not np.all(np.isfinite(rays)):
        raise CloudValueError('keypoint cloud has non-finite ray_x ray_y values')
    guessed = points['guessed'][:, 0] != 0 if 'guessed' in names else np.ones(len(points), bool)
    return [HandKeypoints(side=SIDES[int(side[i, 0])], xyz=xyz[i], uv=uv[i],
                          score=float(score[i, 0]), rays=rays[i], guessed=bool(guessed[i]))
            for i in range(len(points))]


def check_intrinsics(fx: float, fy: float, cx: float, cy: float, width: int, height: int,
                     names=('fx', 'fy', 'cx', 'cy')) -> Intrinsics:
    """The intrinsics for a `width` x `height` image, or CameraInfoError naming the bad value.

    An infinite focal length stalls numpy's least squares for good and a NaN fails every frame,
    so only finite, positive focal lengths and a principal point inside the image pass.
    """
    values = (fx, fy, cx, cy)
    for name, value in zip(names, values, strict=True):
        if not math.isfinite(value):
            raise CameraInfoError(f'{name} is {value}', f'{name}: not finite')
    for name, value in zip(names[:2], values[:2], strict=True):
        if value <= 0.0:
            raise CameraInfoError(
                f'{name} = {value:g} is not positive (an uncalibrated camera?)',
                f'{name}: not positive')
    for name, value, size in ((names[2], cx, width), (names[3], cy, height)):
        if not 0.0 <= value <= size:
            raise CameraInfoError(f'{name} = {value:g} px is outside the {width}x{height} image',
                                  f'{name}: outside the image')
    return Intrinsics(float(fx), float(fy), float(cx), float(cy))


def camera_info_intrinsics(msg: CameraInfo, width: int, height: int) -> Intrinsics:
    """The pinhole intrinsics (K) of a CameraInfo for images of `width` x `height`.

    Raises CameraInfoError naming the field when they cannot be used: a size other than the
    images' (0 x 0 = not given), or a K that `check_intrinsics` refuses.
    """
    if (msg.width or msg.height) and (msg.width, msg.height) != (width, height):
        raise CameraInfoError(f'camera_info is for {msg.width}x{msg.height} images, the images '
                              f'are {width}x{height}', 'size')
    k = msg.k
    return check_intrinsics(k[0], k[4], k[2], k[5], width, height,
                            names=('fx (K[0])', 'fy (K[4])', 'cx (K[2])', 'cy (K[5])'))
