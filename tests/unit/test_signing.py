"""Signed run folders: intact ones verify, every kind of tampering is caught, openssl agrees."""

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from edupro_verify import signing
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
