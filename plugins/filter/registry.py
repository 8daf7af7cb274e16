# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions about the registry that the roles need: the endpoint object every later stage
takes, what the rendered deployment says about the registry, why it cannot be reached,
whether a Docker engine may talk plain HTTP to it, and whether a manifest it serves is a given
image."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.module_utils.registry_protocol import is_loopback_host

ENDPOINT_KEYS = ("url", "host_port", "scheme", "ca_cert", "username", "authenticated")


def _host_port(address, port):
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"registry port must be a number, got {port!r}") from None
    if not 0 < port < 65536:
        raise AnsibleFilterError(f"registry port must be 1-65535, got {port}")
    address = str(address or "").strip()
    if not address or any(char in address for char in "/ @?#"):
        raise AnsibleFilterError(f"registry address must be a host name or IP address, got {address!r}")
    try:
        if ipaddress.ip_address(address.strip("[]")).version == 6:
            address = f"[{address.strip('[]')}]"
    except ValueError:
        pass
    return f"{address}:{port}"


def registry_endpoint(address, port, scheme="https", authenticated=True, username="", ca_cert=""):
    """The registry endpoint object: url, host_port, scheme, ca_cert, username, authenticated."""
    if scheme not in ("http", "https"):
        raise AnsibleFilterError(f"registry scheme must be http or https, got {scheme!r}")
    host_port = _host_port(address, port)
    return {
        "url": f"{scheme}://{host_port}",
        "host_port": host_port,
        "scheme": scheme,
        "ca_cert": str(ca_cert or ""),
        "username": str(username or "") if authenticated else "",
        "authenticated": bool(authenticated),
    }


def _dig(mapping, *keys, default=None):
    for key in keys:
        if not isinstance(mapping, dict) or key not in mapping:
            return default
        mapping = mapping[key]
    return mapping


def registry_deployment(job_properties):
    """What the rendered deployment says about the registry (no secrets): the registry job's
    bind address and port, and whether the proxy job is there, with TLS and basic auth."""
    job_properties = job_properties or {}
    registry = job_properties.get("registry")
    proxy = job_properties.get("proxy")
    return {
        "registry": None
        if registry is None
        else {
            "bind": str(_dig(registry, "docker", "registry", "bind", default="127.0.0.1")),
            "port": int(_dig(registry, "docker", "registry", "port", default=5000)),
        },
        "proxy": None
        if proxy is None
        else {
            "address": str(_dig(proxy, "docker", "proxy", "address", default="*")),
            "port": int(_dig(proxy, "docker", "proxy", "port", default=443)),
            "tls": bool(_dig(proxy, "docker", "proxy", "ssl", "cert")),
            "auth": bool(_dig(proxy, "docker", "proxy", "auth_basic")),
        },
    }


def registry_diagnosis(listen, deployment, registry_host, client_host, property_problems=None):
    """Why client_host cannot reach the registry: each root cause as a sentence."""
    listen = listen or {}
    deployment = deployment or {}
    registry = deployment.get("registry") or {}
    port = registry.get("port", listen.get("port", 5000))
    causes = []
    if not listen.get("listening"):
        causes.append(f"nothing listens on port {port} on {registry_host}")
    elif listen.get("loopback_only"):
        addresses = ", ".join(listen.get("addresses") or [])
        causes.append(
            f"the registry listens on {addresses}:{port} only (loopback), so {client_host} is refused"
        )
    causes += [
        str(problem.get("message", problem)) if isinstance(problem, dict) else str(problem)
        for problem in property_problems or []
    ]
    proxy = deployment.get("proxy")
    if proxy is None:
        causes.append("the proxy job is not deployed, so nothing with authentication serves the port")
    elif not proxy.get("tls"):
        causes.append("the proxy job has no docker.proxy.ssl.cert, so the release renders no server for it")
    return causes


def insecure_registry_allowed(registry_config, host_port):
    """Whether a Docker engine (its RegistryConfig from docker info) pushes to host_port over
    plain HTTP: listed in insecure-registries, or an IP inside InsecureRegistryCIDRs."""
    registry_config = registry_config or {}
    index = (registry_config.get("IndexConfigs") or {}).get(host_port) or {}
    if index.get("Secure") is False:
        return True
    host = host_port.rsplit(":", 1)[0].strip("[]") if ":" in host_port else host_port
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for cidr in registry_config.get("InsecureRegistryCIDRs") or []:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def manifest_names_image(manifest, image, name):
    """Whether the manifest registry_check reported for a tag (None: no manifest) is the local
    image (docker image inspect) named name: its config digest is the image ID (classic image
    store), its own digest is (containerd image store), or the engine recorded pushing it
    (name@digest among the image's RepoDigests)."""
    if not manifest or not image:
        return False
    image_id = image.get("Id")
    if image_id and image_id in (manifest.get("config_digest"), manifest.get("digest")):
        return True
    return f"{name}@{manifest.get('digest')}" in (image.get("RepoDigests") or [])


# What a registry client prints when it cannot reach the registry at all (Go's net/http, the
# registry-image resource and docker alike).
UNREACHABLE = re.compile(r"EOF|connection refused|no route to host|i/o timeout|connection reset")


def worker_push_failure(log_lines, host_port, deployment=None):
    """Why a build could not reach the registry at host_port, from the last lines of its log: ''
    when no line names host_port with a network error; with the concourse stage's deployment
    (registry_deployment), whether the registry job listens on loopback with no proxy job."""
    lines = [str(line) for line in log_lines or [] if host_port and host_port in str(line)]
    failed = [line.strip() for line in lines if UNREACHABLE.search(line)]
    if not failed:
        return ""
    cause = f"the worker could not reach the registry at {host_port} ({failed[-1]})"
    registry = (deployment or {}).get("registry") or {}
    bind = str(registry.get("bind", ""))
    if is_loopback_host(bind) and not (deployment or {}).get("proxy"):
        cause += (
            f": the registry job listens on {bind}:{registry.get('port')} only (loopback) and no proxy "
            "job serves the port, so nothing on the network of the workers answers; run registry_fix "
            "(site.yml does, before this stage)"
        )
    return cause


class FilterModule:
    def filters(self):
        return {
            "registry_endpoint": registry_endpoint,
            "registry_deployment": registry_deployment,
            "registry_diagnosis": registry_diagnosis,
            "insecure_registry_allowed": insecure_registry_allowed,
            "manifest_names_image": manifest_names_image,
            "worker_push_failure": worker_push_failure,
        }
