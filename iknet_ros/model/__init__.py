"""The IKNets: networks, data, training, evaluation, checkpoints."""
