"""Which scenarios run: the phases asked for, plus the suite's own (phase 0); what the profile says does not apply."""

from __future__ import annotations

import pytest

from ..spec import Profile


def phase_of(item: pytest.Item) -> int | None:
    for mark in item.iter_markers():
        if mark.name.startswith("phase-"):
            return int(mark.name.removeprefix("phase-"))
    return None


def requirements_of(item: pytest.Item) -> list[str]:
    return sorted({m.name.removeprefix("REQ-") for m in item.iter_markers() if m.name.startswith("REQ-")})


def select(config: pytest.Config, items: list[pytest.Item], phases: set[int], profile: Profile) -> None:
    keep, drop = [], []
    for item in items:
        (keep if phase_of(item) in phases else drop).append(item)
        reqs = requirements_of(item)
        tags = [m.name for m in item.iter_markers() if m.name in profile.not_applicable_tags]
        if reqs and all(r in profile.not_applicable for r in reqs):
            reasons = "; ".join(profile.not_applicable[r] for r in reqs)
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {reasons}"))
        elif tags:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {profile.not_applicable_tags[tags[0]]}"))
    if drop:
        config.hook.pytest_deselected(items=drop)
    # Roll-ups read the results of the others, so they run last.
    items[:] = sorted(keep, key=lambda i: i.get_closest_marker("compliance") is not None)
