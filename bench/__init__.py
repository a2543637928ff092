"""Benchmarks, run by hand (``python -m bench.<name>``); their figures are recorded in the README."""
