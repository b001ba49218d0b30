"""Figures of the models and the synthetic data (matplotlib, Agg backend, PNG).

``draw_skeleton_3d`` is the one way to draw a hand in 3D: bones coloured per finger from the
skeleton definition, equal axis scales. ``iknet-ros plot KIND`` draws these.
"""
from pathlib import Path

import numpy as np

from iknet_ros.hand import skeleton as sk

# Plot coordinates from hand-frame coordinates (x distal, y radial, z dorsal): radial to the
# right, dorsal away from the viewer, distal up. Right-handed, so hands are not mirrored.
HAND_VIEW = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
# Plot coordinates from the camera optical frame (x right, y down, z forward): as the camera
# sees it when looked at from the default azimuth -90 (depth away from the viewer, image up).
CAMERA_VIEW = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def pyplot():
    """Return matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def set_axes_equal(ax, points, margin: float = 0.1):
    """Give a 3D axes equal scales on x, y, z around `points` (..., 3) (plot coordinates)."""
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    centre = (p.max(0) + p.min(0)) / 2.0
    half = (p.max(0) - p.min(0)).max() / 2.0 * (1.0 + margin) + 1e-9
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(centre[2] - half, centre[2] + half)
    ax.set_box_aspect((1, 1, 1))


def draw_skeleton_3d(ax, positions, view=HAND_VIEW, color=None, linestyle='-', alpha=1.0,
                     linewidth=2.0, joint_size=10.0, label=None, equal=True):
    """Draw one hand (21, 3) on a 3D axes; return its plot coordinates (21, 3).

    Bones take their finger's colour (skeleton.FINGER_COLORS) unless `color` is given; `view`
    maps the positions' frame to plot coordinates (HAND_VIEW, CAMERA_VIEW or any 3x3). With
    `equal` the axes are rescaled to fit this hand with equal scales.
    """
    p = np.asarray(positions, dtype=float) @ np.asarray(view, dtype=float).T   # (21, 3)
    for parent, child in sk.BONES:
        c = color if color is not None else sk.joint_color(child)
        ax.plot(*p[[parent, child]].T, color=c, linestyle=linestyle, alpha=alpha,
                linewidth=linewidth)
    joint_colors = [color if color is not None else sk.joint_color(j)
                    for j in range(sk.NUM_JOINTS)]
    ax.scatter(*p.T, c=joint_colors, s=joint_size, alpha=alpha, depthshade=False, label=label)
    if equal:
        set_axes_equal(ax, p)
    return p


def _tidy(ax, title):
    ax.set_title(title, fontsize=9)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])


# --- plot skeleton -------------------------------------------------------------------------------

SKELETON_POSES = ('open', 'relaxed', 'fist', 'point', 'pinch_index', 'pinch_ring', 'count_2',
                  'grasp_medium')


def plot_skeleton(out, seed: int = 0, poses=SKELETON_POSES, frames: int = 4):
    """Draw named poses (reference hand, palm side) and true vs noisy frames of a sequence."""
    import torch

    from iknet_ros.synth.mediapipe_model import observe_mediapipe
    from iknet_ros.synth.motion import generate_motion, pose_positions

    plt = pyplot()
    cols = 4
    pose_rows = -(-len(poses) // cols)
    fig = plt.figure(figsize=(3.2 * cols, 3.3 * (pose_rows + 1)))
    for k, name in enumerate(poses):
        ax = fig.add_subplot(pose_rows + 1, cols, k + 1, projection='3d')
        draw_skeleton_3d(ax, pose_positions(name).numpy())
        ax.view_init(elev=20, azim=-70)
        _tidy(ax, f'{name} (palm side)')

    motion = generate_motion(1, 90, seed)
    noisy = observe_mediapipe(motion, 'realistic', seed=seed)
    truth = motion.camera_positions()
    pick = np.linspace(0, motion.positions.shape[1] - 1, frames).round().astype(int)
    for k, t in enumerate(pick):
        ax = fig.add_subplot(pose_rows + 1, cols, pose_rows * cols + k + 1, projection='3d')
        true = truth[0, t].numpy()
        seen = noisy.xyz[0, t].numpy()
        p = draw_skeleton_3d(ax, true, view=CAMERA_VIEW, equal=False, label='true')
        q = draw_skeleton_3d(ax, seen, view=CAMERA_VIEW, color='0.25', linestyle='--',
                             alpha=0.8, linewidth=1.2, joint_size=6, label='noisy',
                             equal=False)
        set_axes_equal(ax, np.concatenate([p, q]))
        ax.view_init(elev=10, azim=-90)
        err = torch.linalg.norm(noisy.xyz[0, t] - truth[0, t], dim=-1).mean()
        _tidy(ax, f'camera view, frame {t}: true vs MediaPipe-like\n'
                  f'mean error {1000 * float(err):.1f} mm')
        if k == 0:
            ax.legend(loc='lower left', fontsize=7)
    fig.suptitle(f'iknet_ros generated hands (seed {seed}); bones coloured per finger: thumb red, '
                 'index yellow, middle green, ring blue, pinky magenta', fontsize=10)
    fig.tight_layout()
    return save(fig, out)


# --- plots of the trained models -----------------------------------------------------------------

MODEL_COLORS = {'sequence': 'tab:blue', 'baseline': 'black'}


def plot_curves(folders, out):
    """Train and validation MPJPE per epoch of each checkpoint folder (its history.json)."""
    import json

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for folder in folders:
        folder = Path(folder)
        history_file = folder / 'history.json'
        if not history_file.is_file():
            raise FileNotFoundError(f'no training history: {history_file}')
        history = json.loads(history_file.read_text())
        kind = json.loads((folder / 'config.json').read_text())['kind']
        epochs = [h['epoch'] for h in history]
        for ax, key in zip(axes, ('train_mpjpe_mm', 'val_mpjpe_mm'), strict=True):
            ax.plot(epochs, [h[key] for h in history], color=MODEL_COLORS.get(kind),
                    marker='.', label=kind if folder.name == kind else f'{kind} ({folder.name})')
    for ax, title in zip(axes, ('training MPJPE (streamed, mixed noise)',
                                'validation MPJPE (held-out, realistic)'), strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel('epoch')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('MPJPE (mm)')
    axes[1].legend()
    fig.tight_layout()
    return save(fig, out)


def _held_out_sample(sequence: int, frame: int, level='realistic', frames: int = 90):
    from iknet_ros.model import data as hand_data

    data = hand_data.held_out_set(level, sequences=sequence + 1, frames=frames)
    return data, sequence, frame


def plot_attention(folder, out, sequence: int = 0, frame: int = 45, heads: bool = False):
    """Each layer's frames x frames attention for one held-out window, and the newest row."""
    import torch

    from iknet_ros.model import data as hand_data
    from iknet_ros.model.checkpoint import load_checkpoint

    model, _ = load_checkpoint(folder, 'sequence')
    data, s, f = _held_out_sample(sequence, frame)
    T = model.config.window
    F = data.positions.shape[1]
    window = hand_data.sliding_batch(data, T).part(slice(s * F + f, s * F + f + 1)).window
    with torch.no_grad():
        attention = model(window, need_attention=True)['attention'][0].numpy()
    layers, n_heads = attention.shape[:2]
    rows = 1 + (layers if heads else 0)
    cols = max(layers + 1, n_heads if heads else 0)
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    ages = [f'{T - 1 - i}' for i in range(T)]  # frames back from the newest
    for layer in range(layers):
        ax = axes[0, layer]
        ax.axis('on')
        ax.imshow(attention[layer].mean(0), cmap='viridis', vmin=0)
        ax.set_title(f'layer {layer + 1} (mean of {n_heads} heads)', fontsize=9)
        ax.set_xlabel('key: frames back')
        ax.set_ylabel('query: frames back')
        ticks = range(0, T, max(1, T // 4))
        ax.set_xticks(list(ticks), [ages[i] for i in ticks])
        ax.set_yticks(list(ticks), [ages[i] for i in ticks])
    ax = axes[0, layers]
    ax.axis('on')
    width = 0.8 / layers
    for layer in range(layers):
        ax.bar(np.arange(T) + layer * width, attention[layer].mean(0)[-1], width=width,
               label=f'layer {layer + 1}')
    ax.set_xticks(range(0, T, max(1, T // 4)), [ages[i] for i in range(0, T, max(1, T // 4))])
    ax.set_xlabel('frames back from the newest')
    ax.set_ylabel('attention of the newest frame')
    ax.legend(fontsize=7)
    ax.set_title('newest frame over the window', fontsize=9)
    if heads:
        for layer in range(layers):
            for h in range(n_heads):
                ax = axes[1 + layer, h]
                ax.axis('on')
                ax.imshow(attention[layer, h], cmap='viridis', vmin=0)
                ax.set_title(f'layer {layer + 1} head {h + 1}', fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(f'sequence IKNet attention, held-out sequence {s}, frame {f} (realistic noise)',
                 fontsize=10)
    fig.tight_layout()
    return save(fig, out)


def plot_predictions(folders, out, frames: int = 4):
    """Noisy input, baseline, sequence prediction and truth for frames of a fast held-out motion."""
    import torch

    from iknet_ros.evaluation.synthetic import predict_sequences
    from iknet_ros.model.checkpoint import load_checkpoint
    from iknet_ros.model.metrics import predicted_positions, wrist_aligned

    data, _, _ = _held_out_sample(15, 0)
    speed = (data.positions[:, 1:] - data.positions[:, :-1]).norm(dim=-1).mean(-1)  # (S, F-1)
    s = int(speed.max(dim=1).values.argmax())
    peak = int(speed[s].argmax())
    pick = np.clip(np.arange(peak - frames // 2, peak - frames // 2 + frames), 0,
                   data.positions.shape[1] - 1)
    truth = wrist_aligned(data.positions[s])
    shown = {'input': wrist_aligned(data.observed.keypoints[s])}
    for folder in folders:
        model, config = load_checkpoint(folder)
        local_rot = predict_sequences(model, data, 'cpu')[0][s]
        shown[config['kind']] = predicted_positions(local_rot, data.offsets[s])
    plt = pyplot()
    fig = plt.figure(figsize=(3.0 * frames, 3.0 * len(shown)))
    styles = {'input': ('0.4', '--'), 'baseline': ('black', '-'), 'sequence': ('tab:blue', '-')}
    for col, t in enumerate(pick):
        for row, (name, positions) in enumerate(shown.items()):
            ax = fig.add_subplot(len(shown), frames, row * frames + col + 1, projection='3d')
            p = draw_skeleton_3d(ax, truth[t].numpy(), view=CAMERA_VIEW, equal=False,
                                 alpha=0.35, linewidth=3)
            color, style = styles.get(name, ('tab:orange', '-'))
            q = draw_skeleton_3d(ax, positions[t].numpy(), view=CAMERA_VIEW, color=color,
                                 linestyle=style, linewidth=1.3, joint_size=5, equal=False)
            set_axes_equal(ax, np.concatenate([p, q]))
            ax.view_init(elev=10, azim=-90)
            err = 1000 * float(torch.linalg.norm(positions[t] - truth[t], dim=-1).mean())
            _tidy(ax, f'{name}, frame {t}: {err:.1f} mm')
    fig.suptitle('fast held-out motion: each prediction (dark) over the truth (coloured, faint)',
                 fontsize=10)
    fig.tight_layout()
    return save(fig, out)


def save(fig, out, dpi: int = 110) -> Path:
    """Write `fig` as a PNG at `out` (its folder made), close it, return the path."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    pyplot().close(fig)
    return Path(out)


def default_checkpoints() -> list:
    """The shipped baseline and sequence checkpoint folders."""
    from iknet_ros.model.checkpoint import default_checkpoint

    return [default_checkpoint('baseline'), default_checkpoint('sequence')]
