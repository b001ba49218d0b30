"""Plots (matplotlib, Agg backend, PNG) and the ``iknet-ros plot KIND`` command.

``draw_skeleton_3d`` is the one way to draw a hand: bones coloured per finger from the skeleton
definition, equal axis scales. Plot kinds are listed in ``KINDS``; each has its own options and is
run as ``iknet-ros plot KIND ...``.
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
        finger = sk.FINGER_OF_JOINT[child]
        c = color if color is not None else sk.FINGER_COLORS[finger]
        ax.plot(*p[[parent, child]].T, color=c, linestyle=linestyle, alpha=alpha,
                linewidth=linewidth)
    joint_colors = [color if color is not None else
                    (sk.WRIST_COLOR if f < 0 else sk.FINGER_COLORS[f]) for f in sk.FINGER_OF_JOINT]
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

    from iknet_ros.hand.motion import generate_motion, pose_positions
    from iknet_ros.hand.observation import observe

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
    noisy = observe(motion.positions, 'realistic', seed=seed)
    pick = np.linspace(0, motion.positions.shape[1] - 1, frames).round().astype(int)
    for k, t in enumerate(pick):
        ax = fig.add_subplot(pose_rows + 1, cols, pose_rows * cols + k + 1, projection='3d')
        true = motion.positions[0, t].numpy()
        seen = noisy.keypoints[0, t].numpy()
        p = draw_skeleton_3d(ax, true, view=CAMERA_VIEW, equal=False, label='true')
        q = draw_skeleton_3d(ax, seen, view=CAMERA_VIEW, color='0.25', linestyle='--',
                             alpha=0.8, linewidth=1.2, joint_size=6, label='noisy',
                             equal=False)
        set_axes_equal(ax, np.concatenate([p, q]))
        ax.view_init(elev=10, azim=-90)
        err = torch.linalg.norm(noisy.keypoints[0, t] - motion.positions[0, t], dim=-1).mean()
        _tidy(ax, f'camera view, frame {t}: true vs realistic\n'
                  f'mean error {1000 * float(err):.1f} mm')
        if k == 0:
            ax.legend(loc='lower left', fontsize=7)
    fig.suptitle(f'iknet_ros generated hands (seed {seed}); bones coloured per finger: thumb red, '
                 'index yellow, middle green, ring blue, pinky magenta', fontsize=10)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return Path(out)


def _skeleton_arguments(parser):
    parser.add_argument('--out', required=True, metavar='FILE.png', help='PNG to write')
    parser.add_argument('--seed', type=int, default=0, help='sequence seed (default 0)')


def _skeleton_run(args) -> int:
    path = plot_skeleton(args.out, args.seed)
    print(f'wrote {path}')
    return 0


# kind -> (one-line help, add_arguments(parser), run(args) -> int)
KINDS = {
    'skeleton': ('3D skeletons of generated poses and true vs noisy keypoints',
                 _skeleton_arguments, _skeleton_run),
}


def add_arguments(parser):
    """Add one sub-command per plot kind: ``iknet-ros plot KIND ...``."""
    kinds = parser.add_subparsers(dest='kind', metavar='KIND', required=True)
    for name, (help_text, add, run_kind) in KINDS.items():
        sub = kinds.add_parser(name, help=help_text, description=help_text)
        add(sub)
        sub.set_defaults(plot_run=run_kind)


def run(args) -> int:
    """Run the chosen plot kind."""
    return args.plot_run(args)
