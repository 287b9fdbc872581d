"""Experiment tracking: experiments, runs, params, metric series, tags, lake inputs, artifacts
and logged models."""
