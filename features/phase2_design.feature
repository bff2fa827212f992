@phase-2
Feature: Phase 2 — System design and architecture
  The deployment matches its architecture (§2.2.1) and its configuration is merged, validated
  and in effect as the paper's ConfigurationManager prescribes (§2.2.2).

  @REQ-ARCH-01
  Scenario: Every declared service is present where the architecture says
    When the running services are compared with the architecture specification
    Then every service is present and answers on its declared port

  @REQ-ARCH-02
  Scenario: Services started in dependency order
    When the start times of the running services are read
    Then the backend started after the database and the cache

  @REQ-ARCH-03
  Scenario: Every service has a health check and all of them pass
    When every service's health check is run
    Then every health check passes
    And the backend health check is declared with the paper's interval, timeout and retries

  @REQ-ARCH-04
  Scenario: Blue and green backends exist and only the live colour takes traffic
    When requests are sent through the proxy
    Then every answer comes from the live colour
    And a second colour is there to release onto

  @REQ-CFG-01
  Scenario: The configuration is merged, validated and a broken one refused
    When the deployment's configuration for this environment is merged
    Then the merged configuration is valid and the environment's values override the base
    And a configuration with a wrong type is refused with a message naming the key

  @REQ-CFG-02
  Scenario: The base configuration values are in effect
    When an administrator reads the running backend's effective settings
    Then every base value not overridden by the environment is in effect

  @REQ-CFG-03
  Scenario: The environment's overrides are in effect
    When an administrator reads the running backend's effective settings
    Then every override of this environment is in effect

  @REQ-CFG-04
  Scenario: Secrets are strong, distinct per environment and never committed
    When the deployment's secrets are examined
    Then every secret is long enough and not a known default
    And the backend accepts a token signed with the declared key and refuses the known defaults and a random key
    And the database and the cache accept the declared passwords and refuse the known defaults and none
    And no secret is shared with another environment
    And no secret appears in the repository or in the effective settings
