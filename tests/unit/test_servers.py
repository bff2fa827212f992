"""A server of its own, without one: where the profile says it is, SSH's failures in words, what the host shows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from edupro_verify.inventory import Inventory
from edupro_verify.spec import load_profile

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stack" / "ops"))

from edupro_stack import remote  # noqa: E402
from edupro_stack.layout import Layout  # noqa: E402


def layout_with_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: object) -> Layout:
    (tmp_path / "specs" / "environments").mkdir(parents=True)
    (tmp_path / "specs" / "environments" / "staging.yaml").write_text(yaml.safe_dump({"target": target}))
    monkeypatch.setenv(remote.SPECS_VARIABLE, str(tmp_path / "specs"))
    return Layout(tmp_path / "run", repo=tmp_path)


def test_the_server_is_the_profiles_ssh_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = layout_with_profile(tmp_path, monkeypatch, {"host": "ssh://deploy@10.0.0.5", "ssh_config": "lab/cfg",
                                                          "server_name": "staging.example"})
    server = remote.server_for(layout, "staging")
    assert server is not None
    assert (server.user, server.address, server.base_url, server.server_name) == (
        "deploy", "10.0.0.5", "https://10.0.0.5", "staging.example")
    assert server.ssh_config == tmp_path / "lab" / "cfg"
    with pytest.raises(remote.TargetError, match="target.ssh_config: .* does not exist"):
        remote.ssh_command(server, "true")


def test_a_profile_without_an_ssh_host_has_no_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert remote.server_for(layout_with_profile(tmp_path, monkeypatch, {"host": "local://"}), "staging") is None
    assert remote.server_for(layout_with_profile(tmp_path / "t", monkeypatch, None), "staging") is None
    with pytest.raises(remote.TargetError, match="write ssh://USER@ADDRESS"):
        remote.server_for(layout_with_profile(tmp_path / "u", monkeypatch, {"host": "ssh://10.0.0.5"}), "staging")


@pytest.mark.parametrize(("stderr", "said"), [
    ("deploy@10.0.0.5: Permission denied (publickey).", "refused the SSH key"),
    ("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.", "host key"),
    ("ssh: connect to host 10.0.0.5 port 22: Connection timed out", "unreachable over SSH"),
    ("ssh: connect to host 10.0.0.5 port 22: No route to host", "unreachable over SSH"),
])
def test_ssh_failures_are_said_in_words(stderr: str, said: str) -> None:
    server = remote.Server("staging", "ssh://deploy@10.0.0.5", "deploy", "10.0.0.5", None, "https://10.0.0.5", "s")
    assert said in remote._explain(server, stderr)


def test_the_inventory_is_what_the_host_shows() -> None:
    declared = {"proxy": {"listen": ["0.0.0.0:443"]}, "database": {"listen": ["127.0.0.1:5432"]},
                "backend_blue": {"listen": ["127.0.0.1:8001", "127.0.0.1:8003"]},
                "backend_green": {"listen": ["127.0.0.1:8002", "127.0.0.1:8004"]}}
    listening = {("0.0.0.0", 443), ("127.0.0.1", 8001), ("127.0.0.1", 8003)}
    found = Inventory.observed(declared, listening, upstream={("127.0.0.1", 8001), ("127.0.0.1", 8003)})
    assert {n: s.state for n, s in found.services.items()} == {
        "proxy": "running", "database": "stopped", "backend_blue": "running", "backend_green": "stopped"}
    assert found.live_colour == "blue" and found.provider == "host"
    assert Inventory.observed(declared, listening, upstream=set()).live_colour is None


def test_the_production_profile_names_three_tiers_and_discovers_nothing() -> None:
    profile = load_profile("production")
    assert profile.target.discover is None and profile.target.base_url
    assert {tier: len(hosts) for tier, hosts in profile.target.hosts.items()} == {"web": 1, "app": 2, "data": 1}
    placed = {name for names in profile.target.where.values() for name in names}
    assert {"database", "cache", "backend_blue", "backend_green", "frontend"} <= placed


def test_how_a_server_runs_the_stack_is_the_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = {"host": "ssh://deploy@10.0.0.5"}
    assert remote.server_for(layout_with_profile(tmp_path, monkeypatch, host), "staging").runs == "processes"
    server = remote.server_for(layout_with_profile(tmp_path / "c", monkeypatch, {**host, "runs": "containers"}),
                               "staging")
    assert (server.runs, server.run_dir) == ("containers", "/var/lib/edupro/compose")
    assert remote.PACKAGES["containers"][:2] == ("docker.io", "docker-compose")
    with pytest.raises(remote.TargetError, match="target.runs: write processes or containers"):
        remote.server_for(layout_with_profile(tmp_path / "v", monkeypatch, {**host, "runs": "vms"}), "staging")
    tiers = {**host, "runs": "containers", "hosts": {"web": ["ssh://deploy@10.0.0.5"]}}
    with pytest.raises(remote.TargetError, match="built for one server so far"):
        remote.server_for(layout_with_profile(tmp_path / "t", monkeypatch, tiers), "staging")


def test_the_daemon_settings_are_the_papers() -> None:
    from edupro_stack import server_docker

    settings = yaml.safe_load(server_docker.daemon_settings())
    assert settings["log-driver"] == "json-file" and settings["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert settings["storage-driver"] == "overlay2" and settings["live-restore"] is True
    images = ["edupro/proxy:2.0.0", "edupro/cache:2.0.0"]
    assert server_docker._ids("sha256:aa\nnone\n", images) == {"edupro/proxy:2.0.0": "sha256:aa",
                                                                "edupro/cache:2.0.0": "none"}


@pytest.mark.parametrize(("target", "said"), [
    ({"host": "ssh://deploy@10.0.0.5", "runs": "containers"}, "name each service's container"),
    ({"host": "local://", "containers": {"proxy": "edupro_proxy"}}, "read over SSH"),
])
def test_containers_on_a_server_are_named_in_the_profile(tmp_path: Path, target: dict[str, object], said: str) -> None:
    from edupro_verify.spec import SpecError

    specs = tmp_path / "specs"
    (specs / "environments").mkdir(parents=True)
    (specs / "requirements.yaml").write_text((Path(__file__).resolve().parents[2] / "specs" / "requirements.yaml").read_text())
    (specs / "environments" / "staging.yaml").write_text(yaml.safe_dump({"description": "a test", "target": target}))
    with pytest.raises(SpecError, match=said):
        load_profile("staging", specs)


def test_a_profiles_registry_names_its_address_certificate_and_credentials(tmp_path: Path) -> None:
    from edupro_stack import registry

    layout = Layout(tmp_path / "run", repo=tmp_path)
    assert registry.from_profile(layout, None, "staging.yaml") is None
    with pytest.raises(remote.StackError, match="target.registry: give ca, credentials"):
        registry.from_profile(layout, {"address": "10.0.0.9:5000"}, "staging.yaml")
    given = {"address": "10.0.0.9:5000", "ca": "lab/ca.crt", "credentials": "/nowhere/credentials.json"}
    with pytest.raises(remote.StackError, match="lab/ca.crt does not exist"):
        registry.from_profile(layout, given, "staging.yaml")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "ca.crt").write_text("certificate")
    (tmp_path / "credentials.json").write_text('{"user": "u", "password": "p"}')
    found = registry.from_profile(layout, {**given, "credentials": str(tmp_path / "credentials.json")}, "s")
    assert found is not None and found.name("edupro/proxy:2.0.0") == "10.0.0.9:5000/edupro/proxy:2.0.0"
    assert found.login() == ("u", "p")
