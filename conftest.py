"""The EduPro acceptance suite: `pytest --env development [--phase N]` (see README)."""

pytest_plugins = [
    "edupro_verify.plugin",
    "step_defs.common",
    "step_defs.host",
    "step_defs.network",
    "step_defs.governance",
    "step_defs.design",
    "step_defs.environment",
    "step_defs.tls",
    "step_defs.application",
    "step_defs.database",
    "step_defs.security",
    "step_defs.privacy",
    "step_defs.load",
    "step_defs.release",
    "step_defs.operations",
    "step_defs.suite",
]
