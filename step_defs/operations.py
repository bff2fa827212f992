"""Monitoring, availability, recovery, backups, logs and the deployment record (phase 8)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pytest_bdd import when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import database as db
from edupro_verify.probes import host as host_probe
from edupro_verify.probes import logs, network, records, recovery, scheduler
from edupro_verify.probes.monitoring import Prometheus, dashboard_metrics, promtool_check_rules
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

JOBS = {"edupro-backend", "node", "prometheus"}


@when("Prometheus is asked for its targets", target_fixture="targets")
def prom_targets(prometheus: Prometheus) -> list[dict[str, Any]]:
    return prometheus.targets()


@then("the backend, the host and Prometheus itself are scraped")
def scraped(targets: list[dict[str, Any]], evidence: Evidence) -> None:
    jobs = sorted({t["labels"].get("job") for t in targets} - {None})
    evidence.record("jobs scraped", jobs, source="Prometheus")
    missing = sorted(JOBS - set(jobs))
    evidence.expect_none("jobs not scraped", missing, message=f"not scraped: {', '.join(missing)}")


@then("every server of the profile is scraped for its host metrics")
def every_server_scraped(targets: list[dict[str, Any]], target: Target, evidence: Evidence) -> None:
    """Each server's node exporter is a target: by its address, or by loopback for the server Prometheus runs on. One
    server: a node exporter, wherever Docker put it."""
    nodes = sorted({str(t["labels"].get("instance", "")) for t in targets if t["labels"].get("job") == "node"})
    evidence.record("node exporters scraped", nodes, source="Prometheus")
    servers = target.server_addresses()
    hosts = {node.rsplit(":", 1)[0].strip("[]") for node in nodes}

    def scraped(address: str) -> bool:
        beside_prometheus = address == target.address and bool(hosts & network.LOOPBACK)  # Prometheus runs on target.host
        return address in hosts or beside_prometheus or (len(servers) == 1 and bool(hosts))
    missing = [label for label, address in servers.items() if not scraped(address)]
    evidence.expect_none("servers whose host metrics Prometheus does not scrape", missing, source="Prometheus",
                         message=f"Prometheus scrapes no node exporter of {', '.join(missing)}")


@then("every target is up")
def all_up(targets: list[dict[str, Any]], evidence: Evidence) -> None:
    down = [f"{t['labels'].get('job')} {t['labels'].get('instance')}: {t.get('lastError')}" for t in targets
            if t.get("health") != "up"]
    evidence.expect_none("targets down", down, source="Prometheus", message=f"targets down: {'; '.join(down)}")


@when("the application's metrics are queried in Prometheus", target_fixture="series")
def query_metrics(prometheus: Prometheus, profile: Profile) -> dict[str, int]:
    return {m: len(prometheus.query(m)) for m in profile.limit("MON-02", "metrics").limit}


@then("request count, latency histogram and errors all return data")
def metrics_present(series: dict[str, int], evidence: Evidence) -> None:
    evidence.record("series per metric", series, source="Prometheus")
    evidence.expect("metrics with data", [m for m, n in series.items() if n > 0], "metrics")


@when("the alert rule files are checked with promtool", target_fixture="rules")
def check_rules(prometheus: Prometheus, target: Target) -> dict[str, Any]:
    files = prometheus.rule_files() or [str(target.path("alert_rules"))]
    where = target.service_host("monitoring")
    checked = {f: promtool_check_rules(where, f) for f in files}
    return {"checked": checked, "loaded": prometheus.loaded_alerts()}


@then("every rule file is valid")
def rules_valid(rules: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("promtool check rules", {f: msg for f, (_, msg) in rules["checked"].items()})
    invalid = [f for f, (ok, _) in rules["checked"].items() if not ok]
    evidence.expect_none("invalid rule files", invalid, message=f"invalid rule file(s): {', '.join(invalid)}")


@then("every required alert is loaded in Prometheus")
def alerts_loaded(rules: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect("alerts loaded", rules["loaded"], "alerts", source="Prometheus")


@when("the provisioned dashboards are read", target_fixture="dashboards")
def dashboards(target: Target, prometheus: Prometheus) -> dict[str, Any]:
    return {"used": dashboard_metrics(target.host_of("dashboards"), str(target.path("dashboards"))), "known": prometheus.metric_names()}


@then("every dashboard is valid and every metric it uses exists in Prometheus")
def dashboards_valid(dashboards: dict[str, Any], evidence: Evidence) -> None:
    used, known = dashboards["used"], dashboards["known"]
    unknown = {d: [m for m in names if m not in known] for d, names in used.items()}
    unknown = {d: m for d, m in unknown.items() if m}
    evidence.record("metrics per dashboard", {d: len(n) for d, n in used.items()})
    evidence.expect_true("dashboards provisioned", len(used), bool(used), "at least one",
                         message="no dashboard is provisioned")
    wrong = [f"{d}: {', '.join(m)}" for d, m in unknown.items()]
    evidence.expect_none("metrics unknown to Prometheus", wrong,
                         message=f"dashboards use metrics that do not exist: {'; '.join(wrong)}")


@when("the backend's availability over the window is queried", target_fixture="availability")
def availability(prometheus: Prometheus, profile: Profile) -> float | None:
    window = int(profile.quantity("OPS-01", "window"))
    result = prometheus.query(f'avg(avg_over_time(up{{job="edupro-backend"}}[{window}s]))')
    return float(result[0]["value"][1]) if result else None


@then("the availability is at least the required percentage")
def available(availability: float | None, evidence: Evidence) -> None:
    evidence.expect_true("availability data", availability is not None, availability is not None, "present",
                         message="Prometheus has no availability data for the backend")
    evidence.expect("availability", availability, "min_availability", source="Prometheus")


@when("the newest backup is restored into a scratch database and timed", target_fixture="drill")
def restore_drill(target: Target) -> dict[str, Any]:
    name, dump = records.newest_backup(target)
    with db.Scratch(target) as scratch:
        seconds = scratch.restore(dump)
        with scratch.connect() as conn:
            size = db.database_size(conn)
    return {"name": name, "seconds": seconds, "bytes": size}


@then("the restore time scaled to production size is within the recovery time objective")
def rto(drill: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    production = profile.quantity("OPS-02", "production_data_size")
    scale = max(1.0, production / max(drill["bytes"], 1))  # a restore is never counted faster than measured
    evidence.record("restore drill", round(drill["seconds"], 2), unit="s", source=drill["name"])
    evidence.record("size restored", round(drill["bytes"] / 1e6, 1), unit="MB")
    evidence.record("production data size declared", round(production / 1e9, 3), unit="GB")
    evidence.expect("restore time scaled to production", drill["seconds"] * scale, "max_rto")


@when("the write-ahead log archive is examined", target_fixture="archive")
def archive_state(target: Target) -> dict[str, Any]:
    with target.connect_db() as conn:
        return db.archive_status(conn)


@then("archiving is on and has not failed")
def archiving_on(archive: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("archiver", {k: archive[k] for k in ("archived", "last_wal", "failed")}, source="pg_stat_archiver")
    evidence.expect_true("archive_mode", archive["mode"], archive["mode"] == "on", "on", message="WAL archiving is off")
    evidence.expect_true("segments archived", archive["archived"], bool(archive["archived"]), "at least one",
                         message="no WAL segment has ever been archived")
    recent_failure = bool(archive["failed_time"]) and (archive["last_time"] is None
                                                       or archive["failed_time"] > archive["last_time"])
    evidence.expect_true("last failure after the last success", recent_failure, not recent_failure, "no",
                         message=f"WAL archiving is failing (last failure {archive['failed_time']})")


@then("the data at risk is younger than the recovery point objective")
def rpo(archive: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect("age of the oldest change not archived", archive["at_risk_seconds"], "max_rpo")


@when("the newest base backup and the WAL archive are restored into a scratch cluster", target_fixture="pitr")
def point_in_time(target: Target) -> dict[str, Any]:
    with target.connect_db() as conn:  # what the server says it has archived, before the archive is copied
        claimed = db.archive_status(conn)["last_wal"]
    restored = recovery.restore_latest(target, str(target.database["name"]), str(target.database["user"]))
    with target.connect_db() as conn:
        lost, oldest_lost = recovery.changes_not_recovered(conn, restored.newest_disclosure)
    return {"restored": restored, "claimed": claimed, "lost": lost, "oldest_lost": oldest_lost}


@then("the restore replays every WAL segment the server reports archived")
def replays_archived(pitr: dict[str, Any], evidence: Evidence) -> None:
    restored: recovery.Restored = pitr["restored"]
    evidence.record("point-in-time restore", {"base backup": restored.base, "WAL segments": restored.segments,
                                              "copied MB": round(restored.fetched_bytes / 1e6, 1)},
                    source=str(restored.base))
    evidence.record("restored and replayed in", round(restored.seconds, 2), unit="s")
    whole = recovery.archived_in_full(pitr["claimed"])
    evidence.expect_true("segment the server reports archived", whole or "none", whole is not None, "at least one",
                         source="pg_stat_archiver", message="the server reports no WAL segment archived")
    assert whole is not None  # for the type checker: expect_true raised otherwise
    replayed = recovery.replayed_into(restored.end_lsn, whole, restored.segment_bytes)
    evidence.expect_true("WAL replayed through", f"{restored.end_lsn:#x}", replayed, f"into {whole}",
                         message=f"the archive does not hold the WAL the server reports archived: the replay ended "
                                 f"at {restored.end_lsn:#x}, before {whole}")


@then("every change older than the recovery point objective is recovered")
def recovers_the_point(pitr: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("disclosures not recovered", pitr["lost"], source="the live database")
    evidence.expect("age of the oldest change not recovered", recovery.age(pitr["oldest_lost"]), "max_rpo")


@when("the backup schedule and the backup files are examined", target_fixture="backup_state")
def backup_state(target: Target) -> dict[str, Any]:
    schedule = target.host_of("backup_schedule").file(str(target.path("backup_schedule")))
    folder = str(target.path("backups"))
    names = records.backups(target)
    return {"schedule": schedule.content_string if schedule.exists else "",
            "modes": {n: host_probe.file_mode(target.host_of("backups"), f"{folder}/{n}") for n in names}, "names": names}


@then("a daily backup is scheduled")
def scheduled(backup_state: dict[str, Any], evidence: Evidence) -> None:
    entry = records.daily_backup_entry(backup_state["schedule"])
    evidence.expect_true("backup schedule", entry or backup_state["schedule"][:120] or "empty", entry is not None,
                         "daily at a fixed time", message="no daily backup is scheduled")


@then("the schedule is installed where the host's cron reads it, and cron runs its jobs")
def schedule_installed(target: Target, profile: Profile, evidence: Evidence) -> None:
    host = target.host_of("backup_schedule")
    found = scheduler.schedule(host, str(target.path("backup_schedule")))
    required = bool(profile.threshold("OPS-04", "installed"))
    _installed(found, required, "backup schedule", evidence)
    if required:
        _runs_its_jobs(scheduler.job_runs(host), evidence)


@then("the schedule has made a backup each time it was due")
def schedule_made_backups(backup_state: dict[str, Any], target: Target, profile: Profile, evidence: Evidence) -> None:
    entry = records.daily_backup_entry(backup_state["schedule"])
    if entry is None:  # "a daily backup is scheduled" has failed on it already
        return
    found = records.scheduled_backups(target, entry, profile.quantity("OPS-04", "schedule_grace"))
    evidence.record("backups made by the schedule", len(found.made), source=str(target.path("backup_log")))
    evidence.record("schedule in place since", found.installed.isoformat(timespec="minutes"),
                    source=str(target.path("backup_schedule")))
    if not profile.threshold("OPS-04", "installed"):  # nothing runs a schedule the host does not read
        return
    if found.due is None:
        evidence.record("first scheduled backup due", found.next_due.isoformat(timespec="minutes"))
        return
    evidence.expect_true("newest backup made by the schedule", found.newest or "none", found.done_when_due,
                         f"taken at or after {found.due.isoformat(timespec='minutes')}",
                         message=f"the schedule was due at {found.due.isoformat(timespec='minutes')} and made no "
                                 f"backup then (newest made by the schedule: {found.newest or 'none'})")


def _runs_its_jobs(runs: scheduler.JobRuns, evidence: Evidence) -> None:
    """cron's own log: it started a job lately, and has not since been refused one (a running cron that cannot
    open a job's session runs nothing)."""
    evidence.expect_true("cron's log", runs.source or "none found", runs.source is not None, "found",
                         message=f"no log of cron's on the host ({', '.join(scheduler.CRON_LOGS)}, the journal): "
                                 "whether it runs its jobs cannot be seen")
    evidence.expect_true("last job cron started", runs.last_started_line or "none", runs.last_started is not None,
                         "a job started", source=runs.source or "",
                         message=f"cron has started no job: {runs.last_refused_line or 'its log names none'}")
    assert runs.last_started is not None  # for the type checker: expect_true raised otherwise
    evidence.expect("time since cron last started a job", (datetime.now(UTC) - runs.last_started).total_seconds(),
                    "scheduler_last_ran", source=runs.source or "")
    refused_since = runs.last_refused is not None and runs.last_refused > runs.last_started
    evidence.expect_true("job refused since", runs.last_refused_line if refused_since else "none", not refused_since,
                         "none", source=runs.source or "",
                         message=f"cron could not start its latest job: {runs.last_refused_line}")


