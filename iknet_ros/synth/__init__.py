"""Synthetic hands: motion in front of a camera and a model of the detector's errors."""
