"""The demo's pictures of a recorded run (`ros.recording.RunRecord`): what the graph published.

* a strip of frames with the published skeleton projected over them,
* the newest frame's attention over the window, per layer, over the whole run,
* 3D views of published skeletons against the keypoints they came from.
"""
from pathlib import Path

import cv2
import numpy as np
from matplotlib.ticker import MaxNLocator

from iknet_ros.detect.drawing import draw_skeleton_2d
from iknet_ros.synth.camera import project
from iknet_ros.viz.plots import CAMERA_VIEW, draw_skeleton_3d, pyplot, save, set_axes_equal

STRIP_FRAMES = 6


def _in_front(skeletons: dict) -> bool:
    """Whether every hand is in front of the camera (before camera_info arrives it is not)."""
    return all(p[:, 2].min() > 0.05 for p in skeletons.values())


def write_strip(record, out: Path, k: np.ndarray, size) -> Path:
    """PNG strip: frames with the published skeleton (projected with `k`) drawn over them.

    With debug images the frames are those (MediaPipe's landmarks drawn thin); without (the
    synthetic source) the detections' pixels on a plain background.
    """
    stamps = sorted(s for s, hands in record.skeletons.items() if _in_front(hands)
                    and (s in record.images or not record.images))
    if not stamps:
        raise ValueError('the run published no joint rotations to draw')
    pick = [stamps[i] for i in np.linspace(0, len(stamps) - 1, STRIP_FRAMES).astype(int)]
    plt = pyplot()
    cols = (len(pick) + 1) // 2
    fig, axes = plt.subplots(2, cols, figsize=(4.2 * cols, 2 * 4.2 * size[1] / size[0] + 1.0))
    for ax, stamp in zip(axes.flat, pick, strict=True):
        if record.images:
            bgr = cv2.imdecode(np.frombuffer(record.images[stamp], np.uint8), cv2.IMREAD_COLOR)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        else:
            rgb = np.full((size[1], size[0], 3), 40, np.uint8)
            for hand in record.keypoints.get(stamp, []):
                for u, v in np.round(hand.uv).astype(int):
                    if 2 <= u < size[0] - 2 and 2 <= v < size[1] - 2:
                        rgb[v - 2:v + 3, u - 2:u + 3] = 160
        for positions in record.skeletons[stamp].values():
            draw_skeleton_2d(rgb, project(positions, k), thickness=max(2, size[0] // 320),
                             joints=(1.0, 1.0, 1.0))
        ax.imshow(rgb)
        ax.set_axis_off()
        ax.set_title(f't = {(stamp - pick[0]) * 1e-9:.1f} s', fontsize=9)
    fig.suptitle('published skeleton (thick: joint rotations + the track\'s bone lengths) over '
                 'the frames' + (' and MediaPipe landmarks (thin, debug image)' if record.images
                                 else ' and the detections (grey)'), fontsize=10)
    fig.tight_layout()
    return save(fig, Path(out) / 'annotated_frames.png', dpi=100)


def write_attention(record, out: Path) -> Path:
    """Attention of the newest frame over the window, over the whole run, per layer."""
    rows = [next(iter(hands.values())) for _, hands in sorted(record.attention.items())]
    if not rows:
        raise ValueError('the run published no attention to draw')
    attention = np.stack(rows)                                     # (frames, layers, T)
    layers, window = attention.shape[1:]
    plt = pyplot()
    fig, axes = plt.subplots(1, layers + 1, figsize=(4 * (layers + 1), 3.6))
    for layer in range(layers):
        ax = axes[layer]
        image = ax.imshow(attention[:, layer].T, aspect='auto', cmap='viridis', origin='lower',
                          interpolation='nearest')
        ax.set_yticks(range(window), [str(window - 1 - i) for i in range(window)])
        ax.set_xlabel('message (time)')
        ax.set_ylabel('frames back from the newest')
        ax.set_title(f'layer {layer + 1}: newest frame over the window', fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    ax = axes[layers]
    for layer in range(layers):
        ax.plot(range(window), attention[:, layer].mean(0)[::-1], marker='o',
                label=f'layer {layer + 1}')
    ax.set_xlabel('frames back from the newest')
    ax.set_ylabel('mean attention over the run')
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, Path(out) / 'attention.png', dpi=100)


def write_skeleton_view(record, out: Path) -> Path:
    """3D views of published skeletons against the keypoints they came from."""
    stamps = sorted(s for s in record.skeletons if s in record.keypoints)
    if not stamps:
        raise ValueError('the run published no joint rotations to draw')
    pick = [stamps[i] for i in np.linspace(0, len(stamps) - 1, 4).astype(int)]
    plt = pyplot()
    fig = plt.figure(figsize=(13, 3.6))
    for col, stamp in enumerate(pick):
        ax = fig.add_subplot(1, len(pick), col + 1, projection='3d')
        hands = {h.side: h.xyz for h in record.keypoints[stamp]}
        drawn = []
        for side, positions in record.skeletons[stamp].items():
            drawn.append(draw_skeleton_3d(ax, positions, view=CAMERA_VIEW, equal=False))
            if side in hands:
                drawn.append(draw_skeleton_3d(ax, hands[side], view=CAMERA_VIEW, color='0.3',
                                              linestyle='--', linewidth=1, joint_size=4,
                                              alpha=0.7, equal=False))
        set_axes_equal(ax, np.concatenate(drawn))
        ax.view_init(elev=10, azim=-90)
        ax.set_yticklabels([])  # depth, seen end-on: its labels would overlap
        for axis in (ax.xaxis, ax.zaxis):
            axis.set_major_locator(MaxNLocator(4))
        ax.set_title(f't = {(stamp - pick[0]) * 1e-9:.1f} s (axes in m)', fontsize=9)
    fig.suptitle('published skeleton (coloured) vs the keypoints it came from (dashed), '
                 'camera view', fontsize=10)
    fig.tight_layout()
    return save(fig, Path(out) / 'skeleton_3d.png', dpi=100)
