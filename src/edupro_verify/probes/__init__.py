"""Probes measure; they never decide. Steps compare what a probe returns with the spec."""
