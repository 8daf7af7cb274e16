"""The registry client's pure parts and its authentication flow, with scripted HTTP answers.

The same flows run against the real distribution registry (and a real token exchange) in
tests/integration/test_registry_check.py.
"""

import base64
import errno
import hashlib
import json
import socket
import ssl
import urllib.error
from email.message import Message

import pytest
from ansible_collections.nested.warden.plugins.module_utils.registry_api import (
    MANIFEST_MEDIA_TYPES,
    Challenge,
    RegistryError,
    Response,
    body_excerpt,
    next_link,
    parse_challenges,
)
from ansible_collections.nested.warden.plugins.module_utils.registry_client import (
    RegistryClient,
    check_registry,
)
from ansible_collections.nested.warden.plugins.module_utils.registry_protocol import (
    ConfigurationError,
    classify_network_error,
    normalize_url,
    validate_reference,
    validate_repository,
)

PASSWORD = "S3cret-Unit-Value"
BEARER = 'Bearer realm="https://auth.test/token",service="registry.test"'


# --- WWW-Authenticate ---------------------------------------------------------------------------


def test_basic_challenge_parses_scheme_and_realm():
    assert parse_challenges(['Basic realm="basic-realm"']) == [Challenge("basic", {"realm": "basic-realm"})]


def test_bearer_challenge_keeps_commas_inside_the_quoted_scope():
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:samalba/my-app:pull,push",
            },
        )
    ]


def test_bearer_challenge_of_a_refused_token_carries_the_error():
    header = BEARER + ',scope="registry:catalog:*",error="insufficient_scope"'
    [challenge] = parse_challenges([header])
    assert challenge.params["error"] == "insufficient_scope"
    assert challenge.params["scope"] == "registry:catalog:*"


def test_several_challenges_in_one_header_and_across_headers_are_all_found():
    challenges = parse_challenges(['Basic realm="a", Bearer realm="https://b/token"', "Negotiate"])
    assert [challenge.scheme for challenge in challenges] == ["basic", "bearer", "negotiate"]
    assert challenges[1].params == {"realm": "https://b/token"}


def test_scheme_and_parameter_names_are_case_insensitive_and_tokens_may_be_unquoted():
    assert parse_challenges(["BEARER Realm = https://auth.test/token , Service=registry.test"]) == [
        Challenge("bearer", {"realm": "https://auth.test/token", "service": "registry.test"})
    ]


def test_escaped_quotes_inside_quoted_values_are_unescaped():
    [challenge] = parse_challenges([r'Basic realm="say \"hi\""'])
    assert challenge.params["realm"] == 'say "hi"'


def test_garbage_header_gives_what_it_can_without_raising():
    assert parse_challenges(['=== "', ""]) == []


# --- Link pagination ----------------------------------------------------------------------------


def test_relative_next_link_resolves_against_the_current_page():
    link = '</v2/_catalog?last=alpha%2Ftiny&n=1>; rel="next"'
    assert next_link(link, "http://127.0.0.1:5000/v2/_catalog?n=1") == (
        "http://127.0.0.1:5000/v2/_catalog?last=alpha%2Ftiny&n=1"
    )


def test_next_link_is_found_among_other_relations():
    link = '<https://r.test/v2/_catalog?n=1>; rel="first", <https://r.test/v2/_catalog?last=b&n=1>; rel=next'
    assert next_link(link, "https://r.test/v2/_catalog?n=1") == "https://r.test/v2/_catalog?last=b&n=1"


@pytest.mark.parametrize("header", [None, "", '</v2/_catalog?n=1>; rel="prev"'])
def test_no_next_link_ends_pagination(header):
    assert next_link(header, "https://r.test/v2/_catalog") is None


