@phase-5
Feature: Phase 5 — Database migration and data integrity
  The database is backed up before migrating, migrated to the expected schema without loss,
  can be rolled back, and is tuned afterwards (§2.5.1). Every write happens on a scratch copy.

  @REQ-DB-01
  Scenario: The newest backup is named by its timestamp and restores
    When the newest backup is restored into a scratch database
    Then its name follows edupro_backup_YYYYmmdd_HHMMSS
    And it restores without error and holds every table

  @REQ-DB-02
  Scenario: There is room for the migration
    When the database size and the free space of its volume are measured
    Then the free space is at least the required multiple of the database size

  @REQ-DB-03
  Scenario: The schema is at the expected revision without drift
    When the live schema is read
    Then the schema revision is the expected one
    And the live schema matches the expected schema of that revision

  @REQ-DB-04
  Scenario: The protected tables kept their rows across the migration
    When the protected tables are compared with the backup taken before the migration
    Then their row counts and checksums are unchanged
    And no foreign key is orphaned and every constraint is validated

  @REQ-DB-05
  Scenario: A migration can be rolled back and reapplied without loss
    When a scratch copy is downgraded one revision and upgraded again
    Then the copy is back at the expected revision
    And every protected table has the same rows as before the round trip

  @REQ-DB-06
  Scenario: Statistics are fresh and the required indexes exist
    When the database catalog is read
    Then every table with rows has been analysed
    And every required index exists

  @REQ-DB-07
  Scenario: The migration run is recorded
    When the newest migration record is read
    Then it records start, end, duration, each phase and its outcome
    And it succeeded at the expected revision without requiring a rollback

  @REQ-DB-08
  Scenario: The database speaks UTF-8 and UTC
    When the database server's settings are read
    Then the encoding is UTF-8 and the time zone UTC
