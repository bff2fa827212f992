"""Signed run folders: intact ones verify, every kind of tampering is caught, openssl agrees."""

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from edupro_verify import chain, signing, trust
from tests.helpers import run_cli


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "keys" / "qa.key"
    public = signing.keygen(key)
    run = tmp_path / "run"
    run.mkdir()
    (run / "evidence.json").write_text('{"verdict": "passed"}\n')
    (run / "report.html").write_text("<html>report</html>\n")
    signing.sign(run, signing.load_private(key))
    return run, public


def test_keygen_makes_an_owner_only_private_key(tmp_path: Path) -> None:
    key = tmp_path / "qa.key"
    signing.keygen(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(signing.SigningError, match="refusing to overwrite"):
        signing.keygen(key)


def test_an_intact_folder_verifies_with_the_trusted_key(signed: tuple[Path, Path]) -> None:
    run, public = signed
    assert signing.verify(run, [signing.load_public(public)]).ok
    assert run_cli("verify", str(run), "--key", str(public)).returncode == 0


@pytest.mark.parametrize("tamper, expected", [
    ("byte", "changed: evidence.json"),
    ("remove", "missing: report.html"),
    ("add", "extra: extra.txt"),
    ("signature", "signature: does not verify"),
])
def test_tampering_is_caught_by_our_tool_and_by_openssl(signed: tuple[Path, Path], tmp_path: Path,
                                                        tamper: str, expected: str) -> None:
    original, public = signed
    run = Path(shutil.copytree(original, tmp_path / f"copy-{tamper}"))
    if tamper == "byte":
        data = bytearray((run / "evidence.json").read_bytes())
        data[3] ^= 1
        (run / "evidence.json").write_bytes(bytes(data))
    elif tamper == "remove":
        (run / "report.html").unlink()
    elif tamper == "add":
        (run / "extra.txt").write_text("x")
    else:
        sig = bytearray((run / signing.SIGNATURE).read_bytes())
        sig[5] ^= 1
        (run / signing.SIGNATURE).write_bytes(bytes(sig))
    result = run_cli("verify", str(run), "--key", str(public))
    assert result.returncode == 1
    assert expected in result.stdout
    openssl = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin",
                              "-in", signing.MANIFEST, "-sigfile", signing.SIGNATURE], cwd=run, capture_output=True)
    sums = subprocess.run(["sha256sum", "--check", "--strict", "--quiet", signing.MANIFEST], cwd=run, capture_output=True)
    if tamper == "signature":
        assert openssl.returncode != 0
    elif tamper in ("byte", "remove"):
        assert sums.returncode != 0
    # an added file is invisible to sha256sum --check; our tool reports it (above)


def test_a_key_the_auditor_does_not_trust_is_refused(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = signed
    other = signing.keygen(tmp_path / "other.key")
    result = run_cli("verify", str(run), "--key", str(other))
    assert result.returncode == 1 and "signature" in result.stdout


def pinned_trust(tmp_path: Path, qa: Path | None = None, approvers: dict[str, Path] | None = None) -> Path:
    """A trust folder (as specs/trust) pinning the given public keys."""
    folder = tmp_path / "trust"
    (folder / "qa").mkdir(parents=True)
    if qa:
        shutil.copy(qa, folder / "qa" / "qa.pub.pem")
    for role, public in (approvers or {}).items():
        (folder / "approvers" / role).mkdir(parents=True)
        shutil.copy(public, folder / "approvers" / role / "approver.pub.pem")
    return folder


def test_verify_trusts_the_pinned_keys_by_default(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, public = signed
    ok = run_cli("verify", str(run), "--trust", str(pinned_trust(tmp_path, qa=public)))
    assert ok.returncode == 0 and "verified, signed by SHA256:" in ok.stdout


def test_a_re_signed_copy_fails_without_any_option(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, public = signed
    trust = pinned_trust(tmp_path, qa=public)
    copy = Path(shutil.copytree(run, tmp_path / "re-signed"))
    (copy / "evidence.json").write_text('{"verdict": "forged"}\n')
    genuine = signing.load_private(tmp_path / "keys" / "qa.key").public_key()
    forger = tmp_path / "forger.key"
    signing.keygen(forger)
    signing.sign(copy, signing.load_private(forger))  # a valid signature, and the forger's key beside it
    assert signing.verify(copy, None).ok  # intact for anyone who trusts the folder's own key...
    result = run_cli("verify", str(copy), "--trust", str(trust))  # ...but not for the pinned keys
    forged_by = signing.fingerprint(signing.load_private(forger).public_key())
    assert result.returncode == 1
    assert f"signature: made by {forged_by}, a key that is not trusted" in result.stdout
    assert signing.fingerprint(genuine) not in result.stdout


def test_verify_without_any_trusted_key_says_what_to_do(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = signed
    result = run_cli("verify", str(run), "--trust", str(pinned_trust(tmp_path)))
    assert result.returncode == 2 and "no QA key is pinned" in result.stderr


def test_approvals_count_only_with_a_key_pinned_for_their_role(signed: tuple[Path, Path], tmp_path: Path) -> None:
    run, public = signed
    approver = tmp_path / "iso.key"
    approver_public = signing.keygen(approver)
    folder = pinned_trust(tmp_path, qa=public, approvers={"security": approver_public})
    refused = run_cli("approve", str(run), "--role", "business", "--key", str(approver), "--approver", "ISO",
                      "--trust", str(folder))
    assert refused.returncode == 2 and "not pinned for the business role" in refused.stderr
    added = run_cli("approve", str(run), "--role", "security", "--key", str(approver), "--approver", "ISO",
                    "--trust", str(folder))
    assert added.returncode == 0, added.stderr
    assert set(chain.approvals(run, trust.load(folder))) == {"security"}
    assert chain.approvals(run, trust.load(pinned_trust(tmp_path / "other", qa=public))) == {}
