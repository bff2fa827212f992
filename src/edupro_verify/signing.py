"""Signed run folders (RPT-02): a sha256sum-format manifest of every file, signed with Ed25519.

An auditor without our tool verifies with two standard programs:
    openssl pkeyutl -verify -pubin -inkey KEY.pub.pem -rawin -in MANIFEST.sha256 -sigfile MANIFEST.sha256.sig
    sha256sum --check --strict MANIFEST.sha256
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sha256.sig"
SIGNER = "signer.pub.pem"
UNSIGNED = {MANIFEST, SIGNATURE}
KEY_VARIABLE = "EDUPRO_SIGNING_KEY"
APPROVALS = "approvals"  # added after signing; each approval is signed on its own


class SigningError(Exception):
    pass


def keygen(private_path: Path) -> Path:
    """A new key pair: PRIVATE (owner-only) and PRIVATE.pub.pem."""
    if private_path.exists():
        raise SigningError(f"{private_path} exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    public_path = private_path.with_name(private_path.name + ".pub.pem")
    public_path.write_bytes(public_pem(key.public_key()))
    return public_path


def load_private(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        raise SigningError(f"signing key {path} not found; create one with: edupro-verify keygen {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise SigningError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    if not path.exists():
        raise SigningError(f"public key {path} not found")
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError:
        raise SigningError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path} is not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def signing_key(explicit: Path | None = None) -> tuple[Ed25519PrivateKey, bool]:
    """The QA key (option, else $EDUPRO_SIGNING_KEY) and whether it is one; else a throwaway key."""
    path = explicit or (Path(os.environ[KEY_VARIABLE]) if os.environ.get(KEY_VARIABLE) else None)
    if path is not None:
        return load_private(path), True
    return Ed25519PrivateKey.generate(), False


def _files(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.is_file() and p.name not in UNSIGNED and p.relative_to(run_dir).parts[0] != APPROVALS)


def manifest_text(run_dir: Path) -> str:
    return "".join(f"{hashlib.sha256((run_dir / name).read_bytes()).hexdigest()}  {name}\n"
                   for name in _files(run_dir))


def sign(run_dir: Path, key: Ed25519PrivateKey) -> None:
    (run_dir / SIGNER).write_bytes(public_pem(key.public_key()))
    text = manifest_text(run_dir).encode()
    (run_dir / MANIFEST).write_bytes(text)
    (run_dir / SIGNATURE).write_bytes(key.sign(text))


@dataclass
class Verification:
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    signature_ok: bool = False
    signer: str = ""
    problem: str = ""
    untrusted_signer: str = ""  # the folder's own key made the signature, but it is not a trusted one

    @property
    def ok(self) -> bool:
        return self.signature_ok and not (self.changed or self.missing or self.extra or self.problem)

    def lines(self) -> list[str]:
        out = [f"changed: {n}" for n in self.changed] + [f"missing: {n}" for n in self.missing]
        out += [f"extra: {n}" for n in self.extra]
        if self.problem:
            out.append(self.problem)
        elif self.untrusted_signer:
            out.append(f"signature: made by {self.untrusted_signer}, a key that is not trusted "
                       "(not pinned in specs/trust/qa, not given with --key)")
        elif not self.signature_ok:
            out.append(f"signature: does not verify with {self.signer or 'the trusted keys'}")
        return out


def verify(run_dir: Path, trusted: list[Ed25519PublicKey] | None) -> Verification:
    """Check every file against the manifest and the manifest against the signature.

    trusted: the keys the auditor trusts (the pinned ones, specs/trust); None checks integrity only, with the
    folder's own signer.pub.pem (anyone can sign with a key of their own: never a reason to trust a folder).
    """
    result = Verification()
    if not (run_dir / MANIFEST).is_file() or not (run_dir / SIGNATURE).is_file():
        result.problem = f"{run_dir} is not a signed run folder (no {MANIFEST} or {SIGNATURE})"
        return result
    manifest = (run_dir / MANIFEST).read_bytes()
    listed: dict[str, str] = {}
    for line in manifest.decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    present = set(_files(run_dir))
    result.missing = sorted(set(listed) - present)
    result.extra = sorted(present - set(listed))
    result.changed = sorted(n for n in set(listed) & present
                            if hashlib.sha256((run_dir / n).read_bytes()).hexdigest() != listed[n])
    keys = trusted
    if keys is None:
        try:
            keys = [load_public(run_dir / SIGNER)]
        except SigningError as error:
            result.problem = str(error)
            return result
    signature = (run_dir / SIGNATURE).read_bytes()
    for key in keys:
        if signed_by(key, signature, manifest):
            result.signature_ok, result.signer = True, fingerprint(key)
            return result
    if trusted is not None and (run_dir / SIGNER).is_file():
        try:
            own = load_public(run_dir / SIGNER)
        except SigningError:
            return result
        if signed_by(own, signature, manifest):
            result.untrusted_signer = fingerprint(own)
    return result


def signed_by(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
        return True
    except InvalidSignature:
        return False


def verify_with_standard_tools(run_dir: Path) -> dict[str, tuple[int, str]]:
    """What an auditor without our tool sees: openssl over the signature, sha256sum over the files (exit, output)."""
    openssl = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", SIGNER, "-rawin", "-in", MANIFEST,
                              "-sigfile", SIGNATURE], cwd=run_dir, capture_output=True, text=True, check=False)
    sums = subprocess.run(["sha256sum", "--check", "--strict", "--quiet", MANIFEST], cwd=run_dir,
                          capture_output=True, text=True, check=False)
    return {"openssl": (openssl.returncode, (openssl.stdout or openssl.stderr).strip()[:120]),
            "sha256sum": (sums.returncode, (sums.stdout or sums.stderr).strip()[:120])}
