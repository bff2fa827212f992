"""The private image registry the deploy pushes to and the servers pull from (no public registry is reachable).

On the lab it is a container beside the lab servers (`./deploy.sh lab up` makes it; stack/lab/Dockerfile.registry):
Debian's docker-registry at REGISTRY_ADDRESS, over TLS with its own certificate (the name it is reached by, its IP
address, in the certificate) and a password file (bcrypt). The operator's side keeps, in run/lab/registry/, the
certificate (what this machine's Docker and each server's trust: /etc/docker/certs.d/ADDRESS/ca.crt) and the
credentials (mode 600, never printed). For real servers, a profile names its registry the same way
(`target.registry: {address, ca, credentials}`, the credentials a JSON file {"user", "password"} of the operator's).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .layout import Layout
from .processes import StackError, run

PORT = 5000
# The developer's lab registry at .5; the project's tests run their own beside it (their own run directory).
ADDRESS_VARIABLE = "EDUPRO_LAB_REGISTRY_ADDRESS"
USER = "edupro-deploy"
CERTS_D = Path("/etc/docker/certs.d")


@dataclass(frozen=True)
class Registry:
    address: str  # host:port, as images are named
    ca: Path  # the certificate to trust it by
    credentials: Path  # {"user": ..., "password": ...}, owner-only

    def login(self) -> tuple[str, str]:
        try:
            values = json.loads(self.credentials.read_text())
            return str(values["user"]), str(values["password"])
        except (ValueError, KeyError, TypeError):
            raise StackError(f"{self.credentials}: write the registry's credentials as a JSON object "
                             '{"user": ..., "password": ...}') from None

    def name(self, image: str) -> str:
        return f"{self.address}/{image}"


def folder(layout: Layout) -> Path:
    return layout.run / "lab" / "registry"


def address() -> str:
    return os.environ.get(ADDRESS_VARIABLE, "172.31.240.5")


def container() -> str:
    return f"edupro-lab-registry-{address().rsplit('.', 1)[1]}"


def of_lab(layout: Layout) -> Registry:
    here = folder(layout)
    # the credentials beside the folder the registry's container mounts, never in it
    return Registry(f"{address()}:{PORT}", here / "registry.crt", here.parent / "registry-credentials.json")


def from_profile(layout: Layout, given: dict[str, Any] | None, where: str) -> Registry | None:
    """The registry a profile names (target.registry), its paths relative to the repository; None without one."""
    if not given:
        return None
    missing = [key for key in ("address", "ca", "credentials") if not given.get(key)]
    if missing:
        raise StackError(f"{where}: target.registry: give {', '.join(missing)} (address host:port, the certificate "
                         "to trust it by, the credentials file)")

    def path(value: object) -> Path:
        found = Path(os.path.expanduser(str(value)))
        return found if found.is_absolute() else layout.repo / found
    made = Registry(str(given["address"]), path(given["ca"]), path(given["credentials"]))
    for file in (made.ca, made.credentials):
        if not file.is_file():
            raise StackError(f"{where}: target.registry: {file} does not exist (the lab's: ./deploy.sh lab up)")
    return made


def _write_private(path: Path, data: bytes) -> None:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(data)


def _make_files(layout: Layout) -> None:
    """The registry's key and certificate (its address as the name), credentials, htpasswd and configuration, once."""
    here = folder(layout)
    here.mkdir(parents=True, exist_ok=True)
    here.chmod(0o700)
    made = of_lab(layout)
    if not made.ca.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EduPro lab registry")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                       .not_valid_after(now + datetime.timedelta(days=825))
                       .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address()))]),
                                      critical=False)
                       .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                       .sign(key, hashes.SHA256()))
        _write_private(here / "registry.key", key.private_bytes(serialization.Encoding.PEM,
                                                                serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
        made.ca.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if not made.credentials.exists():
        password = secrets.token_urlsafe(24)
        _write_private(made.credentials, json.dumps({"user": USER, "password": password}).encode())
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode().replace("$2b$", "$2y$", 1)
        (here / "htpasswd").write_text(f"{USER}:{hashed}\n")
    (here / "config.yml").write_text(
        "version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: /var/lib/docker-registry}}\n"
        f"http: {{addr: ':{PORT}', tls: {{certificate: /etc/edupro-registry/registry.crt, "
        "key: /etc/edupro-registry/registry.key}}\n"
        "auth: {htpasswd: {realm: edupro-lab, path: /etc/edupro-registry/htpasswd}}\n")


def up(layout: Layout, network: str, base_image: str) -> Registry:
    """The lab's registry running (made if missing), trusted by this machine's Docker and logged in to."""
    made = of_lab(layout)
    _make_files(layout)
    name = container()
    found = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True)
    if found.stdout.strip() == "false":
        run(["docker", "start", name], what="docker start of the lab registry")
    elif found.returncode != 0:
        tag = _image(layout, base_image)
        run(["docker", "run", "-d", "--name", name, "--network", network, "--ip", address(), "--restart",
             "unless-stopped", "--label", "org.edupro.lab=1", "--label", f"org.edupro.lab.run={layout.run}",
             "-v", f"{folder(layout)}:/etc/edupro-registry:ro", "-v", f"{name}-data:/var/lib/docker-registry", tag],
            what="docker run of the lab registry")
    trust_here(made)
    _wait(made)
    return made


def down(layout: Layout) -> None:
    """The registry deleted with its images, once no lab server of this run directory is left to pull from it."""
    servers = subprocess.run(["docker", "ps", "-aq", "-f", "label=org.edupro.lab.tier", "-f",
                              f"label=org.edupro.lab.run={layout.run}"], capture_output=True, text=True)
    if servers.stdout.strip():
        return
    subprocess.run(["docker", "rm", "-f", container()], capture_output=True)
    subprocess.run(["docker", "volume", "rm", "-f", f"{container()}-data"], capture_output=True)


def _image(layout: Layout, base_image: str) -> str:
    context = layout.repo / "stack" / "lab"
    tag = "edupro/lab-registry:" + hashlib.sha256((context / "Dockerfile.registry").read_bytes()).hexdigest()[:12]
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0:
        run(["docker", "build", "-q", "-t", tag, "--build-arg", f"BASE_IMAGE={base_image}", "-f",
             str(context / "Dockerfile.registry"), str(context)], what="docker build of the lab registry image")
    return tag


def trust_here(registry: Registry) -> None:
    """This machine's Docker trusts the registry's certificate (as each server's will)."""
    target = CERTS_D / registry.address / "ca.crt"
    if not target.exists() or target.read_bytes() != registry.ca.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(registry.ca.read_bytes())


def docker_config(layout: Layout) -> Path:
    """The operator's Docker client settings for pushing (its login kept here, not in root's home)."""
    return folder(layout).parent / "docker-client"


def _wait(registry: Registry, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not _answers(registry):
        if time.monotonic() > deadline:
            raise StackError(f"the lab registry at {registry.address} did not answer in {seconds:.0f} s; "
                             f"see docker logs {container()}")
        time.sleep(0.5)


def _answers(registry: Registry) -> bool:
    """The registry's API answers a logged-in request over TLS, its certificate checked."""
    try:
        return requests.get(f"https://{registry.address}/v2/", verify=str(registry.ca), auth=registry.login(),
                            timeout=3).status_code == 200
    except requests.RequestException:
        return False


def push(layout: Layout, registry: Registry, images: list[str]) -> None:
    """IMAGES pushed to the registry (only the layers it lacks travel), logged in with the operator's credentials."""
    trust_here(registry)
    env = {**os.environ, "DOCKER_CONFIG": str(docker_config(layout))}
    user, password = registry.login()
    docker_config(layout).mkdir(parents=True, exist_ok=True)
    docker_config(layout).chmod(0o700)
    login = subprocess.run(["docker", "login", registry.address, "-u", user, "--password-stdin"], input=password,
                           text=True, capture_output=True, env=env)
    if login.returncode != 0:
        raise StackError(f"the registry {registry.address} refused the operator's login: "
                         f"{(login.stderr.strip().splitlines() or ['no answer'])[-1]}")
    for image in images:
        run(["docker", "tag", image, registry.name(image)], what=f"docker tag of {image}")
        pushed = subprocess.run(["docker", "push", "-q", registry.name(image)], capture_output=True, text=True, env=env)
        if pushed.returncode != 0:
            raise StackError(f"docker push of {image} to {registry.address} failed: "
                             f"{(pushed.stderr.strip().splitlines() or ['no answer'])[-1]}")
