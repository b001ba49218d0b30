"""The evaluation contract's metrics, in millimetres and degrees, and the training loss."""
import torch

from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk

_ARTICULATED = list(sk.ARTICULATED)


def wrist_aligned(positions: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3) -> positions relative to the wrist."""
    return positions - positions[..., :1, :]


def predicted_positions(local_rot: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """FK of predicted rotations on the true bone lengths, wrist at the origin: (..., 21, 3)."""
    return kin.forward_kinematics(local_rot, offsets)[1]


def placed_skeleton(local_rot: torch.Tensor, shape: torch.Tensor,
                    rays: torch.Tensor) -> torch.Tensor:
    """The skeleton a track publishes from one frame, in the camera frame: (..., 21, 3).

    The rotations on the model's own bones (`shape`), moved onto the rays of the 2D landmarks,
    as the tracker does before it has averaged its bones over frames.
    """
    offsets = kin.skeleton_offsets(kin.bone_lengths(shape), shape @ local_rot[..., 0, :, :])
    positions = kin.forward_kinematics(local_rot, offsets)[1]
    return positions + kin.place_on_rays(positions, rays)[..., None, :]


def mpjpe_mm(positions: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (mm), wrist-aligned, over all leading dims."""
    return 1000 * (wrist_aligned(positions) - wrist_aligned(truth)).norm(dim=-1).mean()


def camera_mpjpe_mm(positions: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (mm) in the camera frame, over all leading dims."""
    return 1000 * (positions - truth).norm(dim=-1).mean()


def accel_error_mm(positions: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean ||second difference of prediction - that of the truth|| (mm/frame^2).

    positions, truth: (S, F, 21, 3) whole sequences, wrist-aligned here; the jitter measure.
    """
    def accel(x):
        x = wrist_aligned(x)
        return x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]
    return 1000 * (accel(positions) - accel(truth)).norm(dim=-1).mean()


def angle_error_deg(local_rot: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean geodesic error (deg) of the articulated joints' local rotations (wrist: global)."""
    idx = torch.tensor(_ARTICULATED, device=local_rot.device)
    return torch.rad2deg(kin.geodesic_angle(local_rot[..., idx, :, :],
                                            truth[..., idx, :, :])).mean()


# weights of the training loss's terms (each in mm, but the rotation term)
LOSS_WEIGHTS = {'pose': 1.0, 'shape': 1.0, 'camera': 0.3, 'rotation': 20.0, 'accel': 2.0}


def training_loss(out: dict, batch, **weights):
    """The training loss of a model's output on a batch; returns (loss, pose MPJPE in mm).

    pose: FK of the rotations on the true bones, wrist-aligned (articulation and orientation);
    shape: the model's own skeleton against the true joint centres, wrist-aligned (it learns
    MediaPipe's landmark convention and the hand's size); camera: the skeleton a track publishes
    from one frame against the truth in the camera frame (where the hand is); rotation: squared
    Frobenius distance of the articulated joints' rotations (smooth where the geodesic is not);
    accel: over the batch's triplets of consecutive frames, the second difference of the pose
    error (jitter).
    """
    w = {**LOSS_WEIGHTS, **weights}
    local_rot, shape = out['local_rot'], out['shape']
    error = predicted_positions(local_rot, batch.offsets) - wrist_aligned(batch.positions)
    pose_mm = 1000 * error.norm(dim=-1).mean()
    shape_mm = mpjpe_mm(shape, batch.positions)
    camera_mm = camera_mpjpe_mm(placed_skeleton(local_rot, shape, batch.window.rays[:, -1]),
                                batch.positions)
    triplets = error.view(-1, 3, *error.shape[1:])                        # (N/3, 3, 21, 3)
    accel_mm = 1000 * (triplets[:, 2] - 2 * triplets[:, 1] + triplets[:, 0]).norm(dim=-1).mean()
    idx = torch.tensor(_ARTICULATED, device=local_rot.device)
    rotation = (local_rot[:, idx] - batch.local_rot[:, idx]).square().sum((-1, -2)).mean()
    loss = (w['pose'] * pose_mm + w['shape'] * shape_mm + w['camera'] * camera_mm
            + w['rotation'] * rotation + w['accel'] * accel_mm)
    return loss, pose_mm.detach()
