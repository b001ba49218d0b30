"""The IKNets, their data, training and checkpoints."""

# the two networks (model.networks.MODELS), named here so the CLI needs no torch to list them
MODEL_KINDS = ('baseline', 'sequence')
