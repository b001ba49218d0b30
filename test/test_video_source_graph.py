"""video_source in a graph: no frame of a file lost, as hand.launch.py runs it.

It waits for the graph's nodes (wait_for_graph) and paces the file by the graph's answers
(pace_topic).
"""
import time

from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image, PointCloud2

from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.video_source import VideoSource


def video_source(graph, **parameters):
    overrides = [Parameter(name, value=value) for name, value in parameters.items()]
    return graph.add(VideoSource(context=graph.context, parameter_overrides=overrides))


def subscriber(graph, name, images):
    node = graph.add(Node(name, context=graph.context))
    node.create_subscription(Image, 'image', images.append,
                             QoSProfile(depth=100, reliability=qos_profile_sensor_data.reliability))
    return node


def answering_detector(graph, images, answering):
    """A detector that keeps every image and answers each on 'answers' once `answering` is set."""
    detector = graph.add(Node('detector', context=graph.context))
    answers = detector.create_publisher(PointCloud2, 'answers', 10)

    def on_image(msg):
        images.append(msg)
        if answering:
            answers.publish(PointCloud2(header=msg.header))

    detector.create_subscription(
        Image, 'image', on_image,
        QoSProfile(depth=100, reliability=qos_profile_sensor_data.reliability))
    return answers


def test_wait_for_graph_waits_for_the_nodes_not_for_any_subscriber(ros_graph, small_video):
    seen, detected = [], []
    subscriber(ros_graph, 'observer', seen)  # as RViz: subscribes, is not the graph
    source = video_source(ros_graph, video=str(small_video), wait_for_graph=True,
                          graph_nodes=['detector'])
    time.sleep(0.5)
    assert source.published == 0, 'published before the graph was up'
    subscriber(ros_graph, 'detector', detected)
    assert wait_for(source.finished.is_set, 10)
    assert source.published == 8 and wait_for(lambda: len(detected) == 8, 3), len(detected)


def test_pace_topic_holds_each_frame_until_the_one_before_is_answered(ros_graph, small_video):
    images, answering = [], []
    answers = answering_detector(ros_graph, images, answering)
    source = video_source(ros_graph, video=str(small_video), wait_for_subscriber=True,
                          pace_topic='answers')
    assert wait_for(lambda: len(images) == 1, 10)
    time.sleep(0.3)  # shorter than the 1 s after which an unanswered frame is given up on
    assert source.published == 1, 'the next frame went out before the first was answered'
    answers.publish(PointCloud2(header=images[0].header))
    assert wait_for(lambda: len(images) == 2, 3)
    answering.append(True)
    answers.publish(PointCloud2(header=images[1].header))
    assert wait_for(source.finished.is_set, 10)
    assert source.published == 8 and wait_for(lambda: len(images) == 8, 3)


def test_an_unanswered_first_frame_goes_again_until_the_graph_answers(ros_graph, small_video):
    images, answering = [], []
    answers = answering_detector(ros_graph, images, answering)
    source = video_source(ros_graph, video=str(small_video), wait_for_subscriber=True,
                          pace_topic='answers')
    assert wait_for(lambda: len(images) == 2, 5), 'the unanswered first frame did not go again'
    first, again = images[:2]
    assert bytes(again.data) == bytes(first.data) and again.header.stamp != first.header.stamp
    assert source.published == 1, 'a first frame sent again is still the first frame of the file'
    answering.append(True)
    answers.publish(PointCloud2(header=images[-1].header))
    assert wait_for(source.finished.is_set, 10)
    assert source.published == 8 and wait_for(lambda: len(images) >= 9, 3)
    assert len({bytes(image.data[:1]) for image in images}) == 8  # grey level 20 i of frame i
