"""edupro-verify: what an auditor or QA lead runs on report folders.

    edupro-verify keygen KEY                         a new Ed25519 signing key (KEY, KEY.pub.pem)
    edupro-verify verify RUN_DIR [--key PUB]         every file intact, signed by a pinned QA key (specs/trust/qa)
    edupro-verify verify --chain RUN_DIR...          and each run builds on the one before
    edupro-verify approve RUN_DIR --role R --key KEY --approver NAME
    edupro-verify schema-snapshot --dsn DSN          the expected schema, for specs/schema/
    edupro-verify schema                             the JSON Schema of evidence.json

Exit codes: 0 verified, 1 verification failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from . import chain, evidence, signing, trust
from .probes.database import schema_snapshot
from .spec import SPECS

OK, FAILED, USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edupro-verify", description="Sign, verify and approve EduPro report folders.",
                                epilog="Exit codes: 0 verified, 1 verification failed, 2 bad usage.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    k = sub.add_parser("keygen", help="create an Ed25519 key pair (private key owner-only)")
    k.add_argument("key", type=Path)
    v = sub.add_parser("verify", help="check a run folder's files and signature")
    v.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    v.add_argument("--key", type=Path, action="append",
                   help="trust this public key (PEM) instead of the pinned ones; repeatable")
    v.add_argument("--allowed-signers", type=Path, help="file listing trusted public key files, one per line")
    v.add_argument("--trust", type=Path, default=SPECS / "trust",
                   help="the folder of pinned keys (default: the repository's specs/trust)")
    v.add_argument("--chain", action="store_true", help="also check each run records the previous one's manifest")
    a = sub.add_parser("approve", help="add a signed approval to a run folder")
    a.add_argument("run_dir", type=Path)
    a.add_argument("--role", required=True, choices=chain.ROLES)
    a.add_argument("--key", type=Path, required=True, help="the approver's private key")
    a.add_argument("--approver", required=True, help="who approves, e.g. 'Information Security Officer'")
    a.add_argument("--trust", type=Path, default=SPECS / "trust",
                   help="the folder of pinned keys (default: the repository's specs/trust)")
    s = sub.add_parser("schema-snapshot", help="print the schema of a database as specs/schema expects it")
    s.add_argument("--dsn", default=os.environ.get("EDUPRO_SNAPSHOT_DSN"), help="PostgreSQL connection string")
    sub.add_parser("schema", help=f"print the JSON Schema of evidence.json (schema_version {evidence.SCHEMA_VERSION})")
    return p


def _trusted(args: argparse.Namespace) -> list[signing.Ed25519PublicKey]:
    """The keys given (--key, --allowed-signers), else the QA keys pinned in the trust folder; never a folder's own."""
    files = list(args.key or [])
    if args.allowed_signers:
        if not args.allowed_signers.exists():
            raise signing.SigningError(f"{args.allowed_signers} not found")
        files += [Path(line.strip()) for line in args.allowed_signers.read_text().splitlines()
                  if line.strip() and not line.startswith("#")]
    if files:
        return [signing.load_public(f) for f in files]
    pinned = trust.load(args.trust).qa_keys
    if not pinned:
        raise signing.SigningError(f"no QA key is pinned in {args.trust / 'qa'} and none is given; pin one "
                                   "(see specs/trust/README.md) or pass --key PUB")
    return pinned


def verify(args: argparse.Namespace) -> int:
    for run_dir in args.run_dirs:
        if not run_dir.is_dir():
            print(f"{run_dir}: not a folder", file=sys.stderr)
            return USAGE
        if not (run_dir / signing.MANIFEST).is_file():
            print(f"{run_dir}: not a signed run folder (no {signing.MANIFEST})", file=sys.stderr)
            return USAGE
    trusted = _trusted(args)
    status = OK
    previous: Path | None = None
    for run_dir in args.run_dirs:
        result = signing.verify(run_dir, trusted)
        for line in result.lines():
            print(f"{run_dir}: {line}")
        if result.ok:
            print(f"{run_dir}: verified, signed by {result.signer}")
        else:
            status = FAILED
        if args.chain and previous is not None and result.ok:
            gate = json.loads((run_dir / "evidence.json").read_text())["run"].get("gate") or {}
            want = chain.manifest_digest(previous)
            if gate.get("predecessor_manifest_sha256") != want:  # read as data: a folder of any schema version
                print(f"{run_dir}: chain broken: does not build on {previous.name} (manifest {want[:12]}…)")
                status = FAILED
        previous = run_dir
    return status


def approve(args: argparse.Namespace) -> int:
    key = signing.load_private(args.key)
    pinned = trust.load(args.trust)
    if signing.fingerprint(key.public_key()) not in pinned.approvers.get(args.role, {}):
        print(f"edupro-verify: the key {signing.fingerprint(key.public_key())} is not pinned for the {args.role} role "
              f"in {args.trust / 'approvers' / args.role}; an approval with it would not count", file=sys.stderr)
        return USAGE
    checked = signing.verify(args.run_dir, pinned.qa_keys)
    if not checked.ok:
        why = "; ".join(checked.lines()) or "it does not verify"
        print(f"{args.run_dir}: not verified with the pinned QA keys ({why}); refusing to approve it", file=sys.stderr)
        return FAILED
    statement = {"role": args.role, "approver": args.approver, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                 "manifest_sha256": chain.manifest_digest(args.run_dir),
                 "signer": signing.fingerprint(key.public_key())}
    folder = args.run_dir / signing.APPROVALS
    folder.mkdir(exist_ok=True)
    body = json.dumps(statement, indent=2).encode()
    (folder / f"{args.role}.json").write_bytes(body)
    (folder / f"{args.role}.sig").write_bytes(key.sign(body))
    (folder / f"{args.role}.pub.pem").write_bytes(signing.public_pem(key.public_key()))
    print(f"{args.run_dir}: {args.role} approval by {args.approver} added")
    return OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            public = signing.keygen(args.key)
            print(f"private key {args.key} (mode 600), public key {public}; "
                  f"fingerprint {signing.fingerprint(signing.load_public(public))}")
            return OK
        if args.command == "verify":
            return verify(args)
        if args.command == "approve":
            return approve(args)
        if args.command == "schema":
            print(json.dumps(evidence.schema(), indent=2))
            return OK
        if not args.dsn:
            print("edupro-verify: give --dsn or set EDUPRO_SNAPSHOT_DSN", file=sys.stderr)
            return USAGE
        with psycopg.connect(args.dsn) as conn:
            print(json.dumps(schema_snapshot(conn), indent=1))
        return OK
    except signing.SigningError as error:
        print(f"edupro-verify: {error}", file=sys.stderr)
        return USAGE
    except psycopg.OperationalError as error:
        print(f"edupro-verify: cannot connect: {str(error).strip().splitlines()[-1]}", file=sys.stderr)
        return USAGE


if __name__ == "__main__":
    sys.exit(main())
