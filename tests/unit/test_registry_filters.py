"""Registry decisions made in Python (plugins/filter/registry.py), not in Jinja."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.filter.registry import (
    insecure_registry_allowed,
    manifest_names_image,
    registry_deployment,
    registry_diagnosis,
    registry_endpoint,
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
