"""Staging on a server of its own: a lab server from nothing, deployed over SSH by deploy.sh, verified from outside by
the profile alone; faults applied on the server through SSH, each turned red and undone; bad input refused.

The tests use their own lab server (EDUPRO_LAB_ADDRESS, beside the developer's at 172.31.240.10) and their own copy
of the specs whose staging profile names it, so a developer's lab server is left alone.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
import yaml

from tests.conftest import TALLY
from tests.faults.catalogue import DIRECTORY_ROUTE, UNGUARDED_ROUTE
from tests.helpers import REPO, one_clear_line, run_suite
from tests.lab.faults import REGISTRY, SERVER_FAULTS, ServerFault
from tests.lab.faults import STAGING as ADDRESS

RUN_DIR = Path(os.environ.get("EDUPRO_RUN_DIR", REPO / ".test-stack"))
MUST_PASS = ("FW-01", "FW-02", "OPS-03", "OPS-04", "OPS-05", "PLAN-02", "APP-01", "APP-04", "DATA-01", "MON-01", "MON-04",
             # the paper's Docker requirements, on the server that runs the stack in containers
             "DKR-01", "DKR-02", "SW-02", "SW-03", "APP-06", "APP-08")
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the lab's certificate is self-signed


@dataclass
class Lab:
    specs: Path
    env: dict[str, str]
    ssh_config: Path

    def deploy(self, *args: str, specs: Path | None = None, timeout: int = 1200) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "EDUPRO_SPECS": str(specs or self.specs)}
        return subprocess.run([str(REPO / "deploy.sh"), *args], cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env=env)

    def on_server(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ssh", "-F", str(self.ssh_config), ADDRESS, f"sudo sh -c {json.dumps(command)}"],
                              capture_output=True, text=True, timeout=120)

    def deployed_release(self) -> str:
        """The version the operator's tool deployed (what QA is told to verify), not the server's /version."""
        status = self.deploy("status", "--env", "staging", "--json")
        assert status.returncode == 0, status.stderr[-500:]
        return str(json.loads(status.stdout)["version"])

    def verify(self, reports: Path, *args: str, specs: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_suite("--env", "staging", f"--specs={specs or self.specs}", f"--reports-dir={reports}",
                         "--no-gate", "-q", f"--release={self.deployed_release()}", *args,
                         env={**self.env, "EDUPRO_VERIFY_SECRETS": str(RUN_DIR / "qa-secrets-staging.yaml")})


def specs_naming(folder: Path, **target: Any) -> Path:
    """A copy of the specs whose staging profile names the tests' lab server (and any other change to target)."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = folder / "specs"
    if specs.exists():
        shutil.rmtree(specs)
    shutil.copytree(REPO / "specs", specs)
    path = specs / "environments" / "staging.yaml"
    profile = yaml.safe_load(path.read_text())
    registry = RUN_DIR / "lab" / "registry"
    profile["target"].update({"host": f"ssh://deploy@{ADDRESS}", "ssh_config": str(RUN_DIR / "lab" / "ssh_config"),
                              "base_url": f"https://{ADDRESS}", "http_url": f"http://{ADDRESS}",
                              "registry": {"address": f"{REGISTRY}:5000", "ca": str(registry / "registry.crt"),
                                           "credentials": str(RUN_DIR / "lab" / "registry-credentials.json")}})
    profile["target"].update(target)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return specs


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("lab")
    env = {**os.environ, "EDUPRO_LAB_ADDRESS": ADDRESS, "EDUPRO_LAB_REGISTRY_ADDRESS": REGISTRY,
           "EDUPRO_RUN_DIR": str(RUN_DIR), "EDUPRO_PORT_OFFSET": ""}
    made = Lab(specs_naming(folder), env, RUN_DIR / "lab" / "ssh_config")
    gone = made.deploy("lab", "down", "--env", "staging")
    assert gone.returncode == 0, gone.stderr
    yield made
    made.deploy("lab", "down", "--env", "staging")  # the tests' server is theirs: nothing left running after them


def evidence_of(reports: Path) -> dict[str, Any]:
    return dict(json.loads((reports / "latest" / "evidence.json").read_text()))


