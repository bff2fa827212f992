"""TLS: a live scan with sslyze (Mozilla's checker for TLS-04), and the certificate and key files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID, NameOID
from sslyze import (
    ScanCommand,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from ..errors import ProbeError

PROTOCOLS = {"SSL 2.0": "ssl_2_0_cipher_suites", "SSL 3.0": "ssl_3_0_cipher_suites",
             "TLS 1.0": "tls_1_0_cipher_suites", "TLS 1.1": "tls_1_1_cipher_suites",
             "TLS 1.2": "tls_1_2_cipher_suites", "TLS 1.3": "tls_1_3_cipher_suites"}
# Trust in the issuer is TLS-01's question, answered per profile; TLS-04 judges protocols and ciphers.
TRUST_ISSUES = {"certificate_path_validation"}


def scan(base_url: str, server_name: str) -> ServerScanResult:
    url = urlparse(base_url)
    name = server_name or url.hostname or "localhost"
    location = ServerNetworkLocation(hostname=name, port=url.port or 443, ip_address=url.hostname)
    request = ServerScanRequest(server_location=location,
                                network_configuration=ServerNetworkConfiguration(tls_server_name_indication=name),
                                scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER | {ScanCommand.HTTP_HEADERS})
    scanner = Scanner()
    scanner.queue_scans([request])
    result = next(iter(scanner.get_results()))
    if result.scan_status != ServerScanStatusEnum.COMPLETED:
        raise ProbeError(f"TLS scan of {url.hostname}:{url.port} could not connect "
                         f"({result.connectivity_error_trace or result.connectivity_status})")
    return result


def accepted_protocols(result: ServerScanResult) -> list[str]:
    accepted = []
    for label, attribute in PROTOCOLS.items():
        attempt = getattr(result.scan_result, attribute)
        if attempt.result is None:
            raise ProbeError(f"the {label} probe of the scan did not complete")
        if attempt.result.accepted_cipher_suites:
            accepted.append(label)
    return accepted


def accepted_ciphers(result: ServerScanResult) -> list[str]:
    names = []
    for attribute in PROTOCOLS.values():
        attempt = getattr(result.scan_result, attribute)
        names += [c.cipher_suite.openssl_name for c in attempt.result.accepted_cipher_suites]
    return sorted(set(names))


def mozilla_intermediate_issues(result: ServerScanResult) -> dict[str, str]:
    config = MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
    try:
        check_server_against_tls_configuration(result, config)
    except ServerNotCompliantWithTlsConfiguration as error:
        return {k: v for k, v in error.issues.items() if k not in TRUST_ISSUES}
    except ServerScanResultIncomplete as error:
        raise ProbeError(f"the TLS scan is incomplete: {error}") from None
    return {}


def hsts_max_age(result: ServerScanResult) -> int | None:
    headers = result.scan_result.http_headers.result
    if headers is None or headers.strict_transport_security_header is None:
        return None
    return headers.strict_transport_security_header.max_age


def served_chain(result: ServerScanResult) -> list[x509.Certificate]:
    deployment = result.scan_result.certificate_info.result.certificate_deployments[0]
    return list(deployment.received_certificate_chain)


def load_certificate(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ProbeError("the certificate file is not a PEM certificate") from None


def key_matches(certificate: x509.Certificate, key_pem: bytes) -> bool:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ProbeError("the private key file is not an unencrypted PEM key") from None
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return key.public_key().public_bytes(enc, pub) == certificate.public_key().public_bytes(enc, pub)


def same_certificate(first: x509.Certificate, second: x509.Certificate) -> bool:
    der = serialization.Encoding.DER
    return first.public_bytes(der) == second.public_bytes(der)


@dataclass
class Names:
    common_name: str
    alt_names: list[str]
    self_signed: bool
    issuer: str


def names(certificate: x509.Certificate) -> Names:
    cn = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        alt = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        alt += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        alt = []
    return Names(str(cn[0].value) if cn else "", alt, certificate.issuer == certificate.subject,
                 certificate.issuer.rfc4514_string())


def validity(certificate: x509.Certificate) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"not_before": certificate.not_valid_before_utc, "not_after": certificate.not_valid_after_utc,
            "valid_now": certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc,
            "remaining_seconds": (certificate.not_valid_after_utc - now).total_seconds()}
