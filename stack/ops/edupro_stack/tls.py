"""The development certificate: self-signed, subject as in the paper's setup script (TLS-01..03)."""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .config import StackConfig
from .layout import Layout
from .processes import give, run, which

OIDS = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
        "O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def ensure_certificate(cfg: StackConfig, layout: Layout) -> None:
    layout.tls.mkdir(parents=True, exist_ok=True)
    if not (layout.certificate.exists() and layout.private_key.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(OIDS[k], v) for k, v in cfg.tls.subject.items()])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=cfg.tls.valid_days))
            .add_extension(x509.SubjectAlternativeName([_alt_name(n) for n in cfg.tls.alt_names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        fd = os.open(layout.private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        layout.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    dhparam = layout.tls / "ffdhe2048.pem"
    if not dhparam.exists():
        # RFC 7919 group, as Mozilla's intermediate profile asks for DHE suites.
        run([which("openssl"), "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048",
             "-out", str(dhparam)], what="openssl dhparam")
    give(layout.tls, 0o755)
    layout.private_key.chmod(0o600)
    layout.certificate.chmod(0o644)
    dhparam.chmod(0o644)
