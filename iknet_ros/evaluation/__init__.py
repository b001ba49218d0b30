"""Measuring sticks: the synthetic held-out evaluation and the real-data evaluation."""
