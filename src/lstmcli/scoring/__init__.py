"""Judging a model: the naive, seasonal-naive and majority baselines, metric gates
(`evaluate --fail-if`) and metrics files (JSON, YAML, CSV, text)."""
