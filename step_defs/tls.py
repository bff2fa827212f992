"""The certificate, its files, and the live TLS configuration (TLS-01..04)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from pytest_bdd import when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import host as host_probe
from edupro_verify.probes import tls
from edupro_verify.probes.http import plain_http
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target


@when("the certificate served by the public endpoint is read", target_fixture="served")
def served_certificate(tls_scan: Any) -> x509.Certificate:
    return tls.served_chain(tls_scan)[0]


@then("its subject or alternative names match the domain")
def names_match(served: x509.Certificate, target: Target, evidence: Evidence) -> None:
    names = tls.names(served)
    domain = target.server_name or urlparse(target.base_url).hostname
    ok = domain in names.alt_names or (not names.alt_names and names.common_name == domain)
    evidence.expect_true("certificate names", {"CN": names.common_name, "SAN": names.alt_names}, ok, str(domain),
                         message=f"the certificate names {names.alt_names or names.common_name}, not {domain}")


@then("its issuer is accepted by the environment")
def issuer_accepted(served: x509.Certificate, tls_scan: Any, profile: Profile, evidence: Evidence) -> None:
    names = tls.names(served)
    trusted = bool(tls_scan.scan_result.certificate_info.result.certificate_deployments[0].verified_certificate_chain)
    allowed = profile.threshold("TLS-01", "self_signed_allowed")
    evidence.record("chain trusted by public trust stores", trusted, source="sslyze")
    evidence.expect_true("issuer", names.issuer, trusted or (allowed and names.self_signed),
                         "public CA or self-signed" if allowed else "public CA",
                         message=f"the certificate from {names.issuer} is not trusted by a public CA store"
                         + ("" if allowed else " and this environment needs a public CA"))


@when("the certificate and private key files are examined", target_fixture="files")
def certificate_files(target: Target) -> dict[str, Any]:
    cert, key = str(target.path("certificate")), str(target.path("private_key"))
    host = target.host_of("certificate")
    return {"cert_mode": host_probe.file_mode(host, cert), "key_mode": host_probe.file_mode(host, key),
            "cert": tls.load_certificate(host.file(cert).content), "key_pem": host.file(key).content}


@then("the private key is mode 600 and the certificate 644")
def file_modes(files: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect("private key mode", files["key_mode"], "key_mode")
    evidence.expect("certificate mode", files["cert_mode"], "certificate_mode")


@then("the private key matches the certificate")
def pair(files: dict[str, Any], evidence: Evidence) -> None:
    ok = tls.key_matches(files["cert"], files["key_pem"])
    evidence.expect_true("private key and certificate", "a pair" if ok else "not a pair", ok, "a pair",
                         message="the private key does not belong to the certificate")


@then("the certificate file is the one the endpoint serves")
def same_as_served(files: dict[str, Any], tls_scan: Any, evidence: Evidence) -> None:
    served = tls.served_chain(tls_scan)[0]
    serials = {"on disk": f"{files['cert'].serial_number:x}", "served": f"{served.serial_number:x}"}
    evidence.expect_true("certificate serials", serials, tls.same_certificate(files["cert"], served), "the same certificate",
                         message="the endpoint serves a different certificate")


@then("it is valid now and for at least the required time")
def still_valid(served: x509.Certificate, evidence: Evidence) -> None:
    window = tls.validity(served)
    evidence.record("valid", {"from": window["not_before"], "until": window["not_after"]})
    evidence.expect_true("valid now", window["valid_now"], window["valid_now"], "yes",
                         message=f"the certificate is not valid now ({window['not_before']} to {window['not_after']})")
    evidence.expect("time left before expiry", window["remaining_seconds"], "min_remaining")


@when("the public endpoint is scanned for TLS", target_fixture="scan")
def scan(tls_scan: Any) -> Any:
    return tls_scan


@then("only TLS 1.2 and TLS 1.3 are accepted")
def protocols(scan: Any, evidence: Evidence) -> None:
    accepted = tls.accepted_protocols(scan)
    evidence.record("protocols accepted", accepted, source="sslyze")
    old = [p for p in accepted if p not in ("TLS 1.2", "TLS 1.3")]
    evidence.expect_none("protocols older than TLS 1.2 accepted", old, message=f"the endpoint accepts {', '.join(old)}")


@then("the endpoint complies with Mozilla's intermediate configuration")
def mozilla(scan: Any, evidence: Evidence) -> None:
    issues = tls.mozilla_intermediate_issues(scan)
    evidence.record("ciphers accepted", tls.accepted_ciphers(scan), source="sslyze")
    evidence.expect_none("Mozilla intermediate issues", [f"{k}: {v}" for k, v in issues.items()], source="sslyze",
                         message="not Mozilla intermediate: " + "; ".join(f"{k}: {v}" for k, v in issues.items()))


@then("plain HTTP redirects to HTTPS")
def redirects(target: Target, evidence: Evidence) -> None:
    if not target.http_url:
        raise ProbeError("the profile gives no plain HTTP address to test")
    response = plain_http(target.http_url, "/api/v1/students/me")
    location = response.headers.get("Location", "")
    ok = response.status_code in (301, 308) and location.startswith("https://")
    evidence.expect_true("plain HTTP answer", {"status": response.status_code, "location": location or "none"}, ok,
                         "301 or 308 to https://", source=target.http_url,
                         message=f"plain HTTP answers {response.status_code} {location or ''} instead of redirecting to HTTPS")


@then("the endpoint sends HSTS for at least the required time")
def hsts(scan: Any, evidence: Evidence) -> None:
    max_age = tls.hsts_max_age(scan)
    evidence.expect_true("Strict-Transport-Security header", max_age is not None, max_age is not None, "sent",
                         message="the endpoint sends no Strict-Transport-Security header")
    evidence.expect("HSTS max-age", max_age, "min_hsts_max_age", source="sslyze")
