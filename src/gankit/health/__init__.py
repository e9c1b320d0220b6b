"""Training health: the statistics a check measures, the diagnoses, and `gankit doctor`."""
