@phase-7
Feature: Phase 7 — Production release and go-live
  A release switches colours with no failed request, can be rolled back the same way, and the
  live release passes its smoke test. Go-live needs phases 1 to 6 passed and approved.

  @REQ-REL-01 @REQ-ARCH-04 @release
  Scenario: A blue-green release drops no request
    When the current release is deployed onto the idle colour while a probe sends requests
    Then the probe saw no failed request
    And the idle colour became live

  @REQ-REL-02 @release
  Scenario: A rollback drops no request
    When the release is rolled back while a probe sends requests
    Then the probe saw no failed request
    And the previous colour is live again

  @REQ-REL-03
  Scenario: The live release passes its smoke test
    When the smoke journey is run against the live release
    Then the version endpoint shows the release under verification
    And a student logs in, reads their record and gets a prediction

  @REQ-REL-04
  Scenario: Go-live is gated on passed, verified and approved phases
    When the reports of phases 1 to 6 of this release are verified
    Then each phase has a verified passing report
    And the testing phase report carries all three approvals