def test_staging_from_nothing_is_deployed_over_ssh_and_verified_from_outside(lab: Lab, tmp_path: Path) -> None:
    """`./deploy.sh verify --env staging`: the lab server made, the stack deployed onto it, verified by the profile."""
    result = lab.deploy("verify", "--env", "staging", "--no-gate", "-m", "not load", "-q", "-p", "no:cacheprovider",
                        f"--specs={lab.specs}", f"--reports-dir={tmp_path}")
    assert (tmp_path / "latest").exists(), (f"no report written (exit {result.returncode}): {result.stdout[-1500:]}"
                                            f"{result.stderr[-1500:]}")
    evidence = evidence_of(tmp_path)
    results = evidence["requirements"]
    assert evidence["target"]["host"].startswith(f"ssh://deploy@{ADDRESS}"), evidence["target"]
    not_passed = {r: results[r]["status"] + ": " + results[r]["reason"] for r in MUST_PASS
                  if results[r]["status"] != "passed"}
    assert not not_passed, f"{not_passed}\n{result.stdout[-2000:]}{result.stderr[-1500:]}"
    errors = {r: v["reason"] for r, v in results.items() if v["status"] == "error"}
    assert not errors, f"checks that could not run on the staging server: {errors}"
    unexplained = {r: v["status"] for r, v in results.items() if v["status"] in ("not_covered",)}
    assert not unexplained, unexplained
    print("staging verified:", {s: sum(1 for v in results.values() if v["status"] == s)
                                 for s in sorted({v["status"] for v in results.values()})})


def test_the_release_checks_act_only_on_the_server_the_runs_specs_name(lab: Lab, tmp_path: Path) -> None:
    """`pytest --env staging --specs DIR` with nothing else naming DIR: the deploy tool that REL-01, REL-02 and
    ARCH-04 run releases and rolls back on the server DIR's profile names (the tests' lab server), not on the one
    the repository's own profile names; the history of the named server shows both, made during the run."""
    before = history_lines(lab)
    env = {k: v for k, v in lab.env.items() if k != "EDUPRO_SPECS"}
    result = run_suite("--env", "staging", f"--specs={lab.specs}", f"--reports-dir={tmp_path}", "--no-gate", "-q",
                       f"--release={lab.deployed_release()}", "-m", "REQ-REL-01 or REQ-REL-02 or REQ-ARCH-04",
                       env={**env, "EDUPRO_VERIFY_SECRETS": str(RUN_DIR / "qa-secrets-staging.yaml")})
    results = evidence_of(tmp_path)["requirements"]
    not_passed = {r: f"{v['status']}: {v['reason']}" for r, v in results.items() if v["status"] != "passed"}
    assert not not_passed, f"{not_passed}\n{result.stdout[-1500:]}"
    made = [json.loads(line)["action"] for line in history_lines(lab)[len(before):]]
    assert "release" in made and "rollback" in made, f"the named server's history during the run: {made}"


def history_lines(lab: Lab) -> list[str]:
    return lab.on_server("cat /var/lib/edupro/compose/deployments.jsonl").stdout.splitlines()


def reachable(port: int) -> bool:
    try:
        with socket.create_connection((ADDRESS, port), timeout=2):
            return True
    except OSError:
        return False


def test_from_this_machine_only_ssh_and_the_web_ports_answer(lab: Lab) -> None:
    assert reachable(443) and reachable(80) and reachable(22)
    closed = [p for p in (5432, 6379, 9090, 9100, 8000, 8001, 8002, 3000) if reachable(p)]
    assert not closed, f"reachable from outside the staging server: {closed}"


