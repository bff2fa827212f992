"""deploy.sh's verbs for the stack (the shell script only finds Python and calls this)."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import backup, compose, remote, stack
from .config import ConfigError, load
from .layout import Layout
from .processes import StackError

EXIT_FAILED, EXIT_USAGE, EXIT_BAD_TARGET = 1, 2, 4
CHANGES_THE_STACK = {"up", "down", "release", "rollback"}


@contextmanager
def holding_the_lock(layout: Layout) -> Iterator[bool]:
    """True while this process alone changes the stack; False when another change is under way."""
    layout.run.mkdir(parents=True, exist_ok=True)
    with (layout.run / "deploy.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


@contextmanager
def one_change_at_a_time(layout: Layout, verb: str) -> Iterator[None]:
    """Two releases at once would fight over nginx and the colours: the second one is refused."""
    if verb not in CHANGES_THE_STACK:
        yield
        return
    with holding_the_lock(layout) as alone:
        if not alone:
            raise StackError("another deploy.sh up/down/release/rollback is running on this stack; "
                             "wait for it to finish")
        yield


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deploy.sh", description="Run the reference EduPro stack.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--driver", choices=["local", "compose"], default=None,
                        help="how the stack runs: local processes, or containers from docker-compose.test.yml; "
                             "up defaults to local (or $EDUPRO_DRIVER), every other verb to the stack that is running")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    up = sub.add_parser("up", parents=[common], help="install what is missing, bring every service up (idempotent)")
    up.add_argument("--env", default="development",
                    help="development (default), staging or production; an environment whose profile names an "
                         "ssh:// host is deployed onto that server over SSH")
    d = sub.add_parser("down", parents=[common], help="stop every service; nothing is left listening")
    st = sub.add_parser("status", parents=[common], help="state of every service, and where its files are")
    st.add_argument("--json", action="store_true", help="one JSON object, for the suite and scripts")
    b = sub.add_parser("backup", parents=[common], help="pg_dump to run/backups/dumps/edupro_backup_YYYYmmdd_HHMMSS.sql (mode 600)")
    b.add_argument("--env", default=None, help="defaults to the running stack's environment")
    b.add_argument("--scheduled", action="store_true", help="run by the backup schedule (cron); recorded as such")
    r = sub.add_parser("restore", parents=[common], help="restore a backup file into a new database")
    r.add_argument("file", type=Path)
    r.add_argument("--into", required=True, help="name of the database to create (never the live one)")
    rel = sub.add_parser("release", parents=[common], help="blue-green: start the idle colour on VERSION, switch, stop the old")
    rel.add_argument("version")
    rb = sub.add_parser("rollback", parents=[common], help="switch back to the previous release's colour and version")
    for verb_parser in (rel, rb):  # run by deploy.sh on each tier's server, in order; not for people
        verb_parser.add_argument("--tier-step", choices=stack.TIER_STEPS, default=None, help=argparse.SUPPRESS)
    for verb_parser in (d, st, r, rel, rb):
        verb_parser.add_argument("--env", default=None,
                                 help="an environment on its own server (its profile's ssh:// host): act there")
    c = sub.add_parser("config", parents=[common], help="merge base < environment < secrets, validate, print (secrets hidden)")
    c.add_argument("--env", default="development")
    c.add_argument("--config-dir", type=Path, help="check another copy of stack/config")
    sub.add_parser("supervise", parents=[common], help="start again what has stopped (cron runs it each minute on a server; "
                                     "nothing after down)")
    pv = sub.add_parser("provision", help="for verify: the environment's lab server (if its profile names it) up, "
                                          "the stack deployed there; prints what QA is handed and the release")
    pv.add_argument("--env", required=True)
    qa = sub.add_parser("qa-secrets", help="write what QA needs to verify an environment on its own server "
                                            "(run/qa-secrets-ENV.yaml, mode 600) and print its path")
    qa.add_argument("--env", required=True)
    lab = sub.add_parser("lab", help="lab servers on this machine that stand in for a provider's VMs")
    lab.add_argument("action", choices=["up", "down", "status"])
    lab.add_argument("--env", default="staging", help="whose servers: staging (one) or production (web, two "
                                                      "application servers, data); default staging")
    lab.add_argument("--json", action="store_true", help="status as one JSON object (address, SSH key, ssh_config)")
    return p


def _env_of_running(layout: Layout, given: str | None) -> str:
    state = stack.State.read(layout)
    return given or (state.env if state else "development")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    layout = Layout.default()
    try:
        with one_change_at_a_time(layout, args.verb):
            return _run(args, layout, list(sys.argv[1:] if argv is None else argv))
    except ConfigError as error:
        print(f"deploy.sh: {error}", file=sys.stderr)
        return EXIT_USAGE
    except remote.TargetError as error:
        print(f"deploy.sh: {error}", file=sys.stderr)
        return EXIT_BAD_TARGET
    except StackError as error:
        print(f"deploy.sh: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # `status | head`: the reader left; nothing to report
        return 0


def _driver(args: argparse.Namespace, local: Layout) -> str:
    """up starts the local stack unless told otherwise; the other verbs act on the stack that runs."""
    if args.verb == "config":
        return "local"  # the merged configuration is the same for both drivers
    chosen = args.driver or os.environ.get("EDUPRO_DRIVER")
    if chosen not in (None, "local", "compose"):
        raise ConfigError(f"EDUPRO_DRIVER={chosen}: choose local or compose")
    if chosen or args.verb == "up":
        return str(chosen or "local")
    if stack.is_up(local):
        return "local"
    return "compose" if compose.compose_layout(local).state_file.exists() else "local"


# A release is named like 2.1.0 or 2.1.0-rc.1 (the backend reports it; images are tagged with it).
RELEASE_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")


def _check_version(version: str) -> None:
    """Refused before anything starts: a version no backend could report."""
    if not RELEASE_VERSION.match(version):
        raise ConfigError(f"release version '{version}' is not of the form MAJOR.MINOR.PATCH (as 2.1.0 or 2.1.0-rc.1); "
                          "nothing was started")


def _run(args: argparse.Namespace, layout: Layout, argv: list[str]) -> int:
    if args.verb == "lab":
        return _run_lab(args, layout)
    if args.verb == "release":
        _check_version(args.version)
    if server := _server(args, layout):
        return _run_remote(args, layout, server, argv)
    if args.verb == "provision":
        return 0  # an environment without a server of its own: nothing to provision here
    if args.verb == "qa-secrets":
        raise ConfigError(f"qa-secrets: '{args.env}' has no server of its own (its profile names no ssh:// host)")
    if _driver(args, layout) == "compose":
        return _run_compose(args, layout)
    if args.verb == "up":
        state = stack.up(args.env, layout)
        info = stack.status(layout)
        print(f"EduPro {args.env} is up: {info['base_url']} (live colour {state.live_colour}, "
              f"version {state.live_version})")
    elif args.verb == "down":
        stack.down(layout)
        print("EduPro is down")
    elif args.verb == "supervise":
        with holding_the_lock(layout) as alone:  # a deploy under way stops services on purpose: next minute
            restarted = stack.supervise(layout) if alone else []
        if restarted:
            print(f"{datetime.now(UTC).isoformat(timespec='seconds')} started again: {', '.join(restarted)}")
    elif args.verb == "status":
        _print_status(stack.status(layout), args.json)
    elif args.verb == "backup":
        cfg = load(layout, _env_of_running(layout, args.env))
        print(backup.take(cfg, layout, scheduled=args.scheduled))
    elif args.verb == "restore":
        cfg = load(layout, _env_of_running(layout, None))
        seconds = backup.restore(cfg, args.file.resolve(), args.into)
        print(f"restored {args.file.name} into {args.into} in {seconds:.1f} s")
    elif args.verb == "release":
        state = stack.switch(layout, args.version, "release", args.tier_step)
        if args.tier_step == "start":
            print(f"started {args.version} on {stack.backend.other(state.live_colour)} beside the live colour")
        else:
            print(f"released {state.live_version} on {state.live_colour}")
    elif args.verb == "config":
        cfg = load(layout, args.env, args.config_dir)
        print(json.dumps(cfg.model_dump(exclude={"secrets"}), indent=2))
    elif args.verb == "rollback":
        state = stack.switch(layout, None, "rollback", args.tier_step)
        if args.tier_step == "start":
            print(f"started the previous release on {stack.backend.other(state.live_colour)} beside the live colour")
        else:
            print(f"rolled back to {state.live_version} on {state.live_colour}")
    return 0


def _server(args: argparse.Namespace, layout: Layout) -> remote.Server | None:
    """The environment's own server, when its profile names one and no driver of this machine is asked for."""
    env = getattr(args, "env", None)
    if not env or args.verb in ("config", "lab") or getattr(args, "driver", None) or os.environ.get("EDUPRO_DRIVER"):
        return None
    return remote.server_for(layout, env)


