"""Measuring sticks: the synthetic held-out evaluation and the real-data evaluation."""

# the methods of the real-data evaluation (evaluation.methods), named here so the CLI lists
# them without importing torch
REAL_METHODS = ('mediapipe', 'one_euro', 'mediapipe_offsets', 'ik', 'baseline', 'sequence',
                'sequence_raw')
