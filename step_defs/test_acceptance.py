"""Binds every feature to pytest, in the order an auditor reads them; compliance roll-ups last."""

from pytest_bdd import scenarios

scenarios(
    "phase1_requirements.feature",
    "phase2_design.feature",
    "phase3_environment.feature",
    "phase4_application.feature",
    "phase5_database.feature",
    "phase6_testing.feature",
    "phase7_release.feature",
    "phase8_maintenance.feature",
    "suite.feature",
    "compliance.feature",
)
