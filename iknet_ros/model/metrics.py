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


def mpjpe_mm(positions: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (mm), wrist-aligned, over all leading dims."""
    return 1000 * (wrist_aligned(positions) - wrist_aligned(truth)).norm(dim=-1).mean()


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


def training_loss(local_rot, batch, rotation_weight: float = 20.0, accel_weight: float = 2.0):
    """FK position error (mm, true bone lengths) + rotation term + acceleration (jitter) term.

    The batch holds windows in triplets of consecutive frames (`data.training_batch`); the
    acceleration term is the mean ||second difference of predicted - true positions|| (mm). The
    rotation term is the squared Frobenius distance of the articulated joints' rotations, smooth
    where the geodesic is not. Returns (loss, mpjpe_mm) for the batch.
    """
    positions = predicted_positions(local_rot, batch.offsets)
    error = positions - wrist_aligned(batch.positions)                    # (N, 21, 3) metres
    position_mm = 1000 * error.norm(dim=-1).mean()
    triplets = error.view(-1, 3, *error.shape[1:])                        # (N/3, 3, 21, 3)
    accel_mm = 1000 * (triplets[:, 2] - 2 * triplets[:, 1] + triplets[:, 0]).norm(dim=-1).mean()
    idx = torch.tensor(_ARTICULATED, device=local_rot.device)
    rotation = (local_rot[:, idx] - batch.local_rot[:, idx]).square().sum((-1, -2)).mean()
    loss = position_mm + rotation_weight * rotation + accel_weight * accel_mm
    return loss, position_mm.detach()
