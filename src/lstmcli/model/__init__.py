"""The model and its artifact: task defaults, the layer stack, the predictor graph (scaling and
transforms as layers), the `.keras` archive with lstmcli's record, checkpoints, optimizers."""
