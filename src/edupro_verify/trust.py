"""Trust anchored outside the thing verified: the QA signing keys and the approvers' keys pinned in the
repository (specs/trust), never a key found next to a signature."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import signing

ROLES = ("technical", "security", "business")


@dataclass
class Trust:
    folder: Path
    qa: dict[str, Ed25519PublicKey] = field(default_factory=dict)  # fingerprint -> key
    approvers: dict[str, dict[str, Ed25519PublicKey]] = field(default_factory=dict)  # role -> fingerprint -> key

    @property
    def qa_keys(self) -> list[Ed25519PublicKey]:
        return list(self.qa.values())

    def pins_qa(self, key: Ed25519PublicKey) -> bool:
        return signing.fingerprint(key) in self.qa

    def approver_keys(self, role: str) -> list[Ed25519PublicKey]:
        return list(self.approvers.get(role, {}).values())


def _keys(folder: Path) -> dict[str, Ed25519PublicKey]:
    keys = [signing.load_public(path) for path in sorted(folder.glob("*.pub.pem"))] if folder.is_dir() else []
    return {signing.fingerprint(k): k for k in keys}


def load(folder: Path) -> Trust:
    """The keys pinned in FOLDER (specs/trust); a file that is not an Ed25519 public key is named (SigningError)."""
    return Trust(folder, _keys(folder / "qa"), {role: _keys(folder / "approvers" / role) for role in ROLES})