def caught_and_healed(name: str, breaks: str, on_server: Callable[[str], subprocess.CompletedProcess[str]],
                      apply: str, undo: str, verify: Callable[..., Any], reports: Path, select: str = "") -> None:
    """A fault applied on a server (as root) turns BREAKS red, and once undone it is green again; tallied as NAME.
    SELECT narrows the scenarios run (-m) to those that look at the fault's surface."""
    TALLY["injected"].append(name)
    marker = select or f"REQ-{breaks}"
    broken: dict[str, Any] = {}
    try:
        applied = on_server(apply)
        assert applied.returncode == 0, applied.stderr
        verify(reports / "broken", "-m", marker)
        broken = evidence_of(reports / "broken")["requirements"][breaks]
    finally:
        undone = on_server(undo)
    caught = broken.get("status") == "failed"
    (TALLY["caught"] if caught else TALLY["missed"]).append(name)
    assert caught, f"{name} was not caught by {breaks}: {broken.get('status')}: {broken.get('reason')}"
    assert undone.returncode == 0, undone.stderr
    verify(reports / "healed", "-m", marker)
    healed = evidence_of(reports / "healed")["requirements"][breaks]
    assert healed["status"] == "passed", f"after undoing {name}: {healed['status']}: {healed['reason']}"


@pytest.mark.parametrize("fault", SERVER_FAULTS, ids=[f.name for f in SERVER_FAULTS])
def test_a_fault_on_the_server_is_caught_and_undone(lab: Lab, fault: ServerFault, tmp_path: Path) -> None:
    caught_and_healed(f"lab:{fault.name}", fault.breaks, lab.on_server, fault.apply, fault.undo, lab.verify, tmp_path,
                      fault.select)


STUDENTS_MODULE = "/app/edupro_api/routes/students.py"  # in the backend's image


def live_backend(lab: Lab) -> str:
    status = json.loads(lab.deploy("status", "--env", "staging", "--json").stdout)
    return str(next(s["container"] for n, s in status["services"].items() if n.startswith("backend_") and s["live"]))


def test_a_route_added_without_ferpa_rule_is_found_in_the_api_description_on_the_server(lab: Lab, tmp_path: Path) -> None:
    """Staging publishes no API documentation: DATA-01 reads the OpenAPI document each instance writes as it starts,
    so a route the code serves is tried without changing the suite (here added in the live backend's container,
    which then starts again)."""
    live = live_backend(lab)
    insert = (f"import pathlib; p = pathlib.Path('{STUDENTS_MODULE}'); "
              f"p.write_text(p.read_text().replace({DIRECTORY_ROUTE!r}, {UNGUARDED_ROUTE + DIRECTORY_ROUTE!r}))")
    restarted = (f"docker restart {live} >/dev/null && until docker exec {live} curl -fsS "
                 "http://127.0.0.1:8000/health >/dev/null 2>&1; do sleep 1; done")
    caught_and_healed("lab:route-without-ferpa-rule", "DATA-01", lab.on_server,
                      f"docker exec -u root {live} cp {STUDENTS_MODULE} /root/students.py.orig && "
                      f"docker exec -u root {live} python3 -c {shlex.quote(insert)} && {restarted}",
                      f"docker exec -u root {live} cp /root/students.py.orig {STUDENTS_MODULE} && {restarted}",
                      lab.verify, tmp_path)


def test_a_service_that_stops_is_started_again_by_docker(lab: Lab) -> None:
    """The containers restart unless stopped on purpose: the cache's program killed on the server, Docker starts its
    container again."""
    count = "docker inspect -f '{{.State.Running}} {{.RestartCount}}' edupro_cache"
    before = lab.on_server(count).stdout.split()
    killed = lab.on_server("pkill -x redis-server")
    assert killed.returncode == 0, killed.stderr
    deadline = time.monotonic() + 60
    now = before
    while time.monotonic() < deadline and not (now[0] == "true" and int(now[1]) > int(before[1])):
        time.sleep(1)
        now = lab.on_server(count).stdout.split()
    assert now[0] == "true" and int(now[1]) > int(before[1]), f"the cache's container was not started again: {now}"
    status = json.loads(lab.deploy("status", "--env", "staging", "--json").stdout)
    assert status["services"]["cache"]["state"] == "running", status["services"]["cache"]


def test_a_release_that_cannot_start_leaves_the_previous_one_serving(lab: Lab) -> None:
    """A release of a version whose images never reached the server fails in one line; the live release serves on."""
    before = requests.get(f"https://{ADDRESS}/version", verify=False, timeout=10).json()
    released = lab.deploy("release", "9.9.9", "--env", "staging")
    assert released.returncode == 1 and "no image edupro/backend:9.9.9" in one_clear_line(released), released.stderr
    after = requests.get(f"https://{ADDRESS}/version", verify=False, timeout=10).json()
    assert (after["version"], after["colour"]) == (before["version"], before["colour"]), (before, after)


