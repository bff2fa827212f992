@phase-4
Feature: Phase 4 — Application deployment and integration
  Every service of the stack runs, is healthy, is reachable only where it should be, and the
  backend runs with its configuration and its model (§2.4.1).

  @REQ-APP-01
  Scenario: Every service is running and healthy
    When the state of every service is read
    Then every service of the architecture is running
    And every service passes its health check

  @REQ-APP-01 @supervised
  Scenario: Every service is started again when it stops
    When what starts the services again is read
    Then every service is started again when it stops

  @REQ-APP-02
  Scenario: The proxy's configuration is valid and it serves the frontend and the API
    When the proxy's configuration is tested
    Then the configuration test passes
    And the proxy serves the frontend at /
    And the proxy passes API requests to the backend

  @REQ-APP-03
  Scenario: The backend reports itself healthy with its database and cache
    When the backend health endpoint is requested through the proxy
    Then it reports healthy with the database and the cache reachable
    And the frontend is reachable through the proxy

  @REQ-APP-04 @servers
  Scenario: On every server nothing listens beyond loopback but what its tier serves
    When every server's listening sockets are read with the programs that hold them
    Then each socket beyond loopback is one the profile allows on its server's tier

  @REQ-APP-04
  Scenario: Only the proxy listens beyond the host
    When the host's listening sockets are read
    Then only the proxy's ports listen on an address other than loopback

  @REQ-APP-05
  Scenario: The cache requires a password and persists to an append-only file
    When the cache is asked for PING without a password
    Then the cache refuses it for lack of authentication
    And with the password the cache reports append-only persistence on

  @REQ-APP-06
  Scenario: Images carry a release tag and build labels
    When the images of the running containers are read
    Then no image is tagged latest and every image has BUILD_DATE, VCS_REF and VERSION labels
    And every running container runs the image the latest release record names

  @REQ-APP-07
  Scenario: The backend runs with its configuration and a read-only model
    When an administrator reads the running backend's effective settings
    Then the backend runs in this environment with the configured log level
    And the model files cannot be written
    And a prediction is served by the model of the model card

  @REQ-APP-08
  Scenario: Services share their dedicated network
    When the networks of the running containers are read
    Then every service is on the dedicated network with the specified subnet
