@phase-8 @compliance
Feature: Compliance — GDPR, FERPA and ISO 27001 as the sum of their controls
  The paper commits EduPro to three standards (§2.1.1), planned in phase 1 and evidenced last:
  each is met when every control mapped to it in specs/requirements.yaml passed, in this run or
  in the newest verified report of the control's phase for the same release.

  @REQ-COMP-01
  Scenario: GDPR
    When the results of the controls mapped to COMP-01 are collected
    Then every mapped control passed

  @REQ-COMP-02
  Scenario: FERPA
    When the results of the controls mapped to COMP-02 are collected
    Then every mapped control passed

  @REQ-COMP-03
  Scenario: ISO 27001
    When the results of the controls mapped to COMP-03 are collected
    Then every mapped control passed
