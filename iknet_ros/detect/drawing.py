"""The one 2D hand drawer: bones coloured per finger over an RGB image (OpenCV).

keypoint_node draws the debug image with it and the demo's pictures draw the published skeleton.
"""
import cv2
import numpy as np

from iknet_ros.hand import skeleton as sk


def _rgb255(color) -> tuple:
    return tuple(int(round(255 * c)) for c in color)


def draw_skeleton_2d(rgb: np.ndarray, uv, thickness: int = 2, joints=None, label: str = None):
    """Draw a (21, 2) pixel skeleton onto `rgb` in place and return it.

    Bones take their child joint's finger colour; joints are drawn in `joints` (an RGB 0-1
    colour) or their own finger's colour; `label` is written beside the wrist.
    """
    points = np.round(np.asarray(uv, dtype=float)).astype(np.int32)
    for parent, child in sk.BONES:
        cv2.line(rgb, tuple(points[parent]), tuple(points[child]),
                 _rgb255(sk.joint_color(child)), thickness, cv2.LINE_AA)
    for joint, point in enumerate(points):
        color = _rgb255(joints if joints is not None else sk.joint_color(joint))
        cv2.circle(rgb, tuple(point), thickness + 1, color, -1, cv2.LINE_AA)
    if label:
        cv2.putText(rgb, label, tuple(points[sk.ROOT] + (8, 16)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, _rgb255(sk.WRIST_COLOR), thickness, cv2.LINE_AA)
    return rgb


def draw_landmarks(rgb: np.ndarray, hands: list) -> np.ndarray:
    """A copy of `rgb` with each detected hand drawn and labelled with its side and score."""
    out = np.array(rgb, dtype=np.uint8, copy=True)
    thickness = max(1, round(max(out.shape[:2]) / 400))
    for hand in hands:
        draw_skeleton_2d(out, hand.uv, thickness, label=f'{hand.side} {hand.score:.2f}')
    return out
