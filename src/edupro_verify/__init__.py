"""EduPro acceptance: specs, targets, probes, evidence and signed reports."""

__version__ = "0.1.0"
