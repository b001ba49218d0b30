"""Per-hand tracking over time: windows, inference, a steady skeleton (no rclpy)."""