def _installed(found: scheduler.Installed, required: bool, what: str, evidence: Evidence) -> None:
    if not required:  # the profile says why (a development machine's scheduler is its owner's)
        evidence.record(f"{what} read by", found.read_by or f"nothing reads {found.where}")
        return
    evidence.expect_true(f"{what} read by", found.read_by or "nothing", found.read_by is not None,
                         "the host's scheduler", message=f"nothing on the host reads the {what} {found.where}")
    evidence.expect_true("cron", "running" if found.runner_running else "not running", found.runner_running,
                         "running", message=f"cron is not running on the host: the {what} is never acted on")


@then("every backup file is readable by its owner only")
def private_backups(backup_state: dict[str, Any], evidence: Evidence) -> None:
    modes = backup_state["modes"]
    evidence.expect_true("backup files", len(modes), bool(modes), "at least one", message="there is no backup file")
    evidence.expect("modes of the backup files", sorted(set(modes.values())), "file_mode")


@then("the newest backup is younger than the allowed age and restores")
def recent_restorable(backup_state: dict[str, Any], target: Target, evidence: Evidence) -> None:
    if not backup_state["names"]:  # "backups exist" has said so already
        return
    newest = backup_state["names"][-1]
    taken = records.backup_taken_at(newest)
    evidence.expect_true("newest backup", newest, taken is not None, "named by its timestamp")
    evidence.expect("age of the newest backup", (datetime.now(UTC) - taken).total_seconds(), "max_backup_age",
                    source=newest)
    with db.Scratch(target) as scratch:
        seconds = scratch.restore(records.backup(target, newest))
    evidence.record("restored into a scratch database in", round(seconds, 2), unit="s", source=newest)


