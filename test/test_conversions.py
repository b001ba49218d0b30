"""Image and keypoint-cloud conversions: round trips, row padding, and clear errors."""
import numpy as np
import pytest
from sensor_msgs.msg import Image, PointCloud2, PointField
from std_msgs.msg import Header

from iknet_ros.hand.keypoints import HandKeypoints
from iknet_ros.ros.conversions import (
    CLOUD_POINT_STEP,
    IMAGE_CHANNELS,
    CloudConversionError,
    EmptyImageError,
    TruncatedImageError,
    UnsupportedEncodingError,
    cloud_to_keypoints,
    image_to_jpeg,
    image_to_rgb,
    jpeg_to_rgb,
    keypoints_to_cloud,
    rgb_to_image,
)

HEADER = Header(frame_id='camera_optical_frame')
HEADER.stamp.sec, HEADER.stamp.nanosec = 7, 123


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def hand(side, seed):
    rng = np.random.default_rng(seed)
    return HandKeypoints(side=side, xyz=rng.normal(0, 0.05, (21, 3)) + [0, 0, 0.6],
                         uv=rng.uniform(0, 640, (21, 2)), score=rng.uniform(),
                         rays=rng.normal(0, 0.2, (21, 2)), guessed=bool(seed % 2))


def padded(msg, pad):
    """The same image with `pad` junk bytes after every row."""
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    junk = np.full((msg.height, pad), 0xAB, np.uint8)
    out = Image(header=msg.header, height=msg.height, width=msg.width, encoding=msg.encoding,
                step=msg.step + pad)
    out.data = np.hstack([rows, junk]).tobytes()
    return out


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
@pytest.mark.parametrize('pad', [0, 3])
def test_color_encodings_round_trip(rgb, encoding, pad):
    msg = rgb_to_image(rgb, HEADER, encoding)
    assert msg.step == 7 * IMAGE_CHANNELS[encoding] and msg.header.stamp.sec == 7
    np.testing.assert_array_equal(image_to_rgb(padded(msg, pad) if pad else msg), rgb)


def test_byte_order_of_each_encoding(rgb):
    r, g, b = rgb[0, 0]
    assert bytes(rgb_to_image(rgb, HEADER, 'bgr8').data[:3]) == bytes([b, g, r])
    assert bytes(rgb_to_image(rgb, HEADER, 'bgra8').data[:4]) == bytes([b, g, r, 255])
    assert bytes(rgb_to_image(rgb, HEADER, 'rgba8').data[:4]) == bytes([r, g, b, 255])


@pytest.mark.parametrize('pad', [0, 1])
def test_mono8_round_trip(rgb, pad):
    gray = rgb[:, :, :1].repeat(3, axis=2)  # a grey image survives mono8 exactly
    msg = rgb_to_image(gray, HEADER, 'mono8')
    assert msg.step == 7 and len(msg.data) == 35
    np.testing.assert_array_equal(image_to_rgb(padded(msg, pad) if pad else msg), gray)


def test_unsupported_encoding_is_named(rgb):
    msg = rgb_to_image(rgb, HEADER)
    msg.encoding = 'yuv422'
    with pytest.raises(UnsupportedEncodingError, match="'yuv422'.*supported: rgb8"):
        image_to_rgb(msg)
    with pytest.raises(ValueError, match='16UC1'):
        rgb_to_image(rgb, HEADER, '16UC1')


def test_empty_image_is_rejected():
    with pytest.raises(EmptyImageError, match='empty image'):
        image_to_rgb(Image(encoding='rgb8'))
    with pytest.raises(EmptyImageError, match='empty image'):
        image_to_rgb(Image(encoding='rgb8', width=4, height=2, step=12))


def test_truncated_image_is_rejected(rgb):
    msg = rgb_to_image(rgb, HEADER)
    msg.data = bytes(msg.data[:-1])
    with pytest.raises(TruncatedImageError, match='104 bytes, expected .* = 105'):
        image_to_rgb(msg)
    msg = rgb_to_image(rgb, HEADER)
    msg.step = 20  # less than 7 pixels x 3 channels
    with pytest.raises(TruncatedImageError, match='step 20 is less than'):
        image_to_rgb(msg)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_jpeg_round_trip_keeps_header_and_colours(encoding):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (200, 30, 10)  # red left half, blue right half: a swapped channel shows
    rgb[:, 32:] = (10, 30, 200)
    msg = image_to_jpeg(rgb_to_image(rgb, HEADER, encoding))
    assert msg.header.stamp.sec == 7 and msg.header.frame_id == 'camera_optical_frame'
    assert msg.format == f'{encoding}; jpeg compressed bgr8' and len(msg.data) < rgb.size
    error = np.abs(jpeg_to_rgb(msg).astype(int) - rgb)  # (48, 64, 3)
    assert error[:, :24].max() < 12 and error[:, 40:].max() < 12  # away from the sharp edge


def test_undecodable_compressed_image_is_named():
    from sensor_msgs.msg import CompressedImage
    with pytest.raises(ValueError, match="cannot decode.*'jpeg'.*3 bytes"):
        jpeg_to_rgb(CompressedImage(format='jpeg', data=b'abc'))


