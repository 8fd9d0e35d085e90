"""Evaluation: datasets (BEIR-like, CMRC 2018), metrics (ranx), the runner behind `qa eval`."""
