@phase-8
Feature: Phase 8 — Maintenance and monitoring
  Monitoring watches every service with valid alerts and dashboards; availability, recovery
  time and recovery point meet the paper's targets; backups, logs and deployments are kept.

  @REQ-MON-01
  Scenario: Prometheus scrapes every target and all are up
    When Prometheus is asked for its targets
    Then the backend, the host and Prometheus itself are scraped
    And every server of the profile is scraped for its host metrics
    And every target is up

  @REQ-MON-02
  Scenario: The application metrics are queryable
    When the application's metrics are queried in Prometheus
    Then request count, latency histogram and errors all return data

  @REQ-MON-03
  Scenario: The alert rules are valid and loaded
    When the alert rule files are checked with promtool
    Then every rule file is valid
    And every required alert is loaded in Prometheus

  @REQ-MON-04
  Scenario: The dashboards are valid and use metrics that exist
    When the provisioned dashboards are read
    Then every dashboard is valid and every metric it uses exists in Prometheus

  @REQ-OPS-01
  Scenario: The backend was available over the observation window
    When the backend's availability over the window is queried
    Then the availability is at least the required percentage

  @REQ-OPS-02
  Scenario: A restore drill meets the recovery time objective
    When the newest backup is restored into a scratch database and timed
    Then the restore time scaled to production size is within the recovery time objective

  @REQ-OPS-03
  Scenario: The newest recoverable point is recent enough
    When the write-ahead log archive is examined
    Then archiving is on and has not failed
    And the data at risk is younger than the recovery point objective

  @REQ-OPS-03
  Scenario: A point-in-time restore recovers every change older than the recovery point objective
    When the newest base backup and the WAL archive are restored into a scratch cluster
    Then the restore replays every WAL segment the server reports archived
    And every change older than the recovery point objective is recovered

  @REQ-OPS-04
  Scenario: Backups are daily, private and restorable
    When the backup schedule and the backup files are examined
    Then a daily backup is scheduled
    And the schedule is installed where the host's cron reads it, and cron runs its jobs
    And the schedule has made a backup each time it was due
    And every backup file is readable by its owner only
    And the newest backup is younger than the allowed age and restores

  @REQ-OPS-05
  Scenario: Logs are JSON, rotated daily and kept for the required days
    When the log rotation configuration and the application logs are read
    Then logs are rotated daily and kept for the required days
    And the rotation is installed where the host's logrotate reads it, run daily by cron
    And every application log line is JSON

  @REQ-OPS-06
  Scenario: The deployment record meets the paper's figures
    When the deployment history is read
    Then every deployment records its start, end, duration and outcome
    And the average duration and the success rate meet the targets
