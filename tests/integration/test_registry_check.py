"""registry_check against the real distribution registry (Debian's docker-registry), no Docker.

Registries run on 127.0.0.1, or inside network namespaces these tests create; nothing here
talks to any other address.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from registry_fixtures import (
    PROJECT,
    Pki,
    Registry,
    Skopeo,
    TokenServer,
    free_port,
    host_architecture,
    missing_tools,
    network_namespace,
    run_module,
    write_htpasswd,
)

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"missing tools: {missing_tools()}")

USER = "warden"
PASSWORD = "Corr3ct-H0rse-9f1d"
WRONG_PASSWORD = "Wr0ng-Battery-51c7"
OTHER_ARCHITECTURE = "arm64" if host_architecture() != "arm64" else "amd64"
# Three repositories, every manifest type the module accepts.
IMAGES = [
    # repository, tag, skopeo options, media type the registry stores
    ("alpha/tiny", "1.0", {}, "application/vnd.oci.image.manifest.v1+json"),
    ("alpha/tiny", "1.1", {}, "application/vnd.oci.image.manifest.v1+json"),
    ("beta", "latest", {"image_format": "v2s2"}, "application/vnd.docker.distribution.manifest.v2+json"),
    (
        "gamma",
        "multi",
        {"architectures": [host_architecture(), OTHER_ARCHITECTURE]},
        "application/vnd.oci.image.index.v1+json",
    ),
    (
        "gamma",
        "list",
        {"architectures": [host_architecture(), OTHER_ARCHITECTURE], "image_format": "v2s2"},
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ),
]
REPOSITORIES = sorted({image[0] for image in IMAGES})


@pytest.fixture(scope="module", autouse=True)
def no_proxy():
    """Tests (and skopeo) talk to loopback and their own namespaces only, never through a proxy.

    Autouse, so it comes before the module's registries and their pushes.
    """
    with pytest.MonkeyPatch.context() as patch:
        for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            patch.delenv(variable, raising=False)
        yield


def push_images(skopeo):
    for repository, tag, options, _ in IMAGES:
        skopeo.push(repository, tag, **options)


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    """HTTP with htpasswd (bcrypt) auth, holding IMAGES; yields (registry, skopeo)."""
    directory = tmp_path_factory.mktemp("basic")
    htpasswd = write_htpasswd(directory / "htpasswd", {USER: PASSWORD})
    with Registry(directory / "registry", htpasswd=htpasswd) as registry:
        skopeo = Skopeo(registry, directory / "skopeo", USER, PASSWORD)
        push_images(skopeo)
        yield registry, skopeo


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    htpasswd = write_htpasswd(directory / "htpasswd", {USER: PASSWORD})
    with Registry(directory / "registry", pki=Pki(directory / "pki"), htpasswd=htpasswd) as registry:
        yield registry


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    """Token auth through a real token exchange; yields (registry, skopeo, token server)."""
    directory = tmp_path_factory.mktemp("token")
    with (
        TokenServer(directory / "token", {USER: PASSWORD}) as token_server,
        Registry(directory / "registry", token=token_server) as registry,
    ):
        skopeo = Skopeo(registry, directory / "skopeo", USER, PASSWORD)
        push_images(skopeo)
        yield registry, skopeo, token_server


@pytest.fixture
def namespace():
    with network_namespace() as created:
        if created is None:
            pytest.skip("needs root and `ip netns add` (network namespaces)")
        yield created


def check(registry, **options):
    return run_module({"url": registry.url, "username": USER, "password": PASSWORD, **options})


def closed_port():
    """A loopback port nothing listens on (free_port closes its probe socket)."""
    return free_port()


# --- HTTP with basic auth --------------------------------------------------------------------


def test_basic_auth_registry_is_reachable_with_its_api_version_and_nothing_changes(basic_registry):
    registry, _ = basic_registry
    result = check(registry)
    assert "failed" not in result
    assert result["changed"] is False
    assert result["reachable"] is True
    assert result["status"] == 200
    assert result["api_version"] == "registry/2.0"
    assert result["auth"] == "basic"
    assert result["error"] is None


def test_catalog_follows_link_pagination_one_repository_per_page(basic_registry):
    registry, _ = basic_registry
    pages_before = registry.log.read_text().count('"GET /v2/_catalog?last=')
    result = check(registry, catalog=True, page_size=1)
    assert result["catalog"] == REPOSITORIES
    # One page per repository after the first: the module followed the registry's Link headers.
    assert registry.log.read_text().count('"GET /v2/_catalog?last=') - pages_before >= len(REPOSITORIES) - 1


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_tags_equal_what_skopeo_lists_in_sorted_order(basic_registry, repository):
    registry, skopeo = basic_registry
    assert check(registry, repository=repository)["tags"] == sorted(skopeo.list_tags(repository))


@pytest.mark.parametrize(("repository", "tag", "media_type"), [(i[0], i[1], i[3]) for i in IMAGES])
def test_manifest_digest_equals_what_skopeo_inspect_reports(basic_registry, repository, tag, media_type):
    registry, skopeo = basic_registry
    manifest = check(registry, repository=repository, tag=tag)["manifest"]
    assert manifest["digest"] == skopeo.inspect(repository, tag)["Digest"]
    assert manifest["media_type"] == media_type
    assert manifest["size"] > 0


@pytest.mark.parametrize(("repository", "tag", "media_type"), [(i[0], i[1], i[3]) for i in IMAGES])
def test_config_digest_is_the_one_the_stored_manifest_names(basic_registry, repository, tag, media_type):
    registry, skopeo = basic_registry
    expected = skopeo.raw_manifest(repository, tag).get("config", {}).get("digest")  # none in an index
    assert check(registry, repository=repository, tag=tag)["manifest"]["config_digest"] == expected
    assert (expected is None) == (media_type.endswith(("index.v1+json", "list.v2+json")))


def test_manifest_can_be_checked_by_digest(basic_registry):
    registry, skopeo = basic_registry
    digest = skopeo.inspect("beta", "latest")["Digest"]
    assert check(registry, repository="beta", tag=digest)["manifest"]["digest"] == digest


def test_missing_tag_is_not_found_and_names_the_tags_that_exist(basic_registry):
    registry, _ = basic_registry
    result = check(registry, repository="alpha/tiny", tag="9.9")
    assert result["failed"] is True
    assert result["error"]["kind"] == "not_found"
    assert "tag '9.9' not found in repository 'alpha/tiny'" in result["msg"]
    assert "tags there: 1.0, 1.1" in result["msg"]
    assert result["tags"] == ["1.0", "1.1"]


def test_missing_repository_is_not_found(basic_registry):
    registry, _ = basic_registry
    result = check(registry, repository="no/such-repo", tag="1.0", probe=True)
    assert "failed" not in result
    assert result["error"]["kind"] == "not_found"
    assert "repository 'no/such-repo' not found" in result["error"]["message"]
    assert "NAME_UNKNOWN" in result["error"]["message"]


def test_wrong_password_is_unauthorized_and_never_echoed(basic_registry):
    registry, _ = basic_registry
    result = run_module({"url": registry.url, "username": USER, "password": WRONG_PASSWORD})
    assert result["failed"] is True
    assert result["error"]["kind"] == "unauthorized"
    assert result["reachable"] is False
    assert result["status"] == 401
    assert f"user '{USER}'" in result["msg"]
    assert WRONG_PASSWORD not in json.dumps(result)


def test_missing_credentials_ask_for_username_and_password(basic_registry):
    registry, _ = basic_registry
    result = run_module({"url": registry.url, "probe": True})
    assert result["error"]["kind"] == "unauthorized"
    assert "set username and password" in result["error"]["message"]


def test_listen_port_on_this_host_reports_the_registry_bound_to_loopback_only(basic_registry):
    registry, _ = basic_registry
    result = run_module({"listen_port": registry.port})
    assert result["listen"] == {
        "port": registry.port,
        "listening": True,
        "addresses": ["127.0.0.1"],
        "loopback_only": True,
    }
    assert "reachable" not in result


# --- refusals, probing, options ---------------------------------------------------------------


def test_closed_port_is_refused_and_says_how_to_see_what_the_port_is_bound_to():
    port = closed_port()
    result = run_module({"url": f"http://127.0.0.1:{port}"})
    assert result["failed"] is True
    assert result["error"]["kind"] == "refused"
    assert f"127.0.0.1:{port} refused" in result["msg"]
    assert "Is the registry running" in result["msg"]
    assert f"listen_port: {port}" in result["msg"]
    assert result["status"] is None
    assert result["auth"] is None


def test_probe_returns_the_failure_without_failing():
    result = run_module({"url": f"http://127.0.0.1:{closed_port()}", "probe": True})
    assert "failed" not in result
    assert result["changed"] is False
    assert result["reachable"] is False
    assert result["error"]["kind"] == "refused"


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"url": "registry:5000"}, "must start with http:// or https://"),
        ({"url": "http://127.0.0.1:1", "repository": "127.0.0.1:5000/app"}, "not a valid repository name"),
        ({"url": "http://127.0.0.1:1", "ca_path": "/nonexistent/ca.pem"}, "no such file"),
        ({"url": "http://127.0.0.1:1", "timeout": 0}, "timeout must be a positive number"),
        ({"listen_port": 70000}, "listen_port must be a TCP port"),
        ({"probe": True}, "one of the following is required: url, listen_port"),
        ({"listen_port": 5000, "tag": "1.0"}, "missing parameter(s) required by 'tag': repository"),
    ],
)
def test_wrong_options_fail_with_a_message_even_when_probing(options, complaint):
    result = run_module({**options, "probe": True})
    assert result["failed"] is True
    assert complaint in result["msg"]
    assert "Traceback" not in json.dumps(result)


# --- TLS ----------------------------------------------------------------------------------------


def test_https_with_the_generated_ca_in_ca_path_passes(tls_registry):
    result = check(tls_registry, ca_path=str(tls_registry.pki.ca_cert))
    assert result["url"].startswith("https://")
    assert result["reachable"] is True
    assert result["auth"] == "basic"


def test_https_without_ca_path_is_a_tls_error_naming_ca_path_and_validate_certs(tls_registry):
    result = check(tls_registry, probe=True)
    assert result["error"]["kind"] == "tls"
    assert "could not be verified" in result["error"]["message"]
    assert "ca_path" in result["error"]["message"]
    assert "validate_certs" in result["error"]["message"]
    assert result["reachable"] is False


def test_https_with_validate_certs_false_skips_verification(tls_registry):
    assert check(tls_registry, validate_certs=False)["reachable"] is True


def test_ca_that_did_not_sign_the_certificate_is_a_tls_error_naming_that_ca(tls_registry, tmp_path):
    other = Pki(tmp_path / "other")
    result = check(tls_registry, ca_path=str(other.ca_cert), probe=True)
    assert result["error"]["kind"] == "tls"
    assert f"ca_path {other.ca_cert} does not verify it" in result["error"]["message"]


def test_https_with_the_ca_given_as_text_in_ca_cert_passes(tls_registry):
    result = check(tls_registry, ca_cert=tls_registry.pki.ca_cert.read_text())
    assert result["reachable"] is True
    assert result["auth"] == "basic"


def test_ca_cert_that_did_not_sign_the_certificate_is_a_tls_error_naming_ca_cert(tls_registry, tmp_path):
    other = Pki(tmp_path / "other")
    result = check(tls_registry, ca_cert=other.ca_cert.read_text(), probe=True)
    assert result["error"]["kind"] == "tls"
    assert "ca_cert does not verify it" in result["error"]["message"]


@pytest.mark.parametrize(
    ("ca_cert", "complaint"),
    [
        ("not a certificate", "ca_cert: cannot load it as PEM CA certificates"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "ca_cert: cannot load it"),
    ],
)
def test_ca_cert_that_is_not_a_pem_certificate_fails_before_any_request(tls_registry, ca_cert, complaint):
    result = check(tls_registry, ca_cert=ca_cert, probe=True)
    assert result["failed"] is True
    assert complaint in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_ca_path_and_ca_cert_together_are_refused(tls_registry):
    result = check(tls_registry, ca_path=str(tls_registry.pki.ca_cert), ca_cert="x", probe=True)
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]


def test_check_anonymous_says_a_registry_with_authentication_refuses_requests_without_credentials(
    tls_registry,
):
    result = check(tls_registry, ca_cert=tls_registry.pki.ca_cert.read_text(), check_anonymous=True)
    assert result["reachable"] is True
    assert result["anonymous"]["refused"] is True
    assert result["anonymous"]["status"] == 401
    assert result["anonymous"]["error"]["kind"] == "unauthorized"


def test_check_anonymous_says_an_open_registry_answers_without_credentials(tmp_path):
    with Registry(tmp_path / "open") as registry:
        result = run_module({"url": registry.url, "check_anonymous": True})
    assert result["reachable"] is True
    assert result["anonymous"] == {"refused": False, "status": 200, "error": None}


def test_https_url_for_a_plain_http_registry_is_a_tls_error_suggesting_http(basic_registry):
    registry, _ = basic_registry
    result = run_module({"url": f"https://{registry.address}", "probe": True})
    assert result["error"]["kind"] == "tls"
    assert "try http://" in result["error"]["message"]


def test_http_url_for_an_https_registry_suggests_https(tls_registry):
    result = run_module({"url": f"http://{tls_registry.address}", "probe": True})
    assert result["error"]["kind"] == "unexpected"
    assert "HTTP 400" in result["error"]["message"]
    assert "use https://" in result["error"]["message"]


# --- token auth ---------------------------------------------------------------------------------


def test_token_auth_reads_catalog_tags_and_digest_through_the_token_flow(token_registry):
    registry, skopeo, token_server = token_registry
    asked_before = len(token_server.requests)
    result = check(registry, catalog=True, page_size=1, repository="gamma", tag="multi")
    assert result["auth"] == "bearer"
    assert result["catalog"] == REPOSITORIES
    assert result["tags"] == sorted(skopeo.list_tags("gamma"))
    assert result["manifest"]["digest"] == skopeo.inspect("gamma", "multi")["Digest"]
    asked = token_server.requests[asked_before:]
    assert {request["user"] for request in asked} == {USER}
    assert {request["service"][0] for request in asked} == {TokenServer.service}
    scopes = {scope for request in asked for scope in request["scopes"]}
    assert scopes == {"registry:catalog:*", "repository:gamma:pull"}


def test_token_server_rejecting_the_password_is_unauthorized_and_never_echoed(token_registry):
    registry, _, token_server = token_registry
    result = run_module({"url": registry.url, "username": USER, "password": WRONG_PASSWORD})
    assert result["failed"] is True
    assert result["error"]["kind"] == "unauthorized"
    assert f"token server {token_server.realm} rejected the credentials" in result["msg"]
    assert result["auth"] == "bearer"
    assert WRONG_PASSWORD not in json.dumps(result)


def test_anonymous_token_without_access_asks_for_credentials(token_registry):
    registry, _, _ = token_registry
    result = run_module({"url": registry.url, "repository": "alpha/tiny", "probe": True})
    assert result["reachable"] is True  # /v2/ accepts any valid token
    assert result["error"]["kind"] == "unauthorized"
    assert "set username and password" in result["error"]["message"]


# --- network namespaces: bind addresses, silence, DNS ------------------------------------------


@pytest.mark.needs_root
@pytest.mark.parametrize(
    ("bind", "addresses", "loopback_only"),
    [
        ("127.0.0.1", ["127.0.0.1"], True),
        # Go serves an http.addr of 0.0.0.0 from one dual-stack socket on [::].
        ("0.0.0.0", ["::"], False),
        ("::", ["::"], False),
    ],
)
def test_listen_port_tells_loopback_only_from_all_addresses(
    namespace, tmp_path, bind, addresses, loopback_only
):
    with Registry(tmp_path / "registry", bind=bind, port=5000, namespace=namespace):
        answer = namespace.run_module({"url": "http://127.0.0.1:5000", "listen_port": 5000})
    result = answer["result"]
    assert result["reachable"] is True
    assert result["listen"]["addresses"] == addresses
    assert result["listen"]["loopback_only"] is loopback_only


@pytest.mark.needs_root
def test_registry_on_loopback_refuses_the_hosts_other_address_and_the_report_says_why(namespace, tmp_path):
    # The seed's failure: registry bound to 127.0.0.1:5000, clients use the VM's address.
    host_address, _ = namespace.add_veth()
    with Registry(tmp_path / "registry", bind="127.0.0.1", port=5000, namespace=namespace):
        answer = namespace.run_module(
            {"url": f"http://{host_address}:5000", "listen_port": 5000, "probe": True}
        )
    result = answer["result"]
    assert result["error"]["kind"] == "refused"
    assert "The registry may listen on loopback only" in result["error"]["message"]
    assert "listen_port: 5000" in result["error"]["message"]
    assert "On this host port 5000 is bound to 127.0.0.1 (loopback only)." in result["error"]["message"]
    assert result["listen"]["loopback_only"] is True


@pytest.mark.needs_root
def test_silent_address_times_out_within_the_timeout(namespace):
    _, silent = namespace.add_veth()
    namespace.drop_tcp(silent, 5000)
    timeout = 2
    answer = namespace.run_module({"url": f"http://{silent}:5000", "timeout": timeout})
    result = answer["result"]
    assert result["failed"] is True
    assert result["error"]["kind"] == "timeout"
    assert f"no answer from {silent}:5000 within {timeout} s" in result["msg"]
    assert timeout <= answer["elapsed"] < timeout + 1


@pytest.mark.needs_root
def test_unresolvable_host_is_a_dns_error(namespace):
    namespace.use_resolver("127.0.0.1")  # the namespace's own loopback: nothing answers
    answer = namespace.run_module({"url": "http://registry.nested-warden.invalid:5000", "probe": True})
    result = answer["result"]
    assert result["error"]["kind"] == "dns"
    assert "cannot resolve host name 'registry.nested-warden.invalid'" in result["error"]["message"]


# --- through Ansible itself -----------------------------------------------------------------------


PLAYBOOK = """
- name: Registry check through ansible-playbook
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - secrets.yml
  tasks:
    - name: Right credentials, check mode
      nested.warden.registry_check:
        url: "{{ registry_url }}"
        username: "{{ registry_user }}"
        password: "{{ right_password }}"
        repository: alpha/tiny
        tag: "1.0"
      check_mode: true
      register: right

    - name: The check reported the manifest and changed nothing
      ansible.builtin.assert:
        that:
          - right is not changed
          - right.reachable
          - right.manifest.digest is match('sha256:')

    - name: Wrong password, probing
      nested.warden.registry_check:
        url: "{{ registry_url }}"
        username: "{{ registry_user }}"
        password: "{{ wrong_password }}"
        probe: true
      register: wrong

    - name: Probing reported the kind without failing
      ansible.builtin.assert:
        that:
          - wrong is not failed
          - wrong.error.kind == 'unauthorized'

    - name: Wrong password, failing
      nested.warden.registry_check:
        url: "{{ registry_url }}"
        username: "{{ registry_user }}"
        password: "{{ wrong_password }}"
"""


def test_passwords_appear_nowhere_in_ansible_playbook_output_even_at_vvv(basic_registry, tmp_path):
    registry, _ = basic_registry
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    secrets = {
        "registry_url": registry.url,
        "registry_user": USER,
        "right_password": PASSWORD,
        "wrong_password": WRONG_PASSWORD,
    }
    (tmp_path / "secrets.yml").write_text(json.dumps(secrets))
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        ANSIBLE_NOCOLOR="1",
    )
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-vvv",
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(tmp_path / "playbook.yml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output[-3000:]
    # Both asserts passed, only the last task failed.
    assert re.search(r"localhost\s*: ok=4\s+changed=0\s+unreachable=0\s+failed=1", output), output[-3000:]
    assert "registry check failed (unauthorized)" in output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output  # -vvv printed the arguments, masked
    assert PASSWORD not in output
    assert WRONG_PASSWORD not in output