@pytest.mark.parametrize('sides', [[], ['right'], ['left', 'right']])
def test_keypoint_cloud_round_trip(sides):
    hands = [hand(side, i) for i, side in enumerate(sides)]
    cloud = keypoints_to_cloud(HEADER, hands)
    assert cloud.header.frame_id == 'camera_optical_frame' and cloud.header.stamp.nanosec == 123
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'u', 'v', 'hand', 'score',
                                              'ray_x', 'ray_y', 'guessed']
    assert cloud.width == 21 * len(hands) and cloud.height == 1
    assert cloud.point_step == CLOUD_POINT_STEP == 34
    assert len(cloud.data) == cloud.row_step == 34 * 21 * len(hands)
    back = cloud_to_keypoints(cloud)
    assert [h.side for h in back] == sides
    for got, sent in zip(back, hands, strict=True):
        np.testing.assert_array_equal(got.xyz, sent.xyz)
        np.testing.assert_array_equal(got.uv, sent.uv)
        np.testing.assert_array_equal(got.rays, sent.rays)
        assert got.score == pytest.approx(sent.score, rel=1e-6) and got.guessed == sent.guessed


def test_cloud_hand_field_is_0_left_1_right():
    cloud = keypoints_to_cloud(HEADER, [hand('left', 0), hand('right', 1)])
    data = np.frombuffer(cloud.data, np.uint8).reshape(42, 34)
    assert list(data[:, 20]) == [0] * 21 + [1] * 21  # hand: a uint8 at offset 20


def test_cloud_with_other_layout_is_read_by_field_offsets():
    """A producer may order and pad fields differently: offsets come from the message."""
    sent = hand('right', 3)
    dtype = np.dtype({'names': ['score', 'hand', 'u', 'v', 'x', 'y', 'z'],
                      'formats': ['<f4', 'u1', '<f4', '<f4', '<f4', '<f4', '<f4'],
                      'offsets': [0, 4, 8, 12, 16, 20, 24], 'itemsize': 32})
    points = np.zeros(21, dtype)
    points['x'], points['y'], points['z'] = sent.xyz.T
    points['u'], points['v'] = sent.uv.T
    points['hand'], points['score'] = 1, 0.5
    types = {'hand': PointField.UINT8}
    fields = [PointField(name=n, offset=dtype.fields[n][1], count=1,
                         datatype=types.get(n, PointField.FLOAT32)) for n in dtype.names]
    cloud = PointCloud2(height=1, width=21, fields=fields, point_step=32, row_step=32 * 21)
    cloud.data = points.tobytes()
    (got,) = cloud_to_keypoints(cloud)
    assert got.side == 'right' and got.score == 0.5
    np.testing.assert_array_equal(got.xyz, sent.xyz)
    # without ray fields (an older producer) the projection of x y z stands in, as a guess
    np.testing.assert_allclose(got.rays, sent.xyz[:, :2] / sent.xyz[:, 2:], rtol=1e-6)
    assert got.guessed


def test_bad_clouds_raise_clear_errors():
    good = keypoints_to_cloud(HEADER, [hand('right', 0)])

    def variant(**changes):
        cloud = keypoints_to_cloud(HEADER, [hand('right', 0)])
        for key, value in changes.items():
            setattr(cloud, key, value)
        return cloud

    with pytest.raises(CloudConversionError, match='20 points, not a multiple of 21'):
        cloud_to_keypoints(variant(width=20))
    with pytest.raises(CloudConversionError, match='lacks field.*score'):
        cloud_to_keypoints(variant(fields=good.fields[:6] + good.fields[7:]))
    with pytest.raises(CloudConversionError, match='truncated keypoint cloud'):
        cloud_to_keypoints(variant(data=bytes(good.data[:-5])))
    wrong_type = list(good.fields)
    wrong_type[5] = PointField(name='hand', offset=20, datatype=PointField.FLOAT32, count=1)
    with pytest.raises(CloudConversionError, match="'hand' has datatype 7"):
        cloud_to_keypoints(variant(fields=wrong_type))
    for field, offset in (('x y z', 0), ('u v', 12), ('score', 21), ('ray_x ray_y', 25)):
        data = bytearray(good.data)
        data[34 * 4 + offset:34 * 4 + offset + 4] = np.float32(np.nan).tobytes()
        with pytest.raises(CloudConversionError, match=f'non-finite {field} values'):
            cloud_to_keypoints(variant(data=bytes(data)))
    data = bytearray(good.data)
    data[34 * 3 + 20] = 2
    with pytest.raises(CloudConversionError, match='0 \\(left\\) or 1 \\(right\\)'):
        cloud_to_keypoints(variant(data=bytes(data)))


def test_hand_keypoints_validates_side_and_shapes():
    with pytest.raises(ValueError, match="'left' or 'right'"):
        HandKeypoints(side='Right', xyz=np.zeros((21, 3)), uv=np.zeros((21, 2)), score=1.0)
    with pytest.raises(ValueError):
        HandKeypoints(side='left', xyz=np.zeros((20, 3)), uv=np.zeros((21, 2)), score=1.0)
