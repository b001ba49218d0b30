"""Hand detection core (no rclpy): MediaPipe keypoints, camera placement, video frames."""
