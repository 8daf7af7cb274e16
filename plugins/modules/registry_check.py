#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a Docker Registry v2 from where the module runs, and what listens on a local port."""

DOCUMENTATION = r"""
---
module: registry_check
short_description: Check a Docker Registry v2 API and diagnose why it cannot be reached
description:
  - Calls C(GET /v2/) on the registry at O(url), answering Basic and Bearer (distribution token flow)
    authentication challenges with O(username) and O(password).
  - Optionally lists the catalog (following C(Link) pagination), the tags of O(repository) and the
    manifest digest of O(repository):O(tag).
  - With O(listen_port), reports which addresses that TCP port is bound to on the host where the
    module runs (from C(/proc/net/tcp) and C(/proc/net/tcp6)); a registry bound to loopback only
    cannot be reached from other hosts.
  - "Failures are classified in RV(error.kind): V(refused), V(timeout), V(dns), V(tls),
    V(unauthorized), V(not_found), V(unexpected). The module fails with an explanation unless
    O(probe=true)."
  - Changes nothing; C(changed) is always false.
version_added: "1.0.0"
author:
  - nested-warden developers (@nested-warden)
requirements:
  - python >= 3.8 (every Python ansible-core 2.19 runs modules on; nothing beyond the standard library)
extends_documentation_fragment:
  - nested.warden.attributes
options:
  url:
    description:
      - Base URL of the registry, for example V(https://registry.example.com:5000).
      - The host must be an IP address or a DNS name (labels of at most 63 characters, 253 in all).
      - The module adds C(/v2/) itself; a trailing C(/v2) is accepted.
      - Required unless O(listen_port) is set.
    type: str
  username:
    description:
      - User name for Basic authentication, or for the token server in the Bearer token flow.
    type: str
  password:
    description:
      - Password of O(username). Never shown in output or messages.
    type: str
  validate_certs:
    description:
      - Verify the registry's TLS certificate.
      - Set V(false) only for throwaway labs; prefer O(ca_path) or O(ca_cert).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) that signed the registry's certificate.
      - When set, only these CAs are trusted.
      - Mutually exclusive with O(ca_cert).
    type: path
  ca_cert:
    description:
      - The text (PEM) of the CA certificate(s) that signed the registry's certificate, for a CA
        that is not in a file on the host where the module runs (for example from a BOSH vars store).
      - When set, only these CAs are trusted.
      - Mutually exclusive with O(ca_path).
    type: str
    version_added: "1.1.0"
  timeout:
    description:
      - Seconds to wait for a connection or an answer, per request; more than 0, at most 86400.
    type: float
    default: 10
  use_proxy:
    description:
      - Use the proxy named by the C(http_proxy) and C(https_proxy) environment variables.
    type: bool
    default: true
  catalog:
    description:
      - List every repository in the registry (C(GET /v2/_catalog), all pages).
      - The user needs the C(registry:catalog:*) scope on token-authenticated registries.
    type: bool
    default: false
  page_size:
    description:
      - Entries asked for per page of the catalog and the tag list (the C(n) parameter), 1 to 1000.
        The distribution registry answers a larger C(n) on the catalog with
        C(PAGINATION_NUMBER_INVALID) (its C(catalog.maxentries), 1000 by default).
    type: int
    default: 100
  repository:
    description:
      - Repository whose tags to list, without the registry host, for example V(library/app).
      - The distribution registry's grammar applies. Lower-case components of letters and digits
        joined by C(.), C(_), C(__) or dashes, separated by C(/), at most 255 characters in all.
      - Missing repositories fail with RV(error.kind=not_found).
    type: str
  tag:
    description:
      - Tag (or digest such as V(sha256:...)) of O(repository) whose manifest to fetch (C(GET); a few KB).
      - Accepts Docker v2 and OCI manifests and manifest lists / indexes.
      - A tag matches C([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) (at most 128 characters); a digest is
        C(sha256:) with 64, C(sha384:) with 96 or C(sha512:) with 128 lower-case hex digits.
    type: str
  check_anonymous:
    description:
      - Also ask C(GET /v2/) without credentials, once the registry answered, and report in
        RV(anonymous) whether it refuses that request, as a registry with authentication must.
      - Saves a second task (and a second module run) to prove that the registry is not open.
    type: bool
    default: false
    version_added: "1.1.0"
  listen_port:
    description:
      - TCP port whose listening sockets to report from the host where the module runs.
      - Run it on the registry host to find out whether the registry listens on loopback only.
    type: int
  probe:
    description:
      - Do not fail when the registry cannot be checked; return RV(reachable) and RV(error) instead,
        so that a play can branch on RV(error.kind).
      - Wrong options (a malformed O(url), a missing O(ca_path) file) fail anyway.
    type: bool
    default: false
notes:
  - The socket report covers the network namespace the module runs in (the container, when the
    registry runs in one).
attributes:
  check_mode:
    support: full
    details:
      - It only reads, so check mode runs every check.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details:
      - O(listen_port) reads C(/proc/net/tcp) and C(/proc/net/tcp6), so it needs Linux.
"""

