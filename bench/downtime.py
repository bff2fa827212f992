"""4. Zero downtime: one probe sending requests back to back (a new connection each) across consecutive releases
and rollbacks: 50 switches in full mode, 2 in quick mode; every failed request counted by kind."""

from __future__ import annotations

from edupro_verify.probes.http import ContinuousProbe
from edupro_verify.spec import load_profile
from edupro_verify.targets import resolve

from .common import Figure, deploy, median, progress


def downtime(quick: bool) -> list[Figure]:
    switches = 2 if quick else 50
    target = resolve(load_profile("development"))
    version = str(target.inventory.version or "2.0.0")
    times: list[float] = []
    with ContinuousProbe(target) as probe:
        for n in range(switches):
            action = ("release", f"{version}-bench") if n % 2 == 0 else ("rollback",)
            progress(f"zero downtime: {' '.join(action)} ({n + 1} of {switches})")
            times.append(deploy(*action))
    count = probe.count
    return [Figure("switches", switches), Figure("switch_median_time", median(times), "s"),
            Figure("probe_requests", count.requests), Figure("probe_failures", count.failures),
            Figure("probe_failures_by_kind", count.failed_how() or "none")]
