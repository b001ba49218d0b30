"""iknet_ros: live 3D hand tracking, MediaPipe keypoints to joint rotations (sequence IKNet)."""

__version__ = '0.1.0'
