"""What the registry client checks before it asks: the registry URL, repository names,
references and digests (distribution/reference), CA files; and network errors explained as
RegistryErrors. The API itself (requests, authentication, challenges, links) is registry_api.
No I/O but reading a CA file."""

import ipaddress
import re
import socket
import ssl
import urllib.error
from urllib.parse import urlsplit

from ansible_collections.nested.warden.plugins.module_utils.inputs import host_problem
from ansible_collections.nested.warden.plugins.module_utils.listen_sockets import is_loopback
from ansible_collections.nested.warden.plugins.module_utils.registry_api import RegistryError

# The grammar of the distribution reference package (distribution/reference): a name of at most
# 255 characters (NameTotalLengthMax), tags of at most 128, digests ALGORITHM:HEX whose length the
# algorithm fixes (opencontainers/go-digest).
NAME_TOTAL_LENGTH_MAX = 255
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_NAME = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
USER_AGENT = "nested-warden-registry-check"


class ConfigurationError(ValueError):
    """The options are wrong (not the registry): the module fails even when probing."""


def normalize_url(url):
    """The registry base URL without a trailing slash; refuses what would silently misbehave."""
    example = "for example https://registry.example.com:5000"
    try:
        parts = urlsplit(url or "")
    except ValueError as error:
        raise ConfigurationError(f"url {url!r} is not a valid URL ({error}); {example}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(f"url {url!r} must start with http:// or https:// ({example})")
    problem = host_problem(parts.hostname)
    if problem:
        raise ConfigurationError(f"url {url!r} {problem} ({example})")
    if parts.username or parts.password:
        raise ConfigurationError(
            "url must not carry credentials (user:password@host): they would show in the output; "
            "set username and password instead"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"url {url!r} must not have a query or fragment ({example})")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as error:
        raise ConfigurationError(f"url {url!r} has an invalid port: {error}") from None
    path = parts.path.rstrip("/")
    if path.endswith("/v2"):
        path = path[: -len("/v2")]  # users often paste the API root; the client adds /v2/ itself
    return f"{parts.scheme}://{parts.netloc}{path}"


def validate_repository(repository):
    if len(repository) > NAME_TOTAL_LENGTH_MAX:
        raise ConfigurationError(
            f"repository '{repository[:40]}...' has {len(repository)} characters; a registry refuses "
            f"names longer than {NAME_TOTAL_LENGTH_MAX}"
        )
    if not REPOSITORY_NAME.fullmatch(repository):
        raise ConfigurationError(
            f"repository {repository!r} is not a valid repository name: lower-case path components "
            "separated by '/', without the registry host or a tag "
            "(for example 'library/app', not 'registry:5000/library/app:1.0')"
        )


def validate_reference(tag):
    if DIGEST.fullmatch(tag):
        algorithm, hex_part = tag.split(":", 1)
        length = DIGEST_HEX_LENGTHS.get(algorithm)
        if length is None:
            raise ConfigurationError(
                f"tag {tag[:80]!r} is a digest of an unknown algorithm {algorithm!r}; a registry accepts "
                + ", ".join(
                    f"{name} ({hex_length} hex digits)" for name, hex_length in DIGEST_HEX_LENGTHS.items()
                )
            )
        if not re.fullmatch(f"[a-f0-9]{{{length}}}", hex_part):
            raise ConfigurationError(
                f"tag {tag[:80]!r} is not a valid {algorithm} digest: it needs exactly {length} lower-case "
                f"hex digits after '{algorithm}:' (got {len(hex_part)} characters)"
            )
        return
    if not TAG_NAME.fullmatch(tag):
        tag = tag if len(tag) <= 80 else tag[:80] + "..."
        raise ConfigurationError(
            f"tag {tag!r} is neither a tag (letters, digits, '_', '.', '-'; up to 128 characters, "
            "not starting with '.' or '-') nor a digest such as sha256:<64 hex digits>"
        )


def load_ca(ca_path):
    """Fail early, as a configuration error, when ca_path holds no usable CA certificate."""
    try:
        ssl.create_default_context(cafile=ca_path)
    except FileNotFoundError:
        raise ConfigurationError(f"ca_path {ca_path}: no such file") from None
    except (ssl.SSLError, OSError) as error:
        raise ConfigurationError(
            f"ca_path {ca_path}: cannot load it as PEM CA certificates ({error}); "
            "point it at the CA certificate that signed the registry's certificate"
        ) from None


def load_ca_cert(ca_cert):
    """Fail early, as a configuration error, when ca_cert is not PEM CA certificate text."""
    try:
        ssl.create_default_context(cadata=ca_cert)
    except (ssl.SSLError, ValueError) as error:
        raise ConfigurationError(
            f"ca_cert: cannot load it as PEM CA certificates ({error}); give the text of the CA "
            "certificate that signed the registry's certificate (-----BEGIN CERTIFICATE----- ...)"
        ) from None


def is_loopback_host(host):
    if host == "localhost":
        return True
    try:
        return is_loopback(ipaddress.ip_address(host))
    except ValueError:
        return False


def classify_network_error(error, url, timeout, ca_path=None, ca_option=None):
    """A RegistryError for an exception raised while connecting to or reading from url; ca_option
    names the option that gave the CA (default: ca_path, when ca_path is given)."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{parts.hostname}:{port}"
    if isinstance(reason, ssl.SSLError):
        return _tls_error(reason, where, ca_option or (f"ca_path {ca_path}" if ca_path else None))
    if isinstance(reason, ConnectionRefusedError):
        return _refused_error(parts.hostname, port, where)
    if isinstance(reason, socket.gaierror):
        return RegistryError(
            "dns",
            f"cannot resolve host name {parts.hostname!r} ({reason.strerror or reason}): check the host in "
            "url and the DNS resolver or /etc/hosts of the host where the module runs",
        )
    if isinstance(reason, TimeoutError) or (isinstance(reason, str) and "timed out" in reason):
        return RegistryError(
            "timeout",
            f"no answer from {where} within {timeout:g} s: a firewall may drop the packets, or the host is "
            "down or overloaded; check the address and the firewall between this host and the registry, "
            "and raise timeout if the registry is merely slow",
        )
    return RegistryError("unexpected", f"cannot talk to {where} ({url}): {reason}")


def _tls_error(reason, where, ca_option):
    if not isinstance(reason, ssl.SSLCertVerificationError):
        hint = ""
        if "WRONG_VERSION_NUMBER" in str(reason) or "record layer failure" in str(reason):
            hint = "; the server may speak plain HTTP: try http:// in url"
        return RegistryError("tls", f"TLS handshake with {where} failed ({reason}){hint}")
    detail = reason.verify_message or str(reason)
    if ca_option:
        fix = (
            f"{ca_option} does not verify it: give in {ca_option.split()[0]} the CA that signed the "
            "registry's certificate, and make sure the certificate names the host used in url"
        )
    else:
        fix = (
            "set ca_path (a file) or ca_cert (its text) to the CA certificate (PEM) that signed the "
            "registry's certificate, "
            "or validate_certs: false to skip verification (only for throwaway labs)"
        )
    return RegistryError("tls", f"TLS certificate of {where} could not be verified ({detail}): {fix}")


def _refused_error(host, port, where):
    check = f"registry_check listen_port: {port} (listen.addresses, listen.loopback_only)"
    if is_loopback_host(host):
        return RegistryError(
            "refused",
            f"connection to {where} refused: nothing listens on port {port} of this host. Is the "
            f"registry running, on that port? {check} shows what the port is bound to.",
        )
    return RegistryError(
        "refused",
        f"connection to {where} refused: nothing accepts connections on that address from this host. "
        "The registry may listen on loopback only (the docker-registry release binds 127.0.0.1 unless "
        f"docker.registry.bind is set). Check on the registry host with {check}, "
        f"or `ss -ltn 'sport = :{port}'`.",
    )
