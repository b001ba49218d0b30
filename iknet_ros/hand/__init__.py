"""Hand model: the skeleton, kinematics, synthetic motion and the detector-noise model."""
