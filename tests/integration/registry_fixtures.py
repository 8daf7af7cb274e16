"""Real registries for the registry_check tests, without Docker.

Debian's distribution registry (/usr/bin/docker-registry) runs as a subprocess on loopback, or
inside a network namespace the test creates. TLS comes from a CA generated here, basic auth from
an htpasswd file (bcrypt), token auth from a small token server that implements the
distribution token flow (JWT signed with a key the registry trusts through rootcertbundle).
Images are built here as OCI layouts and pushed with skopeo.

Also runnable inside a namespace: `python registry_fixtures.py run-module < args.json` runs the
module in-process there and prints {"result": ..., "elapsed": seconds}.
"""

import base64
import contextlib
import datetime
import gzip
import hashlib
import io
import ipaddress
import json
import os
import platform
import runpy
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PROJECT = Path(__file__).resolve().parents[2]
REGISTRY_BINARY = "/usr/bin/docker-registry"
TOOLS = (REGISTRY_BINARY, "skopeo", "htpasswd")
# An address range reserved for benchmarking networks (RFC 2544): only ever used inside a
# namespace the test creates.
SILENT_NETWORK = ipaddress.ip_network("198.18.0.0/30")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def missing_tools():
    return [tool for tool in TOOLS if not shutil.which(tool)]


def run(argv, check=True, **kwargs):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=120, **kwargs)


# --- certificates ----------------------------------------------------------------------------


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path, key):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _certificate(subject, issuer, public_key, signing_key, extensions):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


