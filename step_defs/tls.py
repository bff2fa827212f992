"""The certificate, its files, and the live TLS configuration (TLS-01..04)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pytest_bdd import then, when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import host as host_probe
from edupro_verify.probes import tls
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .common import quantity


@when("the certificate served by the public endpoint is read", target_fixture="served")
def served_certificate(tls_scan: Any) -> x509.Certificate:
    return tls.served_chain(tls_scan)[0]


@then("its subject or alternative names match the domain")
def names_match(served: x509.Certificate, target: Target, evidence: Evidence) -> None:
    names = tls.names(served)
    domain = target.server_name or urlparse(target.base_url).hostname
    evidence.measure("certificate names", {"CN": names.common_name, "SAN": names.alt_names}, domain)
    assert domain in names.alt_names or (not names.alt_names and names.common_name == domain), (
        f"the certificate names {names.alt_names or names.common_name}, not {domain}")


@then("its issuer is accepted by the environment")
def issuer_accepted(served: x509.Certificate, tls_scan: Any, profile: Profile, evidence: Evidence) -> None:
    names = tls.names(served)
    trusted = bool(tls_scan.scan_result.certificate_info.result.certificate_deployments[0].verified_certificate_chain)
    allowed = profile.threshold("TLS-01", "self_signed_allowed")
    evidence.measure("issuer", names.issuer, "public CA" if not allowed else "public CA or self-signed")
    evidence.measure("chain trusted by public trust stores", trusted)
    assert trusted or (allowed and names.self_signed), (
        f"the certificate from {names.issuer} is not trusted by a public CA store"
        + ("" if allowed else " and this environment needs a public CA"))


@when("the certificate and private key files are examined", target_fixture="files")
def certificate_files(target: Target) -> dict[str, Any]:
    cert, key = str(target.path("certificate")), str(target.path("private_key"))
    return {"cert_mode": host_probe.file_mode(target.host, cert), "key_mode": host_probe.file_mode(target.host, key),
            "cert": tls.load_certificate(target.host.file(cert).content), "key_pem": target.host.file(key).content}


@then("the private key is mode 600 and the certificate 644")
def file_modes(files: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want_key, want_cert = str(profile.threshold("TLS-02", "key_mode")), str(profile.threshold("TLS-02", "certificate_mode"))
    evidence.measure("private key mode", files["key_mode"], want_key)
    evidence.measure("certificate mode", files["cert_mode"], want_cert)
    assert files["key_mode"] == want_key, f"the private key is mode {files['key_mode']}, must be {want_key}"
    assert files["cert_mode"] == want_cert, f"the certificate is mode {files['cert_mode']}, must be {want_cert}"


@then("the private key matches the certificate")
def pair(files: dict[str, Any]) -> None:
    assert tls.key_matches(files["cert"], files["key_pem"]), "the private key does not belong to the certificate"


@then("the certificate file is the one the endpoint serves")
def same_as_served(files: dict[str, Any], tls_scan: Any, evidence: Evidence) -> None:
    served = tls.served_chain(tls_scan)[0]
    der = serialization.Encoding.DER
    evidence.measure("serial on disk / served", f"{files['cert'].serial_number:x} / {served.serial_number:x}")
    assert files["cert"].public_bytes(der) == served.public_bytes(der), "the endpoint serves a different certificate"


@then("it is valid now and for at least the required time")
def still_valid(served: x509.Certificate, profile: Profile, evidence: Evidence) -> None:
    window = tls.validity(served)
    need = quantity(profile, "TLS-03", "min_remaining")
    evidence.measure("valid until", window["not_after"].isoformat(), f">= {need / 86400:.0f} days from now")
    assert window["valid_now"], f"the certificate is not valid now ({window['not_before']} to {window['not_after']})"
    assert window["remaining_seconds"] >= need, (
        f"the certificate expires in {window['remaining_seconds'] / 86400:.0f} days, less than {need / 86400:.0f}")


@when("the public endpoint is scanned for TLS", target_fixture="scan")
def scan(tls_scan: Any) -> Any:
    return tls_scan


@then("only TLS 1.2 and TLS 1.3 are accepted")
def protocols(scan: Any, evidence: Evidence) -> None:
    accepted = tls.accepted_protocols(scan)
    evidence.measure("protocols accepted", accepted, ["TLS 1.2", "TLS 1.3"])
    old = [p for p in accepted if p not in ("TLS 1.2", "TLS 1.3")]
    assert not old, f"the endpoint accepts {', '.join(old)}"


@then("the endpoint complies with Mozilla's intermediate configuration")
def mozilla(scan: Any, evidence: Evidence) -> None:
    issues = tls.mozilla_intermediate_issues(scan)
    evidence.measure("ciphers accepted", tls.accepted_ciphers(scan))
    evidence.measure("Mozilla intermediate issues (sslyze)", issues, "none")
    assert not issues, "not Mozilla intermediate: " + "; ".join(f"{k}: {v}" for k, v in issues.items())


@then("plain HTTP redirects to HTTPS")
def redirects(target: Target, evidence: Evidence) -> None:
    if not target.http_url:
        raise ProbeError("the profile gives no plain HTTP address to test")
    try:
        response = requests.get(f"{target.http_url}/api/v1/students/me", allow_redirects=False, timeout=5)
    except requests.RequestException as error:
        raise ProbeError(f"{target.http_url} is unreachable ({type(error).__name__})") from None
    location = response.headers.get("Location", "")
    evidence.measure("HTTP answer", f"{response.status_code} -> {location}", "301/308 to https://")
    assert response.status_code in (301, 308) and location.startswith("https://"), (
        f"plain HTTP answers {response.status_code} {location or ''} instead of redirecting to HTTPS")


@then("the endpoint sends HSTS for at least the required time")
def hsts(scan: Any, profile: Profile, evidence: Evidence) -> None:
    max_age = tls.hsts_max_age(scan)
    need = quantity(profile, "TLS-04", "min_hsts_max_age")
    evidence.measure("HSTS max-age", max_age, f">= {need:.0f}")
    assert max_age is not None, "the endpoint sends no Strict-Transport-Security header"
    assert max_age >= need, f"HSTS max-age is {max_age} s, less than {need:.0f}"
