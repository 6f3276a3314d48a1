"""Trained detector models (weights + model cards), one folder per model."""
