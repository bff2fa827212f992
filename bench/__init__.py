"""Benchmarks: figures, not tests. Each part prints `name: value unit` lines; nothing here passes or fails."""