# --- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://registry.test:5000", "https://registry.test:5000"),
        ("https://registry.test:5000/", "https://registry.test:5000"),
        ("http://10.0.0.5:5000/v2/", "http://10.0.0.5:5000"),
        ("https://proxy.test/registry/", "https://proxy.test/registry"),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_url_is_normalised_to_a_base_without_the_api_root(url, base):
    assert normalize_url(url) == base


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("registry.test:5000", "must start with http:// or https://"),
        ("ftp://registry.test", "must start with http:// or https://"),
        ("https://", "names no host"),
        ("https://registry.test:99999", "invalid port"),
        ("https://registry.test/?x=1", "query or fragment"),
    ],
)
def test_unusable_url_is_a_configuration_error_that_says_why(url, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        normalize_url(url)


def test_credentials_in_url_are_refused_without_repeating_them():
    with pytest.raises(ConfigurationError) as raised:
        normalize_url(f"https://admin:{PASSWORD}@registry.test")
    assert "username and password" in str(raised.value)
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize("name", ["app", "library/app", "warden-cpi-containerd", "a/b_c/d__e", "x.y/z--w"])
def test_valid_repository_names_pass(name):
    validate_repository(name)


@pytest.mark.parametrize("name", ["10.0.0.5:5000/app", "App", "app:latest", "/app", "app/", "a//b"])
def test_repository_with_host_tag_or_capitals_is_refused_with_an_example(name):
    with pytest.raises(ConfigurationError, match="library/app"):
        validate_repository(name)


@pytest.mark.parametrize("tag", ["latest", "1.0", "v1_2-rc.3", "sha256:" + "a" * 64])
def test_tags_and_digests_are_accepted_as_references(tag):
    validate_reference(tag)


@pytest.mark.parametrize("tag", [".hidden", "-dash", "a" * 129, "has space", "sha256:short"])
def test_malformed_tag_is_refused(tag):
    with pytest.raises(ConfigurationError, match="neither a tag"):
        validate_reference(tag)


# --- network failures ---------------------------------------------------------------------------


def verification_error(message):
    error = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}"
    )
    error.verify_message = message
    return error


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")), "refused"),
        (urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known")), "dns"),
        (urllib.error.URLError(TimeoutError("timed out")), "timeout"),
        (TimeoutError("The read operation timed out"), "timeout"),
        (urllib.error.URLError("timed out"), "timeout"),
        (urllib.error.URLError(verification_error("unable to get local issuer certificate")), "tls"),
        (urllib.error.URLError(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")), "tls"),
        (urllib.error.URLError(OSError(errno.EHOSTUNREACH, "No route to host")), "unexpected"),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "unexpected"),
    ],
)
def test_network_failures_are_classified(raised, kind):
    assert classify_network_error(raised, "https://registry.test:5000/v2/", 10).kind == kind


def test_refusal_hints_at_a_loopback_only_registry_and_how_to_check():
    refused = urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    message = classify_network_error(refused, "http://10.0.0.5:5000/v2/", 10).message
    assert "10.0.0.5:5000" in message
    assert "loopback only" in message
    assert "listen_port: 5000" in message
    assert "docker.registry.bind" in message


def test_refusal_on_loopback_asks_whether_the_registry_runs_instead_of_blaming_the_bind():
    refused = urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    message = classify_network_error(refused, "http://127.0.0.1:5000/v2/", 10).message
    assert "Is the registry running" in message
    assert "listen_port: 5000" in message
    assert "loopback only" not in message


def test_unverified_certificate_names_ca_path_and_validate_certs():
    failure = urllib.error.URLError(verification_error("unable to get local issuer certificate"))
    message = classify_network_error(failure, "https://registry.test/v2/", 10).message
    assert "registry.test:443" in message
    assert "unable to get local issuer certificate" in message
    assert "ca_path" in message
    assert "validate_certs" in message


def test_unverified_certificate_with_ca_path_says_that_ca_does_not_verify_it():
    failure = urllib.error.URLError(verification_error("self-signed certificate"))
    message = classify_network_error(failure, "https://registry.test/v2/", 10, "/etc/ssl/ca.pem").message
    assert "ca_path /etc/ssl/ca.pem does not verify it" in message


