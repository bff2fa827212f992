"""The faults applied on servers as root over SSH: the staging server's (tests/lab/test_staging_lab.py; it runs the
stack in containers) and one tier at a time of the production lab (tests/lab/test_production_lab.py; processes). Each breaks a live surface of the server (a
service, the firewall, what the scheduler reads), not a file nothing reads; tests/unit/test_fault_coverage.py counts
them with the local and container faults."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

# The tests' own servers, beside a developer's (.10 and .20-.23).
STAGING = os.environ.get("EDUPRO_TEST_LAB_ADDRESS", "172.31.240.110")
FIRST = int(os.environ.get("EDUPRO_TEST_PRODUCTION_LAB_FIRST", "120"))
WEB, APP1, APP2, DATA = (f"172.31.240.{FIRST + i}" for i in range(4))
REGISTRY = os.environ.get("EDUPRO_TEST_LAB_REGISTRY_ADDRESS", "172.31.240.105")  # the tests' own image registry


@dataclass(frozen=True)
class ServerFault:
    name: str
    breaks: str  # the requirement that must turn red
    server: str  # the address of the server it is applied on, as root
    apply: str
    undo: str
    select: str = ""  # the scenarios to run (-m), when not every scenario of the requirement sees this surface

    @property
    def requirements(self) -> tuple[str, ...]:  # as every other fault names what it breaks
        return (self.breaks,)


# Until 3 s into the next minute (when cron starts its per-minute jobs); the server's clock is this machine's.
NEXT_MINUTE = "sleep $((63 - $(date +%-S)))"
BEHIND_UFW = "REQ-APP-04 and not REQ-PLAN-02"
# The reachability matrix alone: a stack port open from outside is in it; the scan of every port (26 s) is for ports
# none of the stack's.
MATRIX = "REQ-PLAN-02 and not servers"
# The staging server runs the stack in containers: Docker restarted as its init system does (live restore keeps the
# containers running meanwhile; the lab server's init starts dockerd again within 2 s).
DOCKER_RESTARTED = "pkill -x dockerd; sleep 3; until docker info >/dev/null 2>&1; do sleep 1; done"
# A container's image, for commands that need its name:tag (no $(...): the command is quoted for two shells).
IMAGE_OF = "docker inspect -f '{{{{.Config.Image}}}}' {container} | xargs -I{{}}"


def script(text: str) -> str:
    """A shell script run as root on the server, carried encoded (its $(...) and quotes pass both shells unchanged)."""
    return f"echo {base64.b64encode(text.encode()).decode()} | base64 -d | sh -e"


# The live backend container recreated by docker-compose from the release's compose file ({compose}: or a copy of it),
# on the stack's run directory.
LIVE_BACKEND_RECREATED = """
run=/var/lib/edupro/compose
live=$(jq -r .live_colour $run/state.json)
version=$(jq -r .versions.$live $run/state.json)
cd /opt/edupro/current
env COMPOSE_RUN=$run VERSION=$version STACK_ID=$(cat $run/stack-id) docker-compose -p edupro -f {compose} \\
    up -d --no-deps --no-build backend_$live >/dev/null
until docker exec edupro_backend_$live curl -fsS http://127.0.0.1:8000/health >/dev/null 2>&1; do sleep 1; done
"""
# Docker's first health check of a new container comes one interval (30 s) after it starts.
HEALTHY_AGAIN = ("until [ \"$(docker inspect -f '{{.State.Health.Status}}' edupro_backend_$live)\" = healthy ]; "
                 "do sleep 1; done\n")
# A copy of the compose file whose backends declare no health check (compose 1.29 cannot remove one by override).
WITHOUT_HEALTH_CHECK = """
/opt/edupro/current/.venv/bin/python - <<'PY'
import yaml
compose = yaml.safe_load(open("/opt/edupro/current/docker-compose.test.yml"))
for colour in ("backend_blue", "backend_green"):
    compose["services"][colour].pop("healthcheck")
