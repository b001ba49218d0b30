"""The message decoders on any bytes and any field layout (hypothesis).

Whatever a publisher sends, `cloud_to_keypoints` and `image_to_rgb` give either a decoded result
or one clear error of their module's ValueError subclasses: never a hang, a crash or another
exception that would reach a node's callback.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import Image, PointCloud2, PointField

from iknet_ros.hand.keypoints import HandKeypoints
from iknet_ros.hand.skeleton import NUM_JOINTS
from iknet_ros.ros.conversions import (
    CLOUD_FIELDS,
    IMAGE_CHANNELS,
    CloudConversionError,
    ImageConversionError,
    cloud_to_keypoints,
    image_to_rgb,
    keypoints_to_cloud,
)

UINT32 = 2 ** 32 - 1
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# small values that make a valid layout likely, or anything the message type holds
sizes = st.one_of(st.integers(0, 64), st.sampled_from([21, 42, 63]), st.integers(0, UINT32))
field_names = st.sampled_from([f.name for f in CLOUD_FIELDS] + ['intensity', ''])
datatypes = st.one_of(st.sampled_from([PointField.UINT8, PointField.FLOAT32]),
                      st.integers(0, 255))
fields = st.builds(PointField, name=field_names, offset=st.one_of(st.integers(0, 40),
                                                                  st.integers(0, UINT32)),
                   datatype=datatypes, count=st.one_of(st.just(1), st.integers(0, UINT32)))


def one_clear_error(error: ValueError):
    assert str(error) and '\n' not in str(error), f'not one clear line: {error!r}'


def check_cloud(cloud: PointCloud2):
    try:
        hands = cloud_to_keypoints(cloud)
    except CloudConversionError as error:
        one_clear_error(error)
        return
    assert len(hands) * NUM_JOINTS == cloud.width * cloud.height
    for hand in hands:
        assert isinstance(hand, HandKeypoints)
        assert np.all(np.isfinite(hand.xyz)) and np.all(np.isfinite(hand.rays))


@pytest.mark.timeout(300)
@FUZZ
@given(layout=st.one_of(st.just(list(CLOUD_FIELDS)), st.lists(fields, max_size=12)),
       width=sizes, height=st.one_of(st.integers(0, 2), st.integers(0, UINT32)),
       point_step=sizes, row_step=sizes, big_endian=st.booleans(),
       data=st.binary(max_size=2 * NUM_JOINTS * 40))
def test_any_cloud_decodes_or_raises_a_cloud_error(layout, width, height, point_step, row_step,
                                                   big_endian, data):
    cloud = PointCloud2(height=height, width=width, fields=layout, is_bigendian=big_endian,
                        point_step=point_step, row_step=row_step)
    cloud.data = data
    check_cloud(cloud)


def good_cloud() -> PointCloud2:
    xyz = np.random.default_rng(1).normal([0.0, 0.0, 0.5], 0.03, (NUM_JOINTS, 3))
    hands = [HandKeypoints(side=side, xyz=xyz, uv=np.zeros((NUM_JOINTS, 2)), score=0.9)
             for side in ('left', 'right')]
    return keypoints_to_cloud(PointCloud2().header, hands)


@pytest.mark.timeout(300)
@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 2 * NUM_JOINTS * 34 - 1), st.integers(0, 255)),
                      max_size=20),
       cut=st.one_of(st.none(), st.integers(0, 2 * NUM_JOINTS * 34)),
       field=st.integers(0, len(CLOUD_FIELDS) - 1), replacement=st.one_of(st.none(), fields))
def test_a_damaged_valid_cloud_decodes_or_raises_a_cloud_error(flips, cut, field, replacement):
    cloud = good_cloud()
    data = bytearray(cloud.data)
    for index, value in flips:
        data[index] = value
    cloud.data = bytes(data[:cut] if cut is not None else data)
    if replacement is not None:
        cloud.fields[field] = replacement
    check_cloud(cloud)


@pytest.mark.timeout(300)
@FUZZ
@given(encoding=st.sampled_from(list(IMAGE_CHANNELS) + ['16UC1', 'yuv422', 'RGB8', '']),
       width=st.one_of(st.integers(0, 40), st.integers(0, UINT32)),
       height=st.one_of(st.integers(0, 40), st.integers(0, UINT32)),
       step=st.one_of(st.just(0), st.integers(0, 200), st.integers(0, UINT32)),
       data=st.binary(max_size=40 * 40 * 4))
def test_any_image_decodes_or_raises_an_image_error(encoding, width, height, step, data):
    image = Image(height=height, width=width, encoding=encoding, step=step)
    image.data = data
    try:
        rgb = image_to_rgb(image)
    except ImageConversionError as error:
        one_clear_error(error)
        return
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8