class Pki:
    """A CA and a server certificate it signed for localhost, 127.0.0.1 and ::1."""

    def __init__(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("nested-warden test CA")
        ca = _certificate(
            ca_name,
            ca_name,
            ca_key.public_key(),
            ca_key,
            [
                (x509.BasicConstraints(ca=True, path_length=0), True),
                (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
            ],
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        names = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
        server = _certificate(
            _name("localhost"),
            ca_name,
            server_key.public_key(),
            ca_key,
            [
                (x509.SubjectAlternativeName(names), False),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            ],
        )
        self.ca_cert = directory / "ca.crt"
        self.server_cert = directory / "server.crt"
        self.server_key = directory / "server.key"
        self.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        _write_key(self.server_key, server_key)


def write_htpasswd(path, users):
    """bcrypt entries from apache2-utils' htpasswd; -i reads the password from stdin, not argv."""
    lines = [
        run(["htpasswd", "-niB", user], input=password).stdout.strip() for user, password in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- token server ------------------------------------------------------------------------------


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The distribution token flow's auth server: GET realm?service=&scope= with Basic credentials.

    Valid users get every action they ask for; requests without credentials get an anonymous
    token with no access (as public token servers do); wrong credentials get 401.
    """

    service = "nested-warden-registry"
    issuer = "nested-warden-token-issuer"

    def __init__(self, directory, users):
        directory.mkdir(parents=True, exist_ok=True)
        self.users = dict(users)
        self.requests = []
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = _name("nested-warden token signer")
        certificate = _certificate(name, name, self._key.public_key(), self._key, [])
        self._x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
        self.certificate = directory / "token-signer.crt"
        self.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self._server = None

    @property
    def realm(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def issue(self, subject, scopes):
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = parse_qs(urlsplit(self.path).query)
                scopes = query.get("scope", [])
                user = self._authenticated_user()
                server.requests.append({"user": user, "scopes": scopes, "service": query.get("service")})
                if user is False:
                    self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                elif user is None:
                    self._answer(200, {"token": server.issue("", [])})
                else:
                    self._answer(200, {"token": server.issue(user, scopes), "expires_in": 300})

            def _authenticated_user(self):
                """The user name, None without credentials, False for wrong ones."""
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user if server.users.get(user) == password else False

            def _answer(self, status, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- the registry ------------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Registry:
    """docker-registry serve with a config written here; stop() always ends the process."""

    def __init__(
        self, directory, *, bind="127.0.0.1", port=None, pki=None, htpasswd=None, token=None, namespace=None
    ):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.bind = bind
        self.port = port
        self.pki = pki
        self.htpasswd = htpasswd
        self.token = token
        self.namespace = namespace
        self.log = directory / "registry.log"
        self.process = None

    @property
    def host(self):
        """Where a client on the same host reaches it."""
        if self.bind in ("0.0.0.0", "::", ""):
            return "127.0.0.1"
        return f"[{self.bind}]" if ":" in self.bind else self.bind

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    @property
    def url(self):
        return f"{'https' if self.pki else 'http'}://{self.address}"

    def config(self):
        bind = f"[{self.bind}]" if ":" in self.bind else self.bind
        http = {"addr": f"{bind}:{self.port}", "secret": secrets.token_hex(16)}
        if self.pki:
            http["tls"] = {"certificate": str(self.pki.server_cert), "key": str(self.pki.server_key)}
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": str(self.directory / "storage")}},
            "http": http,
        }
        if self.htpasswd:
            config["auth"] = {"htpasswd": {"realm": "nested-warden-test", "path": str(self.htpasswd)}}
        if self.token:
            config["auth"] = {
                "token": {
                    "realm": self.token.realm,
                    "service": self.token.service,
                    "issuer": self.token.issuer,
                    "rootcertbundle": str(self.token.certificate),
                }
            }
        return config

    def start(self, attempts=3):
        for _ in range(attempts):
            self.port = self.port or free_port()
            config = self.directory / "config.yml"
            config.write_text(yaml.safe_dump(self.config()))
            argv = [REGISTRY_BINARY, "serve", str(config)]
            if self.namespace:
                argv = self.namespace.exec_argv(argv)
            with open(self.log, "w") as log:
                self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            if self._wait_until_listening():
                return self
            self.stop()
            if "address already in use" not in self.log.read_text():
                break
            self.port = None  # another process took the free port first: pick a new one
        raise RuntimeError(f"docker-registry did not start; its log:\n{self.log.read_text()[-3000:]}")

    def _wait_until_listening(self, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if "listening on" in self.log.read_text():
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- images --------------------------------------------------------------------------------------


def _blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _image_manifest(layout, architecture, marker):
    content = f"nested-warden test image {marker} {architecture}\n".encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        entry = tarfile.TarInfo("etc/nested-warden-test")
        entry.size = len(content)
        entry.mtime = 0
        tar.addfile(entry, io.BytesIO(content))
    layer_tar = archive.getvalue()
    layer = _blob(layout, gzip.compress(layer_tar, mtime=0))
    config = {
        "architecture": architecture,
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]},
    }
    config_blob = _blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **config_blob},
        "layers": [{"mediaType": OCI_LAYER, **layer}],
    }
    return {"mediaType": OCI_MANIFEST, **_blob(layout, json.dumps(manifest).encode())}


def host_architecture():
    return GO_ARCH.get(platform.machine(), platform.machine())


def write_oci_layout(layout, tag, marker, architectures=None):
    """An OCI image layout with one tiny image, or an index of one image per architecture.

    The host's architecture comes first so that `skopeo inspect` can pick it from an index.
    """
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    if architectures:
        entries = [
            {**_image_manifest(layout, arch, marker), "platform": {"architecture": arch, "os": "linux"}}
            for arch in architectures
        ]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        top = {"mediaType": OCI_INDEX, **_blob(layout, json.dumps(index).encode())}
    else:
        top = _image_manifest(layout, host_architecture(), marker)
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return layout


class Skopeo:
    """skopeo against one registry, credentials in an auth file (never on the command line)."""

    def __init__(self, registry, directory, username=None, password=None):
        self.registry = registry
        self.directory = directory
        self.authfile = directory / "auth.json"
        auths = {}
        if username:
            auths[registry.address] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
        directory.mkdir(parents=True, exist_ok=True)
        self.authfile.write_text(json.dumps({"auths": auths}))
        self.authfile.chmod(0o600)

    def _transport_flags(self, prefix):
        if self.registry.pki:
            certs = self.directory / "certs"
            certs.mkdir(exist_ok=True)
            shutil.copy(self.registry.pki.ca_cert, certs / "ca.crt")
            return [f"--{prefix}cert-dir={certs}", f"--{prefix}authfile={self.authfile}"]
        return [f"--{prefix}tls-verify=false", f"--{prefix}authfile={self.authfile}"]

    def reference(self, repository, tag):
        return f"docker://{self.registry.address}/{repository}:{tag}"

    def push(self, repository, tag, image_format=None, architectures=None):
        """Build a tiny image and copy it in; image_format v2s2 converts it to a Docker manifest."""
        layout = write_oci_layout(
            self.directory / "layouts" / f"{repository.replace('/', '_')}-{tag}",
            tag,
            repository,
            architectures,
        )
        argv = ["skopeo", "--insecure-policy", "copy", "--quiet", *self._transport_flags("dest-")]
        if architectures:
            argv.append("--all")
        if image_format:
            argv += ["--format", image_format]
        run([*argv, f"oci:{layout}:{tag}", self.reference(repository, tag)])

    def inspect(self, repository, tag):
        argv = ["skopeo", "inspect", *self._transport_flags(""), self.reference(repository, tag)]
        return json.loads(run(argv).stdout)

    def raw_manifest(self, repository, tag):
        argv = ["skopeo", "inspect", "--raw", *self._transport_flags(""), self.reference(repository, tag)]
        return json.loads(run(argv).stdout)

    def list_tags(self, repository):
        argv = [
            "skopeo",
            "list-tags",
            *self._transport_flags(""),
            f"docker://{self.registry.address}/{repository}",
        ]
        return json.loads(run(argv).stdout)["Tags"]


# --- network namespaces --------------------------------------------------------------------------


class Namespace:
    """A network namespace this test created: only its own loopback and veth pair inside."""

    def __init__(self, name):
        self.name = name

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def add_veth(self):
        """A veth pair inside the namespace, both ends addressed from SILENT_NETWORK: (near, far)."""
        near, far = (str(host) for host in SILENT_NETWORK.hosts())
        prefix = SILENT_NETWORK.prefixlen
        ip = ["ip", "-n", self.name]
        run([*ip, "link", "add", "nw-near", "type", "veth", "peer", "name", "nw-far"])
        for device, address in (("nw-near", near), ("nw-far", far)):
            run([*ip, "addr", "add", f"{address}/{prefix}", "dev", device])
            run([*ip, "link", "set", device, "up"])
        return near, far

    def drop_tcp(self, address, port):
        """Make TCP to address:port vanish without an answer, as a silent firewall does."""
        rule = ["iptables", "-A", "INPUT", "-d", address, "-p", "tcp", "--dport", str(port), "-j", "DROP"]
        run(self.exec_argv(rule))

    def use_resolver(self, address):
        """Point the namespace's resolv.conf (ip netns exec bind-mounts /etc/netns/NAME/*)."""
        directory = Path("/etc/netns") / self.name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "resolv.conf").write_text(f"nameserver {address}\n")

    def run_module(self, args):
        """The module run in-process inside the namespace: {"result": ..., "elapsed": seconds}."""
        argv = self.exec_argv([sys.executable, __file__, "run-module"])
        answer = subprocess.run(
            argv, input=json.dumps(args), capture_output=True, text=True, timeout=120, check=False
        )
        if answer.returncode != 0:
            raise RuntimeError(f"run-module in {self.name} failed: {answer.stderr[-3000:]}")
        return json.loads(answer.stdout)


@contextlib.contextmanager
def network_namespace():
    """A fresh network namespace with loopback up, or None where this host cannot make one."""
    name = f"nw-regcheck-{os.getpid()}-{secrets.token_hex(3)}"
    can_create = os.geteuid() == 0 and shutil.which("ip")
    created = bool(can_create) and run(["ip", "netns", "add", name], check=False).returncode == 0
    try:
        if created:
            run(["ip", "-n", name, "link", "set", "lo", "up"])
        yield Namespace(name) if created else None
    finally:
        if created:
            run(["ip", "netns", "delete", name], check=False)
        shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)


# --- running the module --------------------------------------------------------------------------


def run_module(args):
    """The module's main() in this process, as Ansible would run it: its JSON result."""
    # Imported here: outside pytest, _run_module_from_stdin sets the import paths first.
    from ansible.module_utils.testing import patch_module_args  # noqa: PLC0415
    from ansible_collections.nested.warden.plugins.modules import registry_check  # noqa: PLC0415

    output = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(output), contextlib.suppress(SystemExit):
        registry_check.main()
    return json.loads(output.getvalue())


def _run_module_from_stdin():
    runpy.run_path(str(PROJECT / "tests" / "conftest.py"))  # the same import paths as under pytest
    args = json.load(sys.stdin)
    started = time.monotonic()
    result = run_module(args)
    print(json.dumps({"result": result, "elapsed": time.monotonic() - started}))


if __name__ == "__main__" and sys.argv[1:] == ["run-module"]:
    _run_module_from_stdin()
