#!/usr/bin/env bash
# deploy.sh — the EduPro reference stack and its acceptance suite, from one command.
# Thin on purpose: find or install what is needed, then hand over to Python.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
EXIT_USAGE=2

# Debian packages: the servers of the stack, the tools the suite drives, and the paper's base set (ENV-02).
PACKAGES=(postgresql-15 postgresql-client-15 nginx redis-server prometheus prometheus-node-exporter
          openssl chromium poppler-utils testssl.sh wrk nmap
          curl wget git unzip software-properties-common apt-transport-https ca-certificates gnupg
          lsb-release ufw fail2ban htop tree jq procps iproute2 openssh-client)

usage() {
  cat <<'EOF'
Usage: ./deploy.sh VERB [options]

The stack (local processes by default):
  up [--env ENV]              install what is missing, bring every service up (idempotent); an environment
                              whose profile names an ssh:// host (staging) is deployed onto that server over SSH
  down                        stop every service; nothing is left listening
  status [--json]             each service's state and address; --json adds every path the suite needs
  logs [SERVICE]              follow the logs (all, or one: nginx, backend, postgres, redis, prometheus)
  backup                      pg_dump to run/backups/dumps/edupro_backup_YYYYmmdd_HHMMSS.sql (mode 600)
  restore FILE --into DB      restore a backup into a new database DB (never over the live one)
  release VERSION             blue-green: start the idle colour on VERSION, switch nginx, stop the old
  rollback                    switch back to the previous release
  config [--env ENV]          merge and validate the configuration (secrets hidden); --config-dir DIR checks a copy

Lab servers (containers on this machine standing in for a provider's VMs, see README):
  lab up|down|status [--env staging|production] [--json]
                              staging: a fresh Debian 12 server with sshd (key login for deploy, sudo), cron,
                              logrotate, ufw (22, 80, 443) and fail2ban; production: four such servers, web, two
                              application servers and data, each behind its tier's firewall (the paper's security
                              groups); nothing of EduPro until up --env ENV puts it there

The acceptance suite:
  verify [--env ENV] [pytest options]   bring the stack up and verify it, phase by phase: development here;
                                        staging on its server, production on its three tiers' servers (the lab
                                        servers made if the profile names them, deployed over SSH, verified from
                                        outside and on each server with what QA is handed)
  qa-secrets --env ENV                  write what QA is handed for ENV on its server (run/qa-secrets-ENV.yaml)
  bench [--quick] [--only PART...] [--steps N,N]
                                        benchmarks: suite speed, capacity (--steps: its user counts), deploy
                                        time, zero downtime, recovery; prints `name: value unit` lines
  test [--group G]... [--faults] [pytest options]
                                        the project's own tests (what CI runs: all of them), in groups, each on
                                        a stack of its own, in two lanes side by side (faults then stack; lab
                                        then compose), then the quiet ones alone; a table of group, tests, wall and CPU time,
                                        result; each group's output in .test-logs/. --group G: only those groups
                                        (python -m tests.groups --list); --faults: only the fault-injection tests
                                        in one pytest, ending with "faults: N injected, M caught, K missed"

Options:
  --env ENV       development (default), staging or production
  --driver D      how the stack runs: local (processes) or compose (containers from docker-compose.test.yml);
                  up defaults to local, the other verbs act on the stack that runs; EDUPRO_DRIVER=D sets it too
  -h, --help      this help

Exit codes: 0 success, 1 a step or check failed, 2 bad usage, 4 a server that cannot be reached or used as given
(unreachable, key refused, host key changed, no sudo).
EOF
}

say() { printf 'deploy.sh: %s\n' "$*" >&2; }

installed_packages() {  # those of "$@" that are installed, one per line (one dpkg-query for all of them; it exits
  # 1 when one of them is unknown to dpkg, which here means "not installed", never the end of deploy.sh)
  { dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null || true; } | awk '/ ok installed$/ {print $1}'
}

