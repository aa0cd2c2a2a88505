"""Layer 8, training: hyperparameters keyed by env id, run folders and checkpoints, SB3 training and its final
evaluation."""