@when("the log rotation configuration and the application logs are read", target_fixture="logging_state")
def logging_state(target: Target) -> dict[str, Any]:
    config = target.host.file(str(target.path("logrotate")))
    return {"config": config.content_string if config.exists else "", "lines": logs.application_lines(target)}


@then("logs are rotated daily and kept for the required days")
def rotated(logging_state: dict[str, Any], evidence: Evidence) -> None:
    found = records.rotation(logging_state["config"])
    evidence.record("logrotate configuration", " ".join(logging_state["config"].split())[:160])
    evidence.expect_true("rotated", "daily" if found.daily else "not daily", found.daily, "daily",
                         message="logs are not rotated daily")
    evidence.expect("days of logs kept", (found.kept or 0) * 86400, "retention")


@then("the rotation is installed where the host's logrotate reads it, run daily by cron")
def rotation_installed(target: Target, profile: Profile, evidence: Evidence) -> None:
    found = scheduler.rotation(target.host, str(target.path("logrotate")))
    _installed(found, bool(profile.threshold("OPS-05", "installed")), "log rotation", evidence)
    evidence.record("logrotate last ran", scheduler.last_rotation(target.host) or "never")


@then("every application log line is JSON")
def json_lines(logging_state: dict[str, Any], evidence: Evidence) -> None:
    found = logging_state["lines"]
    evidence.expect_true("application logs", sorted(found), bool(found), "at least one",
                         message="no application log found")
    bad = [f"{name}: {count}" for name, count in logs.non_json_lines(found).items()]
    evidence.expect_none("logs with non-JSON lines (of their last 200)", bad,
                         message=f"log lines that are not JSON: {', '.join(bad)}")