def test_tls_to_a_plain_http_server_suggests_http():
    failure = urllib.error.URLError(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"))
    assert "try http://" in classify_network_error(failure, "https://registry.test/v2/", 10).message


def test_timeout_message_names_the_address_and_the_seconds_waited():
    message = classify_network_error(TimeoutError("timed out"), "http://10.0.0.5:5000/v2/", 2.5).message
    assert "10.0.0.5:5000 within 2.5 s" in message


def test_excerpt_prefers_the_registry_error_codes():
    body = json.dumps(
        {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}
    )
    assert body_excerpt(body.encode()) == "NAME_UNKNOWN: repository name not known to registry"


def test_excerpt_of_a_long_page_is_one_short_line():
    excerpt = body_excerpt(b"<html>\n<body>" + b"x" * 500 + b"</body></html>")
    assert "\n" not in excerpt
    assert excerpt.endswith("...")
    assert len(excerpt) <= 203


def test_excerpt_of_an_empty_body_says_so():
    assert body_excerpt(b"") == "(empty body)"


# --- the flow, with scripted answers -------------------------------------------------------------


def message_headers(*pairs):
    headers = Message()
    for name, value in pairs:
        headers[name] = value
    return headers


class ScriptedClient(RegistryClient):
    """A client whose HTTP answers come from a script; it records every request it sends."""

    def __init__(self, answers, **options):
        super().__init__("https://registry.test:5000", **options)
        self.answers = list(answers)
        self.sent = []

    def _open(self, method, url, headers, sink=None):
        self.sent.append({"method": method, "url": url, "headers": dict(headers)})
        status, pairs, body = self.answers.pop(0)
        if sink is not None and status == 200:  # as read_body streams an answer
            sink(body)
            body = b""
        return Response(status, message_headers(*pairs), body, url)


def ok(body=b"{}", *pairs):
    return (200, pairs, body)


def challenge(value):
    return (401, [("WWW-Authenticate", value)], b'{"errors":[{"code":"UNAUTHORIZED"}]}')


def token(value="t0ken"):
    return ok(json.dumps({"token": value}).encode())


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_bearer_challenge_fetches_a_token_with_basic_credentials_then_retries_with_it():
    client = ScriptedClient(
        [challenge(BEARER), token(), ok(b"{}", ("Docker-Distribution-API-Version", "registry/2.0"))],
        username="warden",
        password=PASSWORD,
    )
    assert client.ping() == "registry/2.0"
    token_request, retry = client.sent[1], client.sent[2]
    assert token_request["url"] == "https://auth.test/token?service=registry.test"
    assert token_request["headers"]["Authorization"] == basic("warden", PASSWORD)
    assert retry["url"] == "https://registry.test:5000/v2/"
    assert retry["headers"]["Authorization"] == "Bearer t0ken"
    assert client.auth == "bearer"


def test_token_request_asks_for_the_scope_the_challenge_names():
    client = ScriptedClient(
        [challenge(BEARER + ',scope="repository:team/app:pull"'), token(), ok(b'{"tags": ["1.0"]}')],
        username="warden",
        password=PASSWORD,
    )
    assert client.tags("team/app", 100) == ["1.0"]
    assert client.sent[1]["url"] == (
        "https://auth.test/token?service=registry.test&scope=repository%3Ateam%2Fapp%3Apull"
    )


def test_token_is_reused_for_the_same_scope():
    body = b'{"schemaVersion": 2}'
    head = (200, [("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())], body)
    client = ScriptedClient(
        [challenge(BEARER), token("scoped"), head, head], username="warden", password=PASSWORD
    )
    client.manifest("app", "1.0")
    client.manifest("app", "1.0")
    assert [request["url"] for request in client.sent].count(
        "https://auth.test/token?service=registry.test&scope=repository%3Aapp%3Apull"
    ) == 1
    assert client.sent[3]["headers"]["Authorization"] == "Bearer scoped"


def test_registry_refusing_the_issued_token_is_unauthorized_with_its_reason():
    client = ScriptedClient(
        [challenge(BEARER), token(), challenge(BEARER + ',error="insufficient_scope"')],
        username="warden",
        password=PASSWORD,
    )
    with pytest.raises(RegistryError) as raised:
        client.catalog(100)
    assert raised.value.kind == "unauthorized"
    assert "insufficient_scope" in raised.value.message
    assert "registry:catalog:*" in raised.value.message


def test_token_server_rejecting_the_credentials_is_unauthorized_and_never_echoes_them():
    client = ScriptedClient([challenge(BEARER), (401, [], b"")], username="warden", password=PASSWORD)
    with pytest.raises(RegistryError) as raised:
        client.ping()
    assert raised.value.kind == "unauthorized"
    assert (
        "token server https://auth.test/token rejected the credentials of user 'warden'"
        in raised.value.message
    )
    assert PASSWORD not in raised.value.message
    assert base64.b64encode(f"warden:{PASSWORD}".encode()).decode() not in raised.value.message


def test_rejected_basic_credentials_are_unauthorized_and_never_echoed():
    client = ScriptedClient(
        [challenge('Basic realm="r"'), challenge('Basic realm="r"')], username="warden", password=PASSWORD
    )
    with pytest.raises(RegistryError) as raised:
        client.ping()
    assert raised.value.kind == "unauthorized"
    assert raised.value.status == 401
    assert "user 'warden'" in raised.value.message
    assert PASSWORD not in raised.value.message


def test_basic_challenge_without_credentials_asks_for_them():
    client = ScriptedClient([challenge('Basic realm="r"')])
    with pytest.raises(RegistryError, match="set username and password") as raised:
        client.ping()
    assert raised.value.kind == "unauthorized"
    assert len(client.sent) == 1


def test_basic_credentials_are_sent_up_front_once_the_registry_asked_for_them():
    client = ScriptedClient(
        [challenge('Basic realm="r"'), ok(), ok(b'{"tags": []}')], username="u", password="p"
    )
    client.ping()
    client.tags("app", 10)
    assert len(client.sent) == 3
    assert client.sent[2]["headers"]["Authorization"] == basic("u", "p")


def test_a_manifest_that_is_not_what_the_registry_says_is_refused():
    changed = b'{"schemaVersion": 2, "layers": []}'
    client = ScriptedClient([(200, [("Docker-Content-Digest", "sha256:" + "2" * 64)], changed)])
    with pytest.raises(
        RegistryError, match=r"arrived as sha256:[0-9a-f]{64}, the registry says sha256:2{64}"
    ) as raised:
        client.manifest("app", "1.0")
    assert raised.value.kind == "unexpected"


def test_a_blob_streams_to_its_sink_after_the_token_flow_and_its_digest_is_checked():
    layer = b"layer bytes " * 1000
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    chunks = []
    client = ScriptedClient(
        [challenge(BEARER), token("blob"), ok(layer)], username="warden", password=PASSWORD
    )
    client.blob("app", digest, chunks.append)
    assert b"".join(chunks) == layer
    assert client.sent[2]["url"] == f"https://registry.test:5000/v2/app/blobs/{digest}"
    assert client.sent[2]["headers"]["Authorization"] == "Bearer blob"
    wrong = ScriptedClient([ok(b"other bytes")])
    with pytest.raises(RegistryError, match=f"blob {digest} of 'app' arrived as sha256:"):
        wrong.blob("app", digest, chunks.append)


def test_unknown_authentication_scheme_is_unauthorized_and_named():
    client = ScriptedClient([challenge("Negotiate")], username="u", password="p")
    with pytest.raises(RegistryError, match="Negotiate") as raised:
        client.ping()
    assert raised.value.kind == "unauthorized"


def test_manifest_get_offers_docker_and_oci_manifest_and_index_types():
    index = b'{"schemaVersion": 2, "manifests": [{"digest": "sha256:' + b"3" * 64 + b'"}]}'
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    client = ScriptedClient(
        [(200, [("Docker-Content-Digest", digest), ("Content-Type", MANIFEST_MEDIA_TYPES[3])], index)]
    )
    assert client.manifest("app", "multi") == {
        "digest": digest,
        "media_type": MANIFEST_MEDIA_TYPES[3],
        "size": len(index),
        "config_digest": None,  # an index names no single config
    }
    request = client.sent[0]
    assert request["method"] == "GET"
    assert set(request["headers"]["Accept"].split(", ")) == set(MANIFEST_MEDIA_TYPES)


def test_manifest_names_the_config_digest_of_a_single_image():
    config = "sha256:" + "4" * 64
    manifest = json.dumps(
        {"schemaVersion": 2, "config": {"digest": config, "size": 7}, "layers": []}
    ).encode()
    client = ScriptedClient([ok(manifest, ("Content-Type", MANIFEST_MEDIA_TYPES[0]))])
    assert client.manifest("app", "1.0")["config_digest"] == config


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"config": "sha256:x"}', b'{"config": {"digest": 7}}']
)
def test_manifest_without_a_config_digest_says_none(body):
    client = ScriptedClient([ok(body, ("Content-Type", MANIFEST_MEDIA_TYPES[0]))])
    assert client.manifest("app", "1.0")["config_digest"] is None


def test_manifest_without_digest_header_is_hashed_from_its_body():
    manifest = b'{"schemaVersion": 2}'
    client = ScriptedClient([ok(manifest, ("Content-Type", MANIFEST_MEDIA_TYPES[0]))])
    assert client.manifest("app", "1.0")["digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert [request["method"] for request in client.sent] == ["GET"]


def test_catalog_follows_next_links_until_there_is_none():
    client = ScriptedClient(
        [
            ok(b'{"repositories": ["a"]}', ("Link", '</v2/_catalog?last=a&n=1>; rel="next"')),
            ok(b'{"repositories": ["b"]}', ("Link", '</v2/_catalog?last=b&n=1>; rel="next"')),
            ok(b'{"repositories": []}'),
        ]
    )
    assert client.catalog(1) == ["a", "b"]
    assert client.sent[1]["url"] == "https://registry.test:5000/v2/_catalog?last=a&n=1"


def test_pagination_that_links_back_to_a_seen_page_is_reported_instead_of_followed_forever():
    loop = ok(b'{"repositories": ["a"]}', ("Link", '</v2/_catalog?n=1>; rel="next"'))
    client = ScriptedClient([loop, loop])
    with pytest.raises(RegistryError, match="loops") as raised:
        client.catalog(1)
    assert raised.value.kind == "unexpected"


@pytest.mark.parametrize("body", [b'["a", "b"]', b'{"repositories": "a"}', b"<html>not json</html>"])
def test_page_that_is_not_a_registry_answer_is_unexpected_not_a_crash(body):
    client = ScriptedClient([ok(body)])
    with pytest.raises(RegistryError) as raised:
        client.catalog(10)
    assert raised.value.kind == "unexpected"
    assert "_catalog" in raised.value.message


def test_repository_whose_tags_were_all_deleted_has_no_tags():
    client = ScriptedClient([ok(b'{"name": "app", "tags": null}')])
    assert client.tags("app", 10) == []


def test_https_server_answering_plain_http_suggests_https():
    client = ScriptedClient([(400, [], b"Client sent an HTTP request to an HTTPS server.\n")])
    with pytest.raises(RegistryError, match="use https://") as raised:
        client.ping()
    assert raised.value.kind == "unexpected"
    assert raised.value.status is None  # _call returned; ping records the status on the client
    assert client.ping_status == 400


def test_facts_gathered_before_a_failure_stay_in_the_result():
    missing = (
        404,
        [],
        b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}',
    )
    client = ScriptedClient([ok(b"{}", ("Docker-Distribution-API-Version", "registry/2.0")), missing])
    facts = check_registry(client, repository="nope")
    assert facts["reachable"] is True
    assert facts["status"] == 200
    assert facts["api_version"] == "registry/2.0"
    assert facts["error"]["kind"] == "not_found"
    assert "NAME_UNKNOWN" in facts["error"]["message"]


def test_missing_tag_message_names_the_tags_that_exist():
    client = ScriptedClient([ok(), ok(b'{"tags": ["1.0", "1.1"]}'), (404, [], b"")])
    facts = check_registry(client, repository="app", tag="2.0")
    assert facts["tags"] == ["1.0", "1.1"]
    assert facts["error"]["kind"] == "not_found"
    assert "tag '2.0' not found in repository 'app'" in facts["error"]["message"]
    assert "tags there: 1.0, 1.1" in facts["error"]["message"]


def test_missing_ca_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="no such file"):
        RegistryClient("https://registry.test", ca_path=str(tmp_path / "missing.pem"))


def test_ca_file_that_is_not_pem_is_a_configuration_error(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError, match="cannot load it as PEM"):
        RegistryClient("https://registry.test", ca_path=str(junk))


@pytest.mark.parametrize(
    ("url", "in_clear"),
    [("http://10.0.0.5:5000", True), ("http://127.0.0.1:5000", False), ("https://10.0.0.5:5000", False)],
)
def test_credentials_over_plain_http_to_another_host_are_flagged(url, in_clear):
    assert RegistryClient(url, username="u", password="p").sends_credentials_in_clear is in_clear