EXAMPLES = r"""
- name: Check the registry from a client host and fail with an explanation when it cannot be used
  nested.warden.registry_check:
    url: https://10.0.0.5:5000
    username: admin
    password: "{{ registry_password }}"
    ca_path: /etc/ssl/registry-ca.pem
    repository: warden-cpi-containerd
    tag: latest
  register: registry

- name: Probe without failing and branch on the kind of failure
  nested.warden.registry_check:
    url: http://10.0.0.5:5000
    timeout: 5
    probe: true
  register: registry_probe

- name: On the registry host, find out which addresses port 5000 is bound to
  nested.warden.registry_check:
    listen_port: 5000
  register: registry_listen
  when: registry_probe.error.kind | default('') == 'refused'

- name: Fail with the diagnosis when the registry listens on loopback only
  ansible.builtin.fail:
    msg: "registry bound to {{ registry_listen.listen.addresses | join(', ') }} only"
  when: registry_listen.listen.loopback_only | default(false)

- name: List every repository, 50 per page
  nested.warden.registry_check:
    url: https://registry.example.com
    username: admin
    password: "{{ registry_password }}"
    catalog: true
    page_size: 50
"""

RETURN = r"""
url:
  description: The registry base URL that was checked.
  returned: when url is set
  type: str
  sample: https://10.0.0.5:5000
reachable:
  description:
    - Whether C(GET /v2/) answered 200 with the given credentials.
    - Stays true when a later check (catalog, tags, manifest) fails.
  returned: when url is set
  type: bool
  sample: true
status:
  description: HTTP status of C(GET /v2/) after authentication; null when no HTTP answer came.
  returned: when url is set
  type: int
  sample: 200
api_version:
  description: The C(Docker-Distribution-API-Version) header of C(GET /v2/).
  returned: when url is set
  type: str
  sample: registry/2.0
auth:
  description:
    - The authentication the registry asked for, V(none), V(basic) or V(bearer) (token flow).
    - Set even when the credentials were then rejected; null when no HTTP answer came.
  returned: when url is set
  type: str
  sample: basic
catalog:
  description: Every repository in the registry, from all pages.
  returned: when catalog is true and the catalog was read
  type: list
  elements: str
  sample: [library/app, warden-cpi-containerd]
tags:
  description: The tags of O(repository), sorted.
  returned: when repository is set and the repository exists
  type: list
  elements: str
  sample: [latest, "1.0"]
manifest:
  description: The manifest of O(repository):O(tag).
  returned: when tag is set and the manifest exists
  type: dict
  contains:
    digest:
      description:
        - Content digest, from the C(Docker-Content-Digest) header (the hash of the manifest when the
          registry leaves the header out).
      type: str
      sample: sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b
    media_type:
      description: Media type of the manifest (Docker v2, manifest list, OCI manifest or OCI index).
      type: str
      sample: application/vnd.oci.image.manifest.v1+json
    size:
      description: Size of the manifest in bytes.
      type: int
      sample: 528
    config_digest:
      description:
        - Digest of the image config a single image's manifest names (Docker v2 or OCI manifest),
          which is the image ID a Docker engine with the classic image store gives that image.
        - V(null) for a manifest list or index.
      type: str
      sample: sha256:0e2c5ac7b2c0c4ea2b0f3bbf3fbc2d5d4b7e6f1c8c5d9f2c1e4a8b7d3c2e1f0a
      version_added: "1.2.0"
error:
  description: Why the registry could not be checked; null when every check passed.
  returned: when url is set
  type: dict
  contains:
    kind:
      description:
        - One of V(refused), V(timeout), V(dns), V(tls), V(unauthorized), V(not_found), V(unexpected).
      type: str
      sample: refused
    message:
      description: What went wrong, where, and how to fix it.
      type: str
      sample: "connection to 10.0.0.5:5000 refused: ..."
anonymous:
  description: Whether the registry refuses C(GET /v2/) without credentials.
  returned: when check_anonymous is true and the registry was reachable
  type: dict
  version_added: "1.1.0"
  contains:
    refused:
      description: True when the registry answered 401 (it asks for credentials).
      type: bool
      sample: true
    status:
      description: The HTTP status of the answer, if any.
      type: int
      sample: 401
    error:
      description: Why the request without credentials failed (RV(error) shape), or null when it succeeded.
      type: dict
      sample: {kind: unauthorized, message: "..."}
listen:
  description: The listening TCP sockets of O(listen_port) on the host where the module ran.
  returned: when listen_port is set
  type: dict
  contains:
    port:
      description: The port asked about.
      type: int
      sample: 5000
    listening:
      description: Whether anything listens on the port.
      type: bool
      sample: true
    addresses:
      description: The local addresses the port is bound to (V(0.0.0.0) and V(::) mean every address).
      type: list
      elements: str
      sample: ["127.0.0.1"]
    loopback_only:
      description: True when something listens and every bound address is loopback.
      type: bool
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nested.warden.plugins.module_utils.inputs import checked_module
from ansible_collections.nested.warden.plugins.module_utils.listen_sockets import (
    binding_summary,
    listen_port_facts,
)
from ansible_collections.nested.warden.plugins.module_utils.registry_client import (
    RegistryClient,
    check_registry,
)
from ansible_collections.nested.warden.plugins.module_utils.registry_protocol import (
    ConfigurationError,
    validate_reference,
    validate_repository,
)


def argument_spec():
    return {
        "url": {"type": "str"},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "ca_cert": {"type": "str"},
        "check_anonymous": {"type": "bool", "default": False},
        "timeout": {"type": "float", "default": 10},
        "use_proxy": {"type": "bool", "default": True},
        "catalog": {"type": "bool", "default": False},
        "page_size": {"type": "int", "default": 100},
        "repository": {"type": "str"},
        "tag": {"type": "str"},
        "listen_port": {"type": "int"},
        "probe": {"type": "bool", "default": False},
    }


MAX_TIMEOUT = 86400  # a day per request; beyond that the socket layer overflows
MAX_PAGE_SIZE = 1000  # distribution refuses n above catalog.maxentries, 1000 by default


def validate(params):
    """Option errors the argument spec cannot express."""
    if params["url"] is not None and not params["url"].strip():
        raise ConfigurationError(
            "url must not be empty: give the registry's base URL, for example https://registry.example.com:5000"
        )
    if not 0 < params["timeout"] <= MAX_TIMEOUT:
        raise ConfigurationError(
            f"timeout must be a positive number of seconds up to {MAX_TIMEOUT}, got {params['timeout']:g}"
        )
    if not 1 <= params["page_size"] <= MAX_PAGE_SIZE:
        raise ConfigurationError(
            f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {params['page_size']}"
        )
    if params["listen_port"] is not None and not 1 <= params["listen_port"] <= 65535:
        raise ConfigurationError(f"listen_port must be a TCP port (1-65535), got {params['listen_port']}")
    if params["repository"]:
        validate_repository(params["repository"])
    if params["tag"]:
        validate_reference(params["tag"])


def main():
    module = checked_module(
        AnsibleModule,
        argument_spec(),
        required_one_of=[("url", "listen_port")],
        required_together=[("username", "password")],
        required_by={"repository": "url", "tag": "repository"},
        required_if=[("catalog", True, ("url",)), ("check_anonymous", True, ("url",))],
        mutually_exclusive=[("ca_path", "ca_cert")],
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False}
    client = None
    try:
        validate(params)
        if params["url"]:
            client = RegistryClient(
                params["url"],
                username=params["username"],
                password=params["password"],
                validate_certs=params["validate_certs"],
                ca_path=params["ca_path"],
                ca_cert=params["ca_cert"],
                timeout=params["timeout"],
                use_proxy=params["use_proxy"],
            )
    except ConfigurationError as error:
        module.fail_json(msg=str(error), **result)

    if params["listen_port"] is not None:
        try:
            result["listen"] = listen_port_facts(params["listen_port"])
        except (OSError, ValueError) as error:
            module.fail_json(
                msg=f"cannot read listening sockets from /proc/net/tcp and tcp6: {error}", **result
            )
    if client:
        if client.sends_credentials_in_clear:
            module.warn(f"credentials go over plain HTTP to {client.base_url}; use https:// outside a lab")
        checked = check_registry(
            client,
            catalog=params["catalog"],
            page_size=params["page_size"],
            repository=params["repository"],
            tag=params["tag"],
            anonymous=params["check_anonymous"],
        )
        result.update(checked)
        # Asked together (on the registry host), the socket report explains the refusal.
        if result["error"] and result["error"]["kind"] == "refused" and "listen" in result:
            result["error"]["message"] += " " + binding_summary(result["listen"])

    error = result.get("error")
    if error and not params["probe"]:
        module.fail_json(msg=f"registry check failed ({error['kind']}): {error['message']}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