yaml.safe_dump(compose, open("/root/compose-without-health-check.yml", "w"))
PY
"""
SERVER_FAULTS = (
    ServerFault("cron-stopped", "OPS-04", STAGING, "pkill -x cron", "cron"),
    # The schedule has been in place three days (its file's time moved back) and its log names no backup it made.
    ServerFault("schedule-made-no-backup", "OPS-04", STAGING, "touch -d '3 days ago' /etc/cron.d/edupro-backup",
                "touch /etc/cron.d/edupro-backup"),
    ServerFault("ufw-disabled", "FW-01", STAGING, "ufw --force disable", "ufw --force enable"),
    ServerFault("sshd-jail-removed", "FW-02", STAGING, "fail2ban-client stop sshd", "fail2ban-client reload sshd || fail2ban-client reload"),
    ServerFault("logrotate-file-removed", "OPS-05", STAGING, "mv /etc/logrotate.d/edupro /root/edupro.logrotate",
                "mv /root/edupro.logrotate /etc/logrotate.d/edupro"),
    # A port none of the stack's: only the scan of every port sees it.
    ServerFault("debugging-port-opened", "PLAN-02", STAGING,
                "ufw allow 8081/tcp && (setsid nohup python3 -m http.server 8081 </dev/null >/dev/null 2>&1 &) "
                "&& sleep 1",
                "ufw delete allow 8081/tcp; pkill -f 'http[.]server 8081'; true"),
    # A program listening on the server's address that ufw hides from the scan: the socket itself is seen.
    # (The scan of every port from outside, APP-04's other scenario on servers, cannot see through ufw: left out.)
    ServerFault("program-listening-behind-ufw", "APP-04", STAGING,
                "(setsid nohup python3 -m http.server 8082 </dev/null >/dev/null 2>&1 &) && sleep 1",
                "pkill -f 'http[.]server 8082'; true", select=BEHIND_UFW),
    # The containers (the paper's settings, seed §2.3.1 and §2.4.1):
    # a container Docker would not start again when it stops;
    ServerFault("restart-policy-no", "APP-01", STAGING, "docker update --restart no edupro_cache",
                "docker update --restart unless-stopped edupro_cache", select="REQ-APP-01 and supervised"),
    # a running container's image also tagged latest;
    ServerFault("server-image-tagged-latest", "APP-06", STAGING,
                f"{IMAGE_OF.format(container='edupro_proxy')} docker tag {{}} edupro/proxy:latest",
                "docker rmi edupro/proxy:latest"),
    # an unauthenticated cache published on every address of the server: Docker's own iptables rules let it through
    # although ufw denies 6379 (reachability is measured from outside, never read from ufw);
    ServerFault("cache-published-to-every-address", "PLAN-02", STAGING,
                f"{IMAGE_OF.format(container='edupro_cache')} docker run -d --name edupro-lab-fault-cache "
                "-p 6379:6379 --entrypoint redis-server {} --protected-mode no",
                "docker rm -f edupro-lab-fault-cache", select=MATRIX),
    # a container made by hand from an image no release recorded (a hotfix committed on the server); undone by the
    # stack's own `up`, which recreates the container from the release's image;
    ServerFault("container-from-an-unrecorded-image", "APP-06", STAGING,
                "docker commit edupro_frontend edupro/frontend:hotfix >/dev/null && docker rm -f edupro_frontend "
                ">/dev/null && docker run -d --name edupro_frontend --restart unless-stopped --network "
                "edupro_edupro_network --ip 172.20.0.30 edupro/frontend:hotfix",
                "docker rm -f edupro_frontend && /usr/local/bin/edupro-stack up --env staging && "
                "docker rmi edupro/frontend:hotfix"),
    # the live backend recreated without its health check (Docker can no longer tell a hung backend);
    ServerFault("backend-health-check-removed", "APP-01", STAGING,
                script(WITHOUT_HEALTH_CHECK + LIVE_BACKEND_RECREATED.format(
                    compose="/root/compose-without-health-check.yml")),
                script(LIVE_BACKEND_RECREATED.format(compose="docker-compose.test.yml") + HEALTHY_AGAIN),
                select="REQ-APP-01 and not supervised"),
    # the daemon restarted without log limits: every container it makes from now on logs without bound.
    ServerFault("daemon-without-log-limits", "DKR-01", STAGING,
                "cp /etc/docker/daemon.json /root/daemon.json.orig && jq 'del(.\"log-opts\")' /root/daemon.json.orig "
                f"> /etc/docker/daemon.json && {DOCKER_RESTARTED}",
                f"cp /root/daemon.json.orig /etc/docker/daemon.json && {DOCKER_RESTARTED}"),
)

STACK = "/usr/local/bin/edupro-stack"
PG_DATA = "/var/lib/edupro/postgres/data"
PG_RELOAD = f"runuser -u edupro -- /usr/lib/postgresql/15/bin/pg_ctl -D {PG_DATA} reload"
NGINX = "runuser -u edupro -- nginx -c /var/lib/edupro/nginx/nginx.conf"
PROMETHEUS_CONFIG = "/var/lib/edupro/prometheus/prometheus.yml"
PROMETHEUS_RELOAD = "curl -fsS -X POST http://127.0.0.1:9090/-/reload && sleep 6"  # its targets follow within seconds
TIER_FAULTS = (
    # cron runs but cannot open a job's session: it starts nothing (the supervision's next per-minute job shows it,
    # so each side waits for the next minute to begin, and 3 s more). On the data server, which runs the backups.
    ServerFault("cron-cannot-start-jobs", "OPS-04", DATA,
                f"sed -i '1i session required pam_deny.so # edupro-lab-fault' /etc/pam.d/cron && {NEXT_MINUTE}",
                f"sed -i '/edupro-lab-fault/d' /etc/pam.d/cron && {NEXT_MINUTE}"),
    # Nothing starts a stopped service again: cron no longer reads the supervision (processes: the production lab).
    ServerFault("supervision-removed", "APP-01", WEB, "mv /etc/cron.d/edupro-supervise /root/edupro-supervise",
                "mv /root/edupro-supervise /etc/cron.d/edupro-supervise", select="REQ-APP-01 and supervised"),
    # The application tier's security group opened to everyone for the backend's port.
    # (The reachability matrix measures the backend's port from outside; the scan of every port of four servers is
    # left out.)
    ServerFault("app-firewall-open-to-everyone", "PLAN-02", APP1, "ufw allow 8001/tcp", "ufw delete allow 8001/tcp",
                select="REQ-PLAN-02 and not servers"),
    # The data tier's security group opened to everyone for PostgreSQL: FW-01 reads the rule on the data server
    # (PLAN-02 measures the same door open from outside).
    ServerFault("data-firewall-open-to-everyone", "FW-01", DATA, "ufw allow 5432/tcp", "ufw delete allow 5432/tcp"),
    # One application server's services stopped (and left stopped: down pauses supervision): nginx's health
    # checks take it out, so requests still succeed, but only half the instances serve.
    ServerFault("one-application-server-stopped", "PLAN-03", APP2, f"{STACK} down", f"{STACK} up --env production"),
    # The data tier takes the application servers' connections without TLS.
    ServerFault("database-tls-off-between-tiers", "DATA-05", DATA,
                f"sed -i 's/^hostssl edupro_production/host edupro_production/' {PG_DATA}/pg_hba.conf && {PG_RELOAD}",
                f"sed -i 's/^host edupro_production/hostssl edupro_production/' {PG_DATA}/pg_hba.conf && {PG_RELOAD}"),
    # The web server's Prometheus no longer scrapes the data server's node exporter (a reload, the file kept aside).
    ServerFault("data-server-not-scraped", "MON-01", WEB,
                f"cp {PROMETHEUS_CONFIG} /root/prometheus.yml.orig && sed -i '/- {DATA}:9100/d' {PROMETHEUS_CONFIG} "
                f"&& {PROMETHEUS_RELOAD}",
                f"cp /root/prometheus.yml.orig {PROMETHEUS_CONFIG} && {PROMETHEUS_RELOAD} && sleep 10"),
    # Round robin replaced by ip_hash on the web tier: every request of a client goes to one instance.
    ServerFault("ip-hash-on-the-web-tier", "PLAN-03", WEB,
                "sed -i 's/^upstream edupro_backend {/upstream edupro_backend {\\n    ip_hash;/' "
                f"/var/lib/edupro/nginx/upstream.conf && {NGINX} -s reload && sleep 1",
                f"sed -i '/ip_hash;/d' /var/lib/edupro/nginx/upstream.conf && {NGINX} -s reload && sleep 1"),
)