ensure_packages() {
  local missing=() p have
  have=" $(installed_packages "${PACKAGES[@]}" | tr '\n' ' ') "
  for p in "${PACKAGES[@]}"; do
    [[ "$have" == *" $p "* ]] || missing+=("$p")
  done
  # Node.js and npm come with this kind of machine (not from Debian, whose npm would conflict).
  command -v npm >/dev/null || { say "Node.js and npm are needed to build the frontend; install them (apt-get install nodejs npm)"; exit 1; }
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages; run: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_docker() {  # the compose driver: Docker engine, compose 1.29 and debootstrap from Debian; a running daemon
  local missing=() p have
  have=" $(installed_packages docker.io docker-compose debootstrap | tr '\n' ' ') "
  for p in docker.io docker-compose debootstrap; do
    [[ "$have" == *" $p "* ]] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} for the compose driver"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
  docker info >/dev/null 2>&1 && return 0
  if [ ! -e /etc/docker/daemon.json ]; then  # the paper's daemon settings (§2.3.1); an existing file is the owner's
    mkdir -p /etc/docker
    printf '%s\n' '{"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"},' \
      ' "storage-driver": "overlay2", "live-restore": true}' > /etc/docker/daemon.json
    say "wrote /etc/docker/daemon.json (json-file logs 10m x 3, overlay2, live-restore)"
  fi
  say "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  local i
  for i in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  say "dockerd did not start; see /var/log/dockerd.log"; exit 1
}

ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)"
  if [ -x "$PY" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  say "preparing the Python environment in .venv (pinned in requirements.txt)"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements.txt" 2>&1 | grep -v "is ignored" >&2 || true
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$ROOT" 2>&1 | grep -v "is ignored" >&2 || true
  "$PY" -c "import fastapi, pytest_bdd, sslyze, locust, edupro_verify" || { say "Python environment is incomplete; see the pip output above"; exit 1; }
  echo "$want" > "$stamp"
}

stack() {
  PYTHONPATH="$ROOT/stack/ops:$ROOT/stack/backend" "$PY" -m edupro_stack.cli "$@"
}

# The project's tests run on their own stack: their own run directory, ports moved by an offset, their own compose
# stack id, volumes and history. The developer's development stack (or, on a machine without one running, as in CI,
# a stand-in for it) runs beside them and is checked to be exactly as it was afterwards.
TEST_RUN_DIR="${EDUPRO_TEST_RUN_DIR:-$ROOT/.test-stack}"
TEST_PORT_OFFSET="${EDUPRO_TEST_PORT_OFFSET:-20000}"

local_stack_up() {  # is a local-driver stack running in run directory $1?
  EDUPRO_RUN_DIR="$1" EDUPRO_PORT_OFFSET= stack status --json --driver local 2>/dev/null \
    | "$PY" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["services"]["proxy"]["state"] == "running" else 1)'
}

fresh_test_stack() {  # each test run starts from nothing: the last run's stack is stopped and its directory removed
  [ -d "$TEST_RUN_DIR" ] || return 0
  say "removing the previous test stack ($TEST_RUN_DIR)"
  EDUPRO_RUN_DIR="$TEST_RUN_DIR" EDUPRO_PORT_OFFSET="$TEST_PORT_OFFSET" stack down --driver local >/dev/null 2>&1 || true
  if [ -e "$TEST_RUN_DIR/compose/state.json" ]; then
    EDUPRO_RUN_DIR="$TEST_RUN_DIR" EDUPRO_PORT_OFFSET="$TEST_PORT_OFFSET" stack down --driver compose >/dev/null 2>&1 || true
  fi
  rm -rf "$TEST_RUN_DIR"
}