def _run_remote(args: argparse.Namespace, layout: Layout, server: remote.Server, argv: list[str]) -> int:
    if args.verb == "qa-secrets":
        print(remote.qa_secrets(layout, server, args.env))
        return 0
    if args.verb == "provision":
        from . import lab

        if lab.names_lab_server(layout, server.env, server.address):
            lab.up(layout, server.env)
        release = remote.up(layout, args.env, server)
        remote.say(f"EduPro {args.env} is up on {server.url}: {server.base_url} (release {release})")
        print(remote.qa_secrets(layout, server, args.env), load(layout, args.env).application.version)
        return 0
    if args.verb == "up":
        release = remote.up(layout, args.env, server)
        print(f"EduPro {args.env} is up on {server.url}: {server.base_url} (release {release})")
        return 0
    if args.verb == "restore":
        raise StackError(f"restore on {server.label}: run it on the server (sudo edupro-stack restore FILE --into DB), "
                         "where the backups are")
    return remote.verb(server, [a for a in argv if a not in ("--env", args.env)],
                       tiers=remote.tier_servers(layout, server))


def _run_lab(args: argparse.Namespace, layout: Layout) -> int:
    from . import lab  # Docker is needed only here and by the compose driver

    if args.action == "up":
        for server in lab.up(layout, args.env):
            tier = "" if server.tier == "all" else f" ({server.tier} tier)"
            print(f"lab server {server.name}{tier} is up: {server.ssh_url} (ssh -F {server.ssh_config} {server.address})")
    elif args.action == "down":
        for server in lab.down(layout, args.env):
            print(f"lab server {server.name} is deleted (the operator's key in {server.folder} is kept)")
    else:
        found = lab.status(layout, args.env)
        if args.json:  # staging's one server as an object, as before; a lab of several as a list
            print(json.dumps(found[0] if len(found) == 1 else found, indent=2))
        for info in [] if args.json else found:
            print(f"{info['name']:26} {info['tier']:5} {info['state']:8} {info['ssh']} (key {info['ssh_key']})")
    return 0


