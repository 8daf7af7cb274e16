"""Registry decisions made in Python (plugins/filter/registry.py), not in Jinja."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.filter.registry import (
    insecure_registry_allowed,
    manifest_names_image,
    registry_deployment,
    registry_diagnosis,
    registry_endpoint,
    worker_push_failure,
)


def test_endpoint_object_has_every_field_and_brackets_ipv6():
    endpoint = registry_endpoint("fd00::5", 5000, "https", True, "admin", "PEM")
    assert endpoint == {
        "url": "https://[fd00::5]:5000",
        "host_port": "[fd00::5]:5000",
        "scheme": "https",
        "ca_cert": "PEM",
        "username": "admin",
        "authenticated": True,
    }


def test_unauthenticated_endpoint_names_no_user():
    assert registry_endpoint("10.0.0.1", "5000", "http", False, "admin")["username"] == ""


@pytest.mark.parametrize(
    ("address", "port", "scheme", "message"),
    [
        ("reg", 0, "https", "1-65535"),
        ("reg", "x", "https", "must be a number"),
        ("", 5000, "https", "host name or IP"),
        ("http://reg", 5000, "https", "host name or IP"),
        ("reg", 5000, "ftp", "http or https"),
    ],
)
def test_bad_endpoint_parts_are_named(address, port, scheme, message):
    with pytest.raises(AnsibleFilterError, match=message):
        registry_endpoint(address, port, scheme)


def test_deployment_summary_keeps_no_secrets_and_applies_the_release_defaults():
    jobs = {
        "registry": {"docker": {"registry": {"root": "/var/vcap/store"}}},
        "proxy": {
            "docker": {
                "proxy": {
                    "ssl": {"cert": "C", "key": "SECRET"},
                    "auth_basic": {"admin": "HASH"},
                    "port": 5000,
                }
            }
        },
    }
    summary = registry_deployment(jobs)
    assert summary == {
        "registry": {"bind": "127.0.0.1", "port": 5000},
        "proxy": {"address": "*", "port": 5000, "tls": True, "auth": True},
    }
    assert "SECRET" not in repr(summary) and "HASH" not in repr(summary)
    assert registry_deployment({}) == {"registry": None, "proxy": None}


def test_diagnosis_of_the_seeds_deployment():
    listen = {"listening": True, "loopback_only": True, "addresses": ["127.0.0.1"], "port": 5000}
    deployment = {"registry": {"bind": "127.0.0.1", "port": 5000}, "proxy": None}
    causes = registry_diagnosis(
        listen,
        deployment,
        "concourse-0",
        "worker-0",
        ["docker_registry.http.addr is not declared (did you mean docker.registry.bind?)"],
    )
    assert causes == [
        "the registry listens on 127.0.0.1:5000 only (loopback), so worker-0 is refused",
        "docker_registry.http.addr is not declared (did you mean docker.registry.bind?)",
        "the proxy job is not deployed, so nothing with authentication serves the port",
    ]


def test_diagnosis_nothing_listening_and_proxy_without_tls():
    causes = registry_diagnosis(
        {"listening": False}, {"registry": {"port": 5001}, "proxy": {"tls": False}}, "vm", "worker"
    )
    assert causes == [
        "nothing listens on port 5001 on vm",
        "the proxy job has no docker.proxy.ssl.cert, so the release renders no server for it",
    ]


def test_diagnosis_of_a_healthy_deployment_is_empty():
    listen = {"listening": True, "loopback_only": False, "addresses": ["0.0.0.0"]}
    assert registry_diagnosis(listen, {"registry": {"port": 5000}, "proxy": {"tls": True}}, "vm", "w") == []


DEFAULT_ENGINE = {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {"docker.io": {"Secure": True}}}


@pytest.mark.parametrize(
    ("config", "host_port", "allowed"),
    [
        (DEFAULT_ENGINE, "127.0.0.1:5000", True),
        (DEFAULT_ENGINE, "172.30.77.10:5000", False),
        ({**DEFAULT_ENGINE, "InsecureRegistryCIDRs": ["172.30.77.0/24"]}, "172.30.77.10:5000", True),
        ({"IndexConfigs": {"reg.lab:5000": {"Secure": False}}}, "reg.lab:5000", True),
        (DEFAULT_ENGINE, "reg.lab:5000", False),
        ({"InsecureRegistryCIDRs": ["fd00::/64"]}, "[fd00::5]:5000", True),
        ({"InsecureRegistryCIDRs": ["not a cidr"]}, "10.0.0.1:5000", False),
        ({}, "10.0.0.1:5000", False),
    ],
)
def test_plain_http_allowed_only_where_the_engine_says(config, host_port, allowed):
    assert insecure_registry_allowed(config, host_port) is allowed


IMAGE = {"Id": "sha256:" + "1" * 64, "RepoDigests": ["reg:5000/app@sha256:" + "3" * 64]}


@pytest.mark.parametrize(
    ("manifest", "names"),
    [
        ({"config_digest": IMAGE["Id"], "digest": "sha256:" + "2" * 64}, True),  # classic image store
        ({"config_digest": None, "digest": IMAGE["Id"]}, True),  # containerd image store
        ({"config_digest": None, "digest": "sha256:" + "3" * 64}, True),  # the engine recorded the push
        ({"config_digest": "sha256:" + "4" * 64, "digest": "sha256:" + "5" * 64}, False),  # another image
        (None, False),  # no manifest for the tag
    ],
)
def test_a_manifest_names_the_image_by_id_or_recorded_push(manifest, names):
    assert manifest_names_image(manifest, IMAGE, "reg:5000/app") is names


def test_no_image_is_named_by_any_manifest():
    assert manifest_names_image({"config_digest": None, "digest": None}, {}, "reg:5000/app") is False


# The line the registry-image resource's put from the worker logged on the real Concourse 8.2.5 in
# the VM lab against the seed's deployment (registry job bound to 127.0.0.1, no proxy job), between
# two lines of the kind a build log has around it.
REAL_PUT_FAILURE = [
    "selected worker: worker-vm-0",
    "ERRO[0007] failed to set repo/auth options: initialize transport: "
    'Get "https://172.30.78.10:5000/v2/": EOF',
    "failed",
]
SEED_DEPLOYMENT = {"registry": {"bind": "127.0.0.1", "port": 5000}, "proxy": None}


def test_a_push_refused_on_the_seed_s_deployment_names_the_loopback_bind_and_the_fix():
    assert worker_push_failure(REAL_PUT_FAILURE, "172.30.78.10:5000", SEED_DEPLOYMENT) == (
        "the worker could not reach the registry at 172.30.78.10:5000 (ERRO[0007] failed to set repo/auth "
        'options: initialize transport: Get "https://172.30.78.10:5000/v2/": EOF): the registry job listens '
        "on 127.0.0.1:5000 only (loopback) and no proxy job serves the port, so nothing on the network of "
        "the workers answers; run registry_fix (site.yml does, before this stage)"
    )


@pytest.mark.parametrize(
    ("deployment", "named"),
    [
        ({"registry": {"bind": "0.0.0.0", "port": 5000}, "proxy": None}, False),
        ({"registry": {"bind": "127.0.0.1", "port": 5000}, "proxy": {"port": 5000, "tls": True}}, False),
        ({"registry": {"bind": "::1", "port": 5000}, "proxy": None}, True),
        ({"registry": {"bind": "127.0.0.2", "port": 5000}, "proxy": None}, True),
        (None, False),
    ],
    ids=["all-addresses", "behind-a-proxy", "ipv6-loopback", "other-loopback-address", "no-deployment"],
)
def test_the_loopback_cause_is_named_only_when_the_deployment_shows_it(deployment, named):
    cause = worker_push_failure(REAL_PUT_FAILURE, "172.30.78.10:5000", deployment)
    assert cause.startswith("the worker could not reach the registry at 172.30.78.10:5000 (ERRO[0007]")
    assert ("only (loopback)" in cause) is named


@pytest.mark.parametrize(
    ("lines", "host_port"),
    [
        (["step failed: exit status 1", "Get https://10.0.0.5:5000/v2/: EOF"], "172.30.78.10:5000"),
        (["pushed 172.30.78.10:5000/tiny:latest", "succeeded"], "172.30.78.10:5000"),
        ([], "172.30.78.10:5000"),
        (REAL_PUT_FAILURE, ""),
    ],
    ids=["another-registry", "no-network-error", "no-log", "no-registry"],
)
def test_a_log_without_a_network_error_to_the_registry_names_no_cause(lines, host_port):
    assert worker_push_failure(lines, host_port, SEED_DEPLOYMENT) == ""
