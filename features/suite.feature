@phase-0
Feature: The suite itself — reports an auditor can trust
  Every run checks its own reporting machinery with the results it has so far: the same writer,
  signer and redaction that produce this run's folder.

  @REQ-RPT-01
  Scenario: A run folder holds every report format
    When a run folder is written for the results so far
    Then it holds a self-contained report.html and evidence.json
    And this run writes junit.xml and cucumber.json into its folder

  @REQ-RPT-02
  Scenario: A signed run folder detects any change
    When a run folder is written for the results so far
    Then the folder verifies with the signer's key, with our tool and with openssl and sha256sum
    And a one-byte change, a removed file and an added file are each detected

  @REQ-RPT-03
  Scenario: Every requirement is traceable to its evidence
    When a run folder is written for the results so far
    Then every requirement in scope has a row with its scenarios, result and evidence
    And a requirement without a scenario is shown as not covered

  @REQ-RPT-04
  Scenario: No secret reaches a report
    When a run folder is written for results that quote the target's secrets
    Then no file of the folder contains any of the secret values

  @REQ-GATE-01
  Scenario: A phase runs only on a verified passing report of the phase before
    Given a report folder of phase 2 for this environment and release, signed by a pinned key
    Then the gate of phase 3 opens on it and records its manifest digest
    And the gate of phase 3 closes when that report's key is not pinned
    And the gate of phase 3 closes when that report is tampered with
    And the gate of phase 3 closes when the phase 2 report failed
    And the gate of phase 4 closes without a phase 3 report

  @REQ-WAIVE-01
  Scenario: Waivers need a justification, an approver and an expiry, and expire
    Given a failed requirement with a valid waiver and another with an expired one
    Then the first reads waived, with its waiver, and stays in the report
    And the second keeps its failure and says its waiver expired
    And a waiver file without a justification is refused, naming its line
