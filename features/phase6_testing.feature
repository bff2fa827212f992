@phase-6
Feature: Phase 6 — Testing and quality assurance
  The live system meets its service level under load, protects its endpoints, and handles
  education records as FERPA and the GDPR require. The suite uses its own fixture accounts and
  records, and removes them afterwards.

  @REQ-PERF-01 @REQ-PERF-02 @load
  Scenario: The API holds its response time and error rate under the target load
    When the student journey is run by the profile's number of simultaneous users
    Then the 95th percentile response time is within the limit
    And the error rate is under the limit with at least the required users

  @REQ-SEC-01
  Scenario: Every non-public endpoint requires a valid token
    When the protected endpoints are requested without a token and with bad tokens
    Then every one of them is refused with 401
    And the tokens issued are HS256 and expire after the configured time

  @REQ-SEC-02
  Scenario: Stored passwords are bcrypt hashes of the required cost
    When the stored password hashes are read
    Then every hash is bcrypt with the required cost

  @REQ-SEC-03
  Scenario: A client is limited to the configured requests per minute
    When a fresh client sends one request more than the limit within a minute
    Then the requests within the limit are answered
    And the request over the limit is refused with 429 and a Retry-After header

  @REQ-SEC-04
  Scenario: Responses carry security headers and hide the server version
    When the frontend and the API are requested through the proxy
    Then every response carries HSTS, nosniff and frame protection
    And no response reveals the server's version
    And the API documentation is published only where the profile allows

  @REQ-SEC-05
  Scenario: CORS admits only the configured origins
    When cross-origin preflight requests are sent from a configured and a foreign origin
    Then the configured origin is allowed
    And the foreign origin is not

  @REQ-DATA-01
  Scenario: Each role reads only the records FERPA allows
    Given two fixture students in different classes, their teacher and an administrator
    When each role requests each student's record
    Then a student reads only their own record
    And a teacher reads only their class's students
    And an administrator reads every student
    And no refused answer contains the other student's data
    And only the class's teacher and an administrator see its class list, with its students only

  @REQ-DATA-01
  Scenario: No route of the API gives a student's data to a role that must not see it
    Given two fixture students in different classes, their teacher and an administrator
    When each route the API's own description lists as returning a student's data is requested for a student the role must not see
    Then no route answers a student or a teacher with that student's data

  @REQ-DATA-02
  Scenario: Every record read is disclosed in an append-only record
    Given two fixture students in different classes, their teacher and an administrator
    When the teacher reads a student's record once
    Then exactly one disclosure is recorded with who, what, when and why
    And the teacher's class list records one disclosure for each student it shows
    And the application's database role cannot alter or delete disclosures
    And rewriting a disclosure is refused to the application and to the schema's owner alike

  @REQ-DATA-03
  Scenario: No personal data reaches a log
    Given a fixture student with canary personal data
    When the canary student's record is read, exported and predicted
    Then no log file contains the canary values

  @REQ-DATA-04
  Scenario: A student exports their data and an administrator erases it keeping aggregates
    Given two fixture students in different classes, their teacher and an administrator
    When the first student exports their data
    Then the export holds their record and its disclosures
    When an administrator erases the first student
    Then the student's identifying data is gone from the API and the database
    And the student's grades still count in the aggregates

  @REQ-DATA-05
  Scenario: Personal data is encrypted in transit and protected at rest
    When the transport and storage of personal data are examined
    Then clients reach the API only over TLS
    And database connections are encrypted where the profile requires it
    And e-mail addresses and dates of birth are not stored in plain text

  @REQ-DATA-06
  Scenario: A student who opts out disappears from the directory
    Given two fixture students in different classes, their teacher and an administrator
    When the first student opts out of directory information
    Then the directory no longer shows the first student
    And the directory still shows the second student

  @REQ-ML-01
  Scenario: The prediction service answers valid input and refuses invalid input
    When predictions are requested with valid and invalid input
    Then a valid request gets a prediction with the model version
    And an invalid request is refused with 422

  @REQ-ML-01
  Scenario: The served model is as accurate as the floor on students it was not trained on
    When the suite's held-out students are sent through the prediction API
    Then the served model predicts them at least as accurately as the floor
    And the measured accuracy is the one the model card states
    And the model file on the host is the one the model card describes
