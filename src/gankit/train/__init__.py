"""Training: state, step, EMA, hooks, checkpoints, distributed set-up and the loop."""