tests_beside_the_development_stack() {
  local developer="${EDUPRO_RUN_DIR:-$ROOT/run}" stand_in="" snapshot rc=0
  if ! local_stack_up "$developer"; then
    stand_in="$ROOT/.test-neighbour"
    say "no development stack is running: one stands in for it beside the tests ($stand_in)"
    [ -d "$stand_in" ] && { EDUPRO_RUN_DIR="$stand_in" EDUPRO_PORT_OFFSET= stack down --driver local >/dev/null 2>&1 || true; }
    rm -rf "$stand_in"  # a stand-in left by an interrupted run is stopped and made afresh
    EDUPRO_RUN_DIR="$stand_in" EDUPRO_PORT_OFFSET= stack up --env development --driver local >&2 || exit 1
    developer="$stand_in"
  fi
  snapshot="$(mktemp)"
  EDUPRO_RUN_DIR="$developer" EDUPRO_PORT_OFFSET= "$PY" -m tests.machine_in_use snapshot "$snapshot" || exit 1
  say "tests on their own stack: $TEST_RUN_DIR, ports + $TEST_PORT_OFFSET; the development stack ($developer) is left alone"
  (cd "$ROOT" && EDUPRO_RUN_DIR="$TEST_RUN_DIR" EDUPRO_PORT_OFFSET="$TEST_PORT_OFFSET" "$PY" "$@") || rc=$?
  EDUPRO_RUN_DIR="$developer" EDUPRO_PORT_OFFSET= "$PY" -m tests.machine_in_use check "$snapshot" || rc=1
  rm -f "$snapshot"
  if [ -n "$stand_in" ]; then
    EDUPRO_RUN_DIR="$stand_in" EDUPRO_PORT_OFFSET= stack down --driver local >/dev/null || rc=1
    rm -rf "$stand_in"
  fi
  return $rc
}

main() {
  [ $# -eq 0 ] && { usage; exit $EXIT_USAGE; }
  case "$1" in -h|--help|help) usage; exit 0 ;; esac
  local verb="$1"; shift
  case "$verb" in
    up|backup|restore|release|rollback)
      ensure_packages; ensure_venv
      case " $* --driver ${EDUPRO_DRIVER:-} " in *" --driver compose "*) ensure_docker ;; esac
      stack "$verb" "$@" ;;
    qa-secrets) ensure_venv; stack "$verb" "$@" ;;
    status|down|config)  # read or stop only: never install anything (the suite calls status on every run)
      ensure_venv; stack "$verb" "$@" ;;
    lab)
      ensure_venv
      [ "${1:-}" = "status" ] || ensure_docker
      stack lab "$@" ;;
    logs)
      local pattern="${1:-}"
      tail -n 50 -F "$ROOT"/run/logs/${pattern:+$pattern}*.log ;;
    verify)
      local env="development"
      if [ "${1:-}" = "--env" ]; then env="${2:?--env needs a value}"; shift 2; fi
      ensure_packages; ensure_venv
      # The arguments are checked before anything is made or deployed; the deploy tool reads the run's own specs
      # folder (--specs), so it acts only on the servers the run's profile names.
      EDUPRO_SPECS="$(cd "$ROOT" && "$PY" -m edupro_verify.suite.options --env "$env" "$@")" || exit $?
      export EDUPRO_SPECS
      if [ "$env" = "development" ]; then stack up --env development
      else  # an environment on its own server: its lab server up if the profile names it, deployed over SSH
        grep -qs '^ *ssh_config: *run/lab/' "$EDUPRO_SPECS/environments/$env.yaml" && ensure_docker
        local provisioned handed release
        provisioned="$(stack provision --env "$env")" || exit $?
        read -r handed release <<< "$provisioned" || true
        if [ -n "$handed" ]; then  # verified with what the operator hands QA, as the release just deployed
          export EDUPRO_VERIFY_SECRETS="${EDUPRO_VERIFY_SECRETS:-$handed}"
          set -- --release "$release" "$@"
        fi
      fi
      cd "$ROOT" && exec "$PY" -m pytest --env "$env" "$@" ;;
    bench)
      ensure_packages; ensure_venv
      stack up --env development >&2
      cd "$ROOT" && exec "$PY" -m bench "$@" ;;
    test)
      ensure_packages; ensure_venv
      ensure_docker  # the compose driver's tests build and run the stack in containers
      local runner=(-m tests.groups)
      if [ "${1:-}" = "--faults" ]; then runner=(-m pytest tests/faults tests/compose/test_container_faults.py); shift; fi
      say "ruff: lint and the step modules' import rule (step_defs/ruff.toml)"
      (cd "$ROOT" && "$VENV/bin/ruff" check --quiet .) || { say "ruff found problems (above); fix them first"; exit 1; }
      fresh_test_stack
      local rc=0
      tests_beside_the_development_stack "${runner[@]}" "$@" || rc=$?
      fresh_test_stack  # nothing of the tests' own left running
      exit $rc ;;
    *)
      say "unknown verb '$verb'; run ./deploy.sh --help"; exit $EXIT_USAGE ;;
  esac
}

main "$@"
