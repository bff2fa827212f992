@phase-3
Feature: Phase 3 — Environment setup and configuration
  The host is prepared as the paper's setup script does it (§2.3.1): validated, with its base
  packages, firewall, fail2ban, Docker daemon and TLS certificate.

  @REQ-ENV-01
  Scenario: The host passes validation
    When the host's operating system, memory, disk and cores are gathered
    Then each of them meets the environment's minimum

  @REQ-ENV-02
  Scenario: The base packages are installed
    When the host's package database is read
    Then every base package is installed

  @REQ-ENV-03
  Scenario: Deployments are logged with timestamps and levels
    When the deployment log is read
    Then every line has a timestamp and one of the levels INFO, ERROR or SUCCESS
    And the log records at least one successful deployment

  @REQ-FW-01
  Scenario: The firewall denies everything but SSH and the web ports
    When the firewall's state and rules are read
    Then the firewall is active, denies incoming and allows outgoing by default
    And only SSH, 80/tcp and 443/tcp are allowed in

  @REQ-FW-02
  Scenario: fail2ban guards SSH
    When fail2ban is asked for its jails
    Then fail2ban runs an SSH jail

  @REQ-DKR-01
  Scenario: The Docker daemon logs, stores and restores as specified
    When the Docker daemon is asked for its settings
    Then its log driver, log limits, storage driver and live restore are as specified

  @REQ-DKR-02
  Scenario: docker and containerd run and the deploy user may use Docker
    When the Docker services and groups are read
    Then docker and containerd are running and the deploy user is in the docker group

  @REQ-TLS-01
  Scenario: The served certificate names the domain and comes from an accepted issuer
    When the certificate served by the public endpoint is read
    Then its subject or alternative names match the domain
    And its issuer is accepted by the environment

  @REQ-TLS-02
  Scenario: The key and certificate files are protected and belong together
    When the certificate and private key files are examined
    Then the private key is mode 600 and the certificate 644
    And the private key matches the certificate
    And the certificate file is the one the endpoint serves

  @REQ-TLS-03
  Scenario: The certificate is valid now and long enough
    When the certificate served by the public endpoint is read
    Then it is valid now and for at least the required time

  @REQ-TLS-04
  Scenario: The live endpoint meets Mozilla's intermediate configuration
    When the public endpoint is scanned for TLS
    Then only TLS 1.2 and TLS 1.3 are accepted
    And the endpoint complies with Mozilla's intermediate configuration
    And plain HTTP redirects to HTTPS
    And the endpoint sends HSTS for at least the required time
