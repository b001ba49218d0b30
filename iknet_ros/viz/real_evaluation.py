"""The real-data evaluation at a glance: per dataset, accuracy against jitter, one point per method.

Lower left is better on every panel. Ground-truth frames are single images (no jitter), so
their panel puts the pose error after a similarity alignment (PA-MPJPE) against the
wrist-aligned error instead.
"""
import math
import textwrap
from pathlib import Path

import numpy as np

from iknet_ros.viz.plots import pyplot

# kind -> (x metric, x label, y metric, y label)
AXES = {
    'gt_frames': ('pa_mpjpe_mm', 'PA-MPJPE (mm)', 'mpjpe_wrist_mm', 'wrist-aligned MPJPE (mm)'),
    'stereo': ('accel_mm', 'acceleration error (mm/frame²)', 'mpjpe_wrist_mm',
               'wrist-aligned MPJPE vs reference (mm)'),
    'videos': ('accel_mm', 'mean acceleration (mm/frame²)', 'tips_2d_rel_palm',
               '2D tip error / palm length'),
}


def plot_real_evaluation(results: dict, out) -> Path:
    """Draw one panel per dataset of an ``evaluate-real`` result; return the PNG's path."""
    plt = pyplot()
    datasets = list(results['datasets'].items())
    methods = results['methods']
    colours = {m: plt.get_cmap('tab10')(i % 10) for i, m in enumerate(methods)}
    columns = min(4, len(datasets))
    rows = math.ceil(len(datasets) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False)
    for ax, (key, entry) in zip(axes.ravel(), datasets, strict=False):
        x_key, x_label, y_key, y_label = AXES[entry['kind']]
        points = {m: (metrics.get(x_key), metrics.get(y_key))
                  for m, metrics in entry['methods'].items()}
        points = {m: p for m, p in points.items()
                  if None not in p and np.isfinite(p).all()}
        for group in _coinciding(points):
            x, y = points[group[0]]
            for method in group:
                ax.scatter(*points[method], color=colours[method], s=36, zorder=3)
            colour = colours[group[0]] if len(group) == 1 else 'black'
            ax.annotate(textwrap.fill(', '.join(group), 26), (x, y), xytext=(4, 3),
                        textcoords='offset points', fontsize=7, color=colour)
        ax.set_title(f'{key} ({entry["frames"]} frames)', fontsize=9)
        ax.set_xlabel(x_label, fontsize=8)
        ax.set_ylabel(y_label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.margins(0.15)
    for ax in axes.ravel()[len(datasets):]:
        ax.axis('off')
    fig.suptitle('Real hands: accuracy against jitter per dataset (lower left is better)',
                 fontsize=11)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _coinciding(points: dict, tolerance: float = 0.01) -> list:
    """Methods grouped where their points lie within `tolerance` of the data's range.

    One label per group keeps the names of methods at the same place readable.
    """
    if not points:
        return []
    xy = np.array(list(points.values()), dtype=float)                    # (M, 2)
    span = np.maximum(np.ptp(xy, axis=0), 1e-12)
    groups = []
    for method, point in points.items():
        for group in groups:
            if np.all(np.abs(np.asarray(points[group[0]]) - point) <= tolerance * span):
                group.append(method)
                break
        else:
            groups.append([method])
    return groups
