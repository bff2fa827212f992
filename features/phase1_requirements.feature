@phase-1
Feature: Phase 1 — Requirements analysis and infrastructure planning
  The paper (§2.1) sets the hardware, the software versions, the capacity plan and the
  three-tier network every EduPro deployment starts from. Each scenario measures the target
  itself and compares it with the environment's profile.

  @REQ-HW-01
  Scenario: The host has enough processor cores at a sufficient clock
    When the host's processors are counted
    Then the host has at least the required cores and clock

  @REQ-HW-02
  Scenario: The host has enough memory
    When the host's memory is measured
    Then the host has at least the required memory

  @REQ-HW-03
  Scenario: The data volume is large enough and solid-state
    When the volume holding the database is measured
    Then the volume has at least the required size and is solid-state where required

  @REQ-HW-04
  Scenario: The network between the tiers is fast enough
    When the network speed between the tiers is measured
    Then the network reaches the required bandwidth

  @REQ-SW-01
  Scenario: The operating system is one the profile accepts
    When the host's operating system is read
    Then it is an accepted distribution and release

  @REQ-SW-02
  Scenario: The Docker engine is recent enough
    When the Docker daemon is asked for its version
    Then the Docker engine version is at least the required one

  @REQ-SW-03
  Scenario: Docker Compose is recent enough
    When Docker Compose is asked for its version
    Then the Docker Compose version is at least the required one

  @REQ-SW-04
  Scenario: The running proxy is a recent enough nginx
    When the running nginx is asked for its version
    Then the nginx version is at least the required one

  @REQ-SW-05
  Scenario: The running database is a recent enough PostgreSQL
    When the running PostgreSQL is asked for its version
    Then the PostgreSQL version is at least the required one

  @REQ-PLAN-01
  Scenario: The capacity plan fits the target
    When the capacity plan is computed with the paper's formula for the expected users
    Then the target provides at least the planned cores, memory and storage

  @REQ-PLAN-02 @REQ-APP-04
  Scenario: Each tier is reachable only from the tier in front of it
    When connections to every tier are attempted from outside the host and between tiers
    Then the web tier answers from outside
    And the application and data tiers refuse connections from outside
    And the application tier is reachable from the web tier and the data tier from the application tier

  @REQ-PLAN-02 @REQ-APP-04 @servers
  Scenario: From outside, nothing answers but the published ports
    When every TCP port of the target's address is scanned from outside
    Then only the web ports and SSH accept a connection

  @REQ-PLAN-03
  Scenario: Requests are balanced round robin without session affinity
    When a series of requests is sent through the proxy
    Then every live backend instance serves a fair share of them
    And the proxy configuration uses round robin with health checks and no session affinity

  @REQ-GOV-01
  Scenario: Each phase kept to the paper's timeline
    When the phase reports of this release are read from the report chain
    Then each phase took no longer than the timeline allows

  @REQ-GOV-02
  Scenario: The go-live approvals are recorded
    When the approvals attached to the testing phase report are read
    Then technical, security and business approvals are all present and valid
