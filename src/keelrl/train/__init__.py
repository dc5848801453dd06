"""The only loops: online training, evaluation, checkpoints, logging."""