@when("the deployment history is read", target_fixture="deployments")
def deployments(target: Target) -> list[dict[str, Any]]:
    return [r for r in records.history(target) if r.get("action") in ("up", "release", "rollback")]


@then("every deployment records its start, end, duration and outcome")
def recorded(deployments: list[dict[str, Any]], evidence: Evidence) -> None:
    incomplete = [r for r in deployments if not all(k in r for k in ("started", "finished", "duration_seconds", "outcome"))]
    evidence.expect_true("deployments recorded", len(deployments), bool(deployments), "at least one",
                         message="no deployment is recorded")
    evidence.expect_none("incomplete deployment records", [r.get("started", "?") for r in incomplete],
                         message=f"{len(incomplete)} incomplete deployment record(s)")


@then("the average duration and the success rate meet the targets")
def paper_figures(deployments: list[dict[str, Any]], evidence: Evidence) -> None:
    complete = [r for r in deployments if "duration_seconds" in r and "outcome" in r]
    if not complete:
        raise ProbeError("the deployment history holds no complete record (duration and outcome) to measure")
    average = sum(r["duration_seconds"] for r in complete) / len(complete)
    rate = sum(r["outcome"] == "succeeded" for r in complete) / len(complete)
    evidence.record("deployments", len(complete), source="deployment history")
    evidence.expect("average duration", average, "max_average_duration")
    evidence.expect("success rate", rate, "min_success_rate")