def _print_status(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, indent=2))
        return
    for name, svc in info["services"].items():
        health = f" ({svc['health']})" if "health" in svc else ""
        print(f"{name:16} {svc['state']:8} {svc['address']}{health}")


def _run_compose(args: argparse.Namespace, local: Layout) -> int:
    layout = compose.compose_layout(local)
    if args.verb == "up":
        state = compose.up(args.env, layout, load(layout, args.env).application.version)
        print(f"EduPro {args.env} is up in containers: {compose.base_url(layout)} (live colour {state.live_colour}, "
              f"version {state.live_version})")
        if kept := compose.other_stacks_volumes(layout):
            print(f"note: {len(kept)} volume(s) of earlier compose stacks are kept ({', '.join(kept[:3])}"
                  f"{', …' if len(kept) > 3 else ''}); docker volume rm them to free their space")
    elif args.verb == "down":
        compose.down(layout)
        print("EduPro's containers are down")
    elif args.verb == "status":
        _print_status(compose.status(layout), args.json)
    elif args.verb == "backup":
        print(compose.take_backup(layout, args.scheduled))
    elif args.verb == "restore":
        seconds = compose.restore(layout, args.file.resolve(), args.into)
        print(f"restored {args.file.name} into {args.into} in {seconds:.1f} s")
    elif args.verb in ("release", "rollback"):
        state = compose.switch(layout, args.version if args.verb == "release" else None, args.verb)
        print(f"{'released' if args.verb == 'release' else 'rolled back to'} {state.live_version} on "
              f"{state.live_colour} (containers)")
    else:
        raise StackError(f"'{args.verb}' is not built for the compose driver; use the local driver")
    return 0


if __name__ == "__main__":
    sys.exit(main())
