"""Values generated for typed `variables:` entries (github.com/cloudfoundry/config-server/types).

password, certificate, rsa and ssh, with config-server's parameters, defaults and error texts.
Keys and certificates need the Python package `cryptography`, imported only when one is made.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import secrets
import types

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import BoshError
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.go_values import go_type, go_value

_PASSWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"  # noqa: S105 -- an alphabet, not a password
_CERT_PARAMS = (
    "common_name",
    "organization",
    "alternative_names",
    "is_ca",
    "ca",
    "extended_key_usage",
    "duration",
    "key_length",
)


def _parameters(options, supported, integers=()):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise BoshError(
            "Expected input to be deserializable",
            BoshError(f"cannot unmarshal {go_type(options)} into a map"),
        )
    for key in options:
        if key not in supported:
            raise BoshError(f"Unsupported parameter '{key}'")
    for key in integers:
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BoshError(
                "Expected input to be deserializable",
                BoshError(f"cannot unmarshal {go_type(value)} `{go_value(value)}` into int for '{key}'"),
            )
    return options


def generate_password(options):
    try:
        params = _parameters(options, ("length",), integers=("length",))
    except BoshError as err:
        raise BoshError("Failed to generate password, parameters are invalid", err) from None
    length = params.get("length") or 0
    if length < 0:
        raise BoshError("Failed to generate password, 'length' param cannot be negative")
    length = length or 20
    return "".join(secrets.choice(_PASSWORD_LETTERS) for _position in range(length))


def _crypto():
    try:
        from cryptography import x509  # noqa: PLC0415 -- optional: only keys and certificates need it
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415
    except ImportError:
        raise BoshError(
            "Generating keys and certificates needs the Python package 'cryptography' "
            "(pip install cryptography)"
        ) from None
    return types.SimpleNamespace(
        x509=x509,
        hashes=hashes,
        serialization=serialization,
        rsa=rsa,
        eku_oid=ExtendedKeyUsageOID,
        name_oid=NameOID,
    )


def _rsa_key(bits):
    return _crypto().rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _private_pem(key):
    serialization = _crypto().serialization
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def generate_rsa(options):
    serialization = _crypto().serialization
    key = _rsa_key(2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"private_key": _private_pem(key), "public_key": public.decode()}


def generate_ssh(options):
    serialization = _crypto().serialization
    key = _rsa_key(2048)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(public.split()[1])
    fingerprint = ":".join(f"{byte:02x}" for byte in hashlib.md5(blob).digest())  # noqa: S324 -- bosh's format
    return {
        "private_key": _private_pem(key),
        "public_key": public.decode() + "\n",
        "public_key_fingerprint": fingerprint,
    }


def parse_certificate_and_key(value):
    """The certificate and private key of a certificate variable's value, or BoshError."""
    crypto = _crypto()
    try:
        certificate = crypto.x509.load_pem_x509_certificate(str(value.get("certificate") or "").encode())
    except ValueError:
        raise BoshError("Certificate did not contain PEM formatted block") from None
    try:
        key = crypto.serialization.load_pem_private_key(str(value.get("private_key") or "").encode(), None)
    except (ValueError, TypeError):
        raise BoshError("Private key did not contain PEM formatted block") from None
    return certificate, key


def generate_certificate(options, load_ca):  # noqa: PLR0912, PLR0915 -- one certificate template
    crypto = _crypto()
    x509, hashes, serialization = crypto.x509, crypto.hashes, crypto.serialization
    eku_oid, name_oid = crypto.eku_oid, crypto.name_oid
    try:
        params = _parameters(options, _CERT_PARAMS, integers=("duration", "key_length"))
    except BoshError as err:
        raise BoshError("Failed to generate certificate, parameters are invalid", err) from None
    key_length = params.get("key_length") or 3072
    if key_length not in (2048, 3072, 4096):
        raise BoshError(f"Invalid key_length: {key_length}.  Must be one of: [2048 3072 4096]")
    key = _rsa_key(key_length)
    ca_name = params.get("ca") or ""
    is_ca = bool(params.get("is_ca"))
    ca_cert = ca_key = None
    if ca_name:
        try:
            ca_cert, ca_key = load_ca(ca_name)
        except BoshError as err:
            raise BoshError("Loading certificates", err) from None
    now = datetime.datetime.now(datetime.timezone.utc)
    duration = params.get("duration") or 0
    not_after = now + datetime.timedelta(days=duration if duration > 0 else 365)
    attributes = [
        x509.NameAttribute(name_oid.COUNTRY_NAME, "US"),
        x509.NameAttribute(name_oid.ORGANIZATION_NAME, str(params.get("organization") or "Cloud Foundry")),
    ]
    if params.get("common_name"):
        attributes.append(x509.NameAttribute(name_oid.COMMON_NAME, str(params["common_name"])))
    subject = x509.Name(attributes)
    ski = hashlib.sha1(  # noqa: S324 -- bosh derives the key id this way
        key.public_key().public_numbers().n.to_bytes((key.key_size + 7) // 8, "big").lstrip(b"\0")
    ).digest()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(128) or 1)
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        signing_key, issuer = (ca_key, ca_cert) if ca_name else (key, None)
        issuer_name = issuer.subject if issuer is not None else subject
        issuer_ski = _ski(issuer, x509) if issuer is not None else ski
    else:
        if not ca_name:
            raise BoshError("Missing required CA name")
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        usages = []
        for usage in params.get("extended_key_usage") or ["server_auth"]:
            if usage == "client_auth":
                usages.append(eku_oid.CLIENT_AUTH)
            elif usage == "server_auth":
                usages.append(eku_oid.SERVER_AUTH)
            else:
                raise BoshError(f"Unsupported extended key usage value: {usage}")
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        names = []
        for alt in params.get("alternative_names") or []:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(str(alt))))
            except ValueError:
                names.append(x509.DNSName(str(alt)))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        signing_key, issuer_name, issuer_ski = ca_key, ca_cert.subject, _ski(ca_cert, x509)
    if issuer_ski:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(issuer_ski, None, None), critical=False)
    certificate = builder.issuer_name(issuer_name).sign(signing_key, hashes.SHA256())
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode() if ca_name else cert_pem
    return {"certificate": cert_pem, "private_key": _private_pem(key), "ca": ca_pem}


def _ski(certificate, x509):
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None