def test_an_unreachable_server_is_one_line_exit_4(lab: Lab, tmp_path: Path) -> None:
    specs = specs_naming(tmp_path, host="ssh://deploy@172.31.240.250")
    deployed = lab.deploy("up", "--env", "staging", specs=specs)
    assert deployed.returncode == 4 and "unreachable over SSH" in one_clear_line(deployed), deployed.stderr
    verified = lab.verify(tmp_path / "r", specs=specs)
    assert verified.returncode == 4, verified.stdout[-800:] + verified.stderr[-800:]


def _config_with(tmp_path: Path, lab: Lab, old: str, new: str, name: str) -> Path:
    """The lab's ssh_config with OLD replaced, and no shared connection (a master opened with the right key would
    let any later connection through)."""
    copy = tmp_path / name
    text = lab.ssh_config.read_text().replace(old, new).replace("ControlMaster auto", "ControlMaster no")
    copy.write_text(text.replace("ControlPath /tmp/edupro-ssh-%C", "ControlPath none"))
    return copy


def test_a_wrong_key_a_changed_host_key_and_no_sudo_are_each_one_line_exit_4(lab: Lab, tmp_path: Path) -> None:
    other_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    wrong_key = _config_with(tmp_path, lab, str(RUN_DIR / "lab" / "id_ed25519"), str(other_key), "wrong_key")
    hosts = tmp_path / "known_hosts"
    hosts.write_text(f"{ADDRESS} {other_key.with_suffix('.pub').read_text().split()[0]} "
                     f"{other_key.with_suffix('.pub').read_text().split()[1]}\n")
    changed = _config_with(tmp_path, lab, str(RUN_DIR / "lab" / "known_hosts"), str(hosts), "changed_host")
    for config, said in ((wrong_key, "refused the SSH key"), (changed, "host key")):
        specs = specs_naming(tmp_path / f"with-{config.name}", ssh_config=str(config))
        result = lab.deploy("up", "--env", "staging", specs=specs)
        assert result.returncode == 4 and said in one_clear_line(result), result.stderr
    # A user the server lets in without sudo (the provider's console adds it).
    name = f"edupro-lab-staging-{ADDRESS.rsplit('.', 1)[1]}"
    key = (RUN_DIR / "lab" / "id_ed25519.pub").read_text()
    subprocess.run(["docker", "exec", "-i", name, "sh", "-c",
                    "id plain >/dev/null 2>&1 || useradd -m plain; install -d -m 700 -o plain -g plain /home/plain/.ssh; "
                    "cat > /home/plain/.ssh/authorized_keys; chown plain: /home/plain/.ssh/authorized_keys; "
                    "sed -i 's/^AllowUsers deploy$/AllowUsers deploy plain/' /etc/ssh/sshd_config.d/lab.conf; "
                    "kill -HUP $(cat /run/sshd.pid)"], input=key, text=True, check=True)
    plain = _config_with(tmp_path, lab, "User deploy", "User plain", "plain")
    specs = specs_naming(tmp_path / "with-plain", host=f"ssh://plain@{ADDRESS}", ssh_config=str(plain))
    result = lab.deploy("up", "--env", "staging", specs=specs)
    assert result.returncode == 4 and "sudo" in one_clear_line(result), result.stderr


def test_a_tunnel_port_that_is_taken_is_one_line_exit_4(lab: Lab, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        profile = yaml.safe_load((lab.specs / "environments" / "staging.yaml").read_text())
        specs = specs_naming(tmp_path, database={**profile["target"]["database"], "local_port": port})
        result = lab.verify(tmp_path / "r", specs=specs)
    assert result.returncode == 4, result.stdout[-800:]
    assert f"target.database.local_port: port {port} is taken" in one_clear_line(result)


def test_zz_the_lab_server_is_deleted(lab: Lab) -> None:
    result = lab.deploy("lab", "down", "--env", "staging")
    assert result.returncode == 0, result.stderr
    assert not reachable(22)
