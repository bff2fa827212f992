"""Monitoring, availability, recovery, backups, logs and the deployment record (phase 8)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pytest_bdd import then, when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import database as db
from edupro_verify.probes import host as host_probe
from edupro_verify.probes import logs
from edupro_verify.probes.monitoring import Prometheus, dashboard_metrics, promtool_check_rules
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .common import quantity
from .database import BACKUP_NAME, backups, history, newest_backup

JOBS = {"edupro-backend", "node", "prometheus"}
DAILY = re.compile(r"^\s*(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+\*\s+.*\bbackup\b", re.M)


@when("Prometheus is asked for its targets", target_fixture="targets")
def prom_targets(prometheus: Prometheus) -> list[dict[str, Any]]:
    return prometheus.targets()


@then("the backend, the host and Prometheus itself are scraped")
def scraped(targets: list[dict[str, Any]], evidence: Evidence) -> None:
    jobs = {t["labels"].get("job") for t in targets}
    evidence.measure("jobs scraped", sorted(j for j in jobs if j), sorted(JOBS))
    missing = JOBS - jobs
    assert not missing, f"not scraped: {', '.join(sorted(missing))}"


@then("every target is up")
def all_up(targets: list[dict[str, Any]], evidence: Evidence) -> None:
    down = [f"{t['labels'].get('job')} {t['labels'].get('instance')}: {t.get('lastError')}" for t in targets
            if t.get("health") != "up"]
    evidence.measure("targets down", down, "none")
    assert not down, f"targets down: {'; '.join(down)}"


@when("the application's metrics are queried in Prometheus", target_fixture="series")
def query_metrics(prometheus: Prometheus, profile: Profile) -> dict[str, int]:
    return {m: len(prometheus.query(m)) for m in profile.threshold("MON-02", "metrics")}


@then("request count, latency histogram and errors all return data")
def metrics_present(series: dict[str, int], evidence: Evidence) -> None:
    evidence.measure("series per metric", series, "> 0 each")
    empty = [m for m, n in series.items() if n == 0]
    assert not empty, f"metrics without data: {', '.join(empty)}"


@when("the alert rule files are checked with promtool", target_fixture="rules")
def check_rules(prometheus: Prometheus, target: Target) -> dict[str, Any]:
    files = prometheus.rule_files() or [str(target.path("alert_rules"))]
    where = target.service_host("monitoring")
    checked = {f: promtool_check_rules(where, f) for f in files}
    return {"checked": checked, "loaded": prometheus.loaded_alerts()}


@then("every rule file is valid")
def rules_valid(rules: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("promtool", {f: msg for f, (_, msg) in rules["checked"].items()}, "SUCCESS")
    invalid = [f for f, (ok, _) in rules["checked"].items() if not ok]
    assert not invalid, f"invalid rule file(s): {', '.join(invalid)}"


@then("every required alert is loaded in Prometheus")
def alerts_loaded(rules: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want = set(profile.threshold("MON-03", "alerts"))
    evidence.measure("alerts loaded", sorted(rules["loaded"]), sorted(want))
    missing = sorted(want - rules["loaded"])
    assert not missing, f"alerts not loaded: {', '.join(missing)}"


@when("the provisioned dashboards are read", target_fixture="dashboards")
def dashboards(target: Target, prometheus: Prometheus) -> dict[str, Any]:
    return {"used": dashboard_metrics(target.path("dashboards")), "known": prometheus.metric_names()}


@then("every dashboard is valid and every metric it uses exists in Prometheus")
def dashboards_valid(dashboards: dict[str, Any], evidence: Evidence) -> None:
    used, known = dashboards["used"], dashboards["known"]
    unknown = {d: [m for m in names if m not in known] for d, names in used.items()}
    unknown = {d: m for d, m in unknown.items() if m}
    evidence.measure("dashboards", {d: len(n) for d, n in used.items()})
    evidence.measure("metrics unknown to Prometheus", unknown, "none")
    assert used, "no dashboard is provisioned"
    assert not unknown, f"dashboards use metrics that do not exist: {unknown}"


@when("the backend's availability over the window is queried", target_fixture="availability")
def availability(prometheus: Prometheus, profile: Profile) -> float | None:
    window = int(quantity(profile, "OPS-01", "window"))
    result = prometheus.query(f'avg(avg_over_time(up{{job="edupro-backend"}}[{window}s]))')
    return float(result[0]["value"][1]) if result else None


@then("the availability is at least the required percentage")
def available(availability: float | None, profile: Profile, evidence: Evidence) -> None:
    need = quantity(profile, "OPS-01", "min_availability")
    evidence.measure("availability", None if availability is None else f"{availability:.4%}", f">= {need:.1%}")
    assert availability is not None, "Prometheus has no availability data for the backend"
    assert availability >= need, f"availability {availability:.3%} is under {need:.1%}"


@when("the newest backup is restored into a scratch database and timed", target_fixture="drill")
def restore_drill(target: Target) -> dict[str, Any]:
    name, dump = newest_backup(target)
    with db.Scratch(target) as scratch:
        seconds = scratch.restore(dump)
    return {"name": name, "seconds": seconds}


@then("the restore time scaled to production size is within the recovery time objective")
def rto(drill: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    scale = float(profile.threshold("OPS-02", "production_scale"))
    limit = quantity(profile, "OPS-02", "max_rto")
    scaled = drill["seconds"] * scale
    evidence.measure("restore drill", f"{drill['seconds']:.2f} s x {scale:g} = {scaled:.0f} s", f"<= {limit:.0f} s")
    assert scaled <= limit, f"the scaled restore takes {scaled / 3600:.1f} h, over {limit / 3600:.1f} h"


def next_wal(name: str) -> str:
    timeline, log, seg = name[:8], int(name[8:16], 16), int(name[16:24], 16)
    position = log * 256 + seg + 1
    return f"{timeline}{position // 256:08X}{position % 256:08X}"


@when("the write-ahead log archive is examined", target_fixture="archive")
def archive_state(target: Target) -> dict[str, Any]:
    with target.connect_db() as conn:
        mode = db.scalar(conn, "SHOW archive_mode")
        row = conn.execute("""SELECT archived_count, last_archived_wal, last_archived_time, failed_count,
                                     last_failed_time FROM pg_stat_archiver""").fetchone()
        current, offset = conn.execute("SELECT file_name, file_offset FROM pg_walfile_name_offset(pg_current_wal_insert_lsn())").fetchone()
    archived, last_wal, last_time, failed, failed_time = row
    nothing_new = last_wal is not None and current == next_wal(last_wal) and offset <= 8192
    at_risk = 0.0 if nothing_new or last_time is None else (datetime.now(UTC) - last_time).total_seconds()
    return {"mode": mode, "archived": archived, "last_wal": last_wal, "last_time": last_time, "failed": failed,
            "failed_time": failed_time, "at_risk_seconds": at_risk}


@then("archiving is on and has not failed")
def archiving_on(archive: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("archive", {k: str(archive[k]) for k in ("mode", "archived", "last_wal", "failed")}, "on, no failure")
    assert archive["mode"] == "on", "WAL archiving is off"
    assert archive["archived"], "no WAL segment has ever been archived"
    recent_failure = archive["failed_time"] and (archive["last_time"] is None or archive["failed_time"] > archive["last_time"])
    assert not recent_failure, f"WAL archiving is failing (last failure {archive['failed_time']})"


@then("the data at risk is younger than the recovery point objective")
def rpo(archive: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    limit = quantity(profile, "OPS-03", "max_rpo")
    evidence.measure("oldest unarchived change", f"{archive['at_risk_seconds']:.0f} s", f"<= {limit:.0f} s")
    assert archive["at_risk_seconds"] <= limit, f"changes up to {archive['at_risk_seconds'] / 60:.0f} min old are not archived"


@when("the backup schedule and the backup files are examined", target_fixture="backup_state")
def backup_state(target: Target) -> dict[str, Any]:
    schedule = target.host.file(str(target.path("backup_schedule")))
    folder = str(target.path("backups"))
    names = backups(target)
    return {"schedule": schedule.content_string if schedule.exists else "",
            "modes": {n: host_probe.file_mode(target.host, f"{folder}/{n}") for n in names}, "names": names}


@then("a daily backup is scheduled")
def scheduled(backup_state: dict[str, Any], evidence: Evidence) -> None:
    match = DAILY.search(backup_state["schedule"])
    evidence.measure("schedule", match.group(0).strip() if match else backup_state["schedule"][:120], "daily at a fixed time")
    assert match, "no daily backup is scheduled"


@then("every backup file is readable by its owner only")
def private_backups(backup_state: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want = str(profile.threshold("OPS-04", "file_mode"))
    wrong = {n: m for n, m in backup_state["modes"].items() if m != want}
    evidence.measure("backup files not mode " + want, wrong, "none")
    assert backup_state["modes"], "there is no backup file"
    assert not wrong, f"backup files readable by others: {wrong}"


@then("the newest backup is younger than the allowed age and restores")
def recent_restorable(backup_state: dict[str, Any], target: Target, profile: Profile, evidence: Evidence) -> None:
    newest = backup_state["names"][-1]
    stamp = datetime.strptime(BACKUP_NAME.match(newest).group(1), "%Y%m%d_%H%M%S").replace(tzinfo=UTC)  # type: ignore[union-attr]
    age = (datetime.now(UTC) - stamp).total_seconds()
    limit = quantity(profile, "OPS-04", "max_backup_age")
    evidence.measure("newest backup age", f"{age / 3600:.1f} h", f"<= {limit / 3600:.0f} h")
    assert age <= limit, f"the newest backup is {age / 3600:.0f} h old"
    with db.Scratch(target) as scratch:
        scratch.restore(target.host.file(f"{target.path('backups')}/{newest}").content)


@when("the log rotation configuration and the application logs are read", target_fixture="logging_state")
def logging_state(target: Target) -> dict[str, Any]:
    config = target.host.file(str(target.path("logrotate")))
    return {"config": config.content_string if config.exists else "", "lines": logs.application_lines(target)}


@then("logs are rotated daily and kept for the required days")
def rotated(logging_state: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    config = logging_state["config"]
    days = int(quantity(profile, "OPS-05", "retention") / 86400)
    rotate = re.search(r"^\s*rotate\s+(\d+)", config, re.M)
    evidence.measure("logrotate", " ".join(config.split())[:160], f"daily, rotate {days}")
    assert re.search(r"^\s*daily\b", config, re.M), "logs are not rotated daily"
    assert rotate and int(rotate.group(1)) >= days, f"logs are kept {rotate.group(1) if rotate else 'no'} rotations, not {days}"


@then("every application log line is JSON")
def json_lines(logging_state: dict[str, Any], evidence: Evidence) -> None:
    bad: dict[str, int] = {}
    for name, lines in logging_state["lines"].items():
        for line in lines:
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad[name] = bad.get(name, 0) + 1
    evidence.measure("non-JSON lines (last 200 of each log)", bad, "none")
    assert logging_state["lines"], "no application log found"
    assert not bad, f"log lines that are not JSON: {bad}"


@when("the deployment history is read", target_fixture="deployments")
def deployments(target: Target) -> list[dict[str, Any]]:
    return [r for r in history(target) if r.get("action") in ("up", "release", "rollback")]


@then("every deployment records its start, end, duration and outcome")
def recorded(deployments: list[dict[str, Any]], evidence: Evidence) -> None:
    incomplete = [r for r in deployments if not all(k in r for k in ("started", "finished", "duration_seconds", "outcome"))]
    evidence.measure("deployments recorded", len(deployments))
    assert deployments, "no deployment is recorded"
    assert not incomplete, f"{len(incomplete)} incomplete deployment record(s)"


@then("the average duration and the success rate meet the targets")
def paper_figures(deployments: list[dict[str, Any]], profile: Profile, evidence: Evidence) -> None:
    average = sum(r["duration_seconds"] for r in deployments) / len(deployments)
    rate = sum(r["outcome"] == "succeeded" for r in deployments) / len(deployments)
    max_avg, min_rate = quantity(profile, "OPS-06", "max_average_duration"), quantity(profile, "OPS-06", "min_success_rate")
    evidence.measure("average duration", f"{average:.1f} s", f"<= {max_avg:.0f} s")
    evidence.measure("success rate", f"{rate:.1%} of {len(deployments)}", f">= {min_rate:.1%}")
    assert average <= max_avg, f"deployments take {average / 3600:.1f} h on average"
    assert rate >= min_rate, f"success rate {rate:.1%} is under {min_rate:.1%}"
