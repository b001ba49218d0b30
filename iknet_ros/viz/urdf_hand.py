"""A recorded run's /hand/joint_states against the hand URDF, and the URDF hand drawn.

``iknet-ros plot urdf --bag DIR --out FILE.png`` prints each DOF's range against its limits and
how far the URDF's forward kinematics (yourdfpy, the URDF given each frame's bone lengths) at the
published angles lands from the published skeleton (the /hand/skeleton joints), and draws the
URDF's own geometry at a few frames.
"""
import io

import numpy as np
import yourdfpy
from scipy.spatial.transform import Rotation

from iknet_ros.hand import angles as ha
from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.urdf import bone_lengths_of, hand_urdf
from iknet_ros.viz.plots import HAND_VIEW, pyplot, save, set_axes_equal

TOPICS = ('/hand/joint_states', '/hand/joint_rotations', '/hand/skeleton')


def read_frames(folder, side):
    """[(angles (D,), quat (21, 4), offsets (21, 3), skeleton joints (21, 3))] per stamp."""
    from iknet_ros.ros.recording import read_bag

    by_stamp = {}
    for topic, messages in read_bag(folder, set(TOPICS)).items():
        for _, msg in messages:
            header = msg.markers[0].header if topic == '/hand/skeleton' else msg.header
            by_stamp.setdefault((header.stamp.sec, header.stamp.nanosec), {})[topic] = msg
    frames = []
    for _, msgs in sorted(by_stamp.items()):
        if len(msgs) < len(TOPICS):
            continue
        states, rotations, skeleton = (msgs[t] for t in TOPICS)
        names = ha.dof_names(side)
        if names[0] not in states.name:
            continue
        k = list(states.name).index(names[0])
        angles = np.array(states.position[k:k + ha.NUM_DOFS])
        by_name = dict(zip(rotations.joint_names, rotations.transforms, strict=True))
        ts = [by_name[n] for n in sk.side_joint_names(side)]
        quat = np.array([[t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w] for t in ts])
        offsets = np.array([[t.translation.x, t.translation.y, t.translation.z] for t in ts])
        [joints] = [m for m in skeleton.markers if m.ns == f'{side}_hand' and m.id == 1]
        frames.append((angles, quat, offsets, np.array([[p.x, p.y, p.z] for p in joints.points])))
    return frames


class UrdfHands:
    """One parsed URDF per distinct set of bone lengths (a track holds its lengths)."""

    def __init__(self, side):
        self.side, self.cache = side, {}

    def robot(self, offsets):
        """The URDF of the bone lengths of (21, 3) `offsets`, parsed once."""
        lengths = bone_lengths_of(offsets)
        key = tuple(round(v, 9) for v in lengths.values())
        if key not in self.cache:
            self.cache[key] = yourdfpy.URDF.load(io.StringIO(hand_urdf(self.side, lengths)),
                                                 build_scene_graph=True, load_meshes=False)
        return self.cache[key]

    def posed(self, angles, offsets):
        """That URDF at DOF `angles` (D,) rad."""
        robot = self.robot(offsets)
        robot.update_cfg(dict(zip(ha.dof_names(self.side), angles, strict=True)))
        return robot


def wrist_pose(quat, offsets):
    """(4, 4) camera -> wrist, as iknet_node's TF has it."""
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = Rotation.from_quat(quat[0]).as_matrix(), offsets[0]
    return pose


def table(frames, side):
    """Print each DOF's range against its limits and the share of frames outside them."""
    angles = np.degrees(np.stack([f[0] for f in frames]))                  # (F, D)
    excess = np.degrees(ha.limit_excess(np.radians(angles)))
    print(f'{"DOF":28s} {"min":>7s} {"max":>7s}   limits        frames out (>0.5 deg)')
    for i, dof in enumerate(ha.DOFS):
        print(f'{side}_{dof.name:22s} {angles[:, i].min():7.1f} {angles[:, i].max():7.1f}   '
              f'[{np.degrees(dof.lower):5.0f}, {np.degrees(dof.upper):4.0f}]   '
              f'{100 * (excess[:, i] > 0.5).mean():5.1f} %')
    print(f'frames with some DOF out of limits: '
          f'{100 * ha.outside_limits(np.radians(angles)).mean():.1f} %')


def draw(ax, robot, side, published_in_wrist):
    """The URDF's visuals (cylinders as thick lines, spheres as dots) in the wrist frame."""
    points = []
    for name, link in robot.link_map.items():
        pose = robot.get_transform(name, f'{side}_wrist')
        for visual in link.visuals:
            rgba = robot._material_map[visual.material.name].color.rgba
            at = pose @ visual.origin
            if visual.geometry.cylinder is not None:
                half = visual.geometry.cylinder.length / 2.0
                ends = np.array([at[:3, 3] - at[:3, 2] * half, at[:3, 3] + at[:3, 2] * half])
                ends = ends @ HAND_VIEW.T
                ax.plot(*ends.T, color=rgba[:3], linewidth=5, solid_capstyle='round')
                points.extend(ends)
            else:
                p = at[:3, 3] @ HAND_VIEW.T
                ax.scatter(*p, color=rgba[:3], s=30, depthshade=False)
                points.append(p)
    shown = published_in_wrist @ HAND_VIEW.T
    ax.scatter(*shown.T, color='black', s=6, depthshade=False)
    set_axes_equal(ax, np.array(points))


def check_run(folder, side: str = 'right', out=None, picks=None):
    """Print the DOF table and the URDF-FK distance of a recorded run; draw `out` (PNG)."""
    frames = read_frames(folder, side)
    if not frames:
        raise ValueError(f'{folder} holds no {side} hand with joint states')
    print(f'{len(frames)} frames with a {side} hand')
    table(frames, side)
    hands = UrdfHands(side)
    names = sk.side_joint_names(side)
    errors = []
    for angles, quat, offsets, published in frames:
        robot, wrist = hands.posed(angles, offsets), wrist_pose(quat, offsets)
        urdf = np.array([(wrist @ robot.get_transform(n, names[0]))[:3, 3] for n in names])
        errors.append(np.linalg.norm(urdf - published, axis=-1) * 1000.0)
    errors = np.array(errors)                                              # (F, 21) mm
    print(f'URDF FK vs published skeleton over {errors.size} joints: max {errors.max():.4f} mm, '
          f'mean {errors.mean():.5f} mm')
    if out is None:
        return None
    picks = picks or np.linspace(0, len(frames) - 1, 4).astype(int).tolist()
    plt = pyplot()
    fig = plt.figure(figsize=(3.2 * len(picks), 3.6))
    for k, f in enumerate(picks):
        angles, quat, offsets, published = frames[f]
        ax = fig.add_subplot(1, len(picks), k + 1, projection='3d')
        wrist = wrist_pose(quat, offsets)
        in_wrist = (published - wrist[:3, 3]) @ wrist[:3, :3]             # (21, 3)
        draw(ax, hands.posed(angles, offsets), side, in_wrist)
        ax.view_init(elev=15, azim=-70)
        mcp = np.degrees(angles[ha.dof_names(side).index(f'{side}_index_mcp_flexion')])
        ax.set_title(f'frame {f}: index MCP flexion {mcp:.0f} deg', fontsize=8)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
    fig.suptitle('hand URDF at published /hand/joint_states (black dots: published skeleton)',
                 fontsize=9)
    fig.tight_layout()
    return save(fig, out)
