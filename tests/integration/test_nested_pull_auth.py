"""nested-check pull's authentication against the real distribution registry (Debian's
docker-registry, no Docker): the token flow through a token server the registry trusts, and
Basic auth from htpasswd. containerd's import is replaced by a stand-in that reads the archive
pull hands it; everything before it (manifest, blobs, digests, auth) is real."""

import argparse
import json
import tarfile

import pytest
from nested_check import registry_pull
from registry_fixtures import Registry, Skopeo, TokenServer, missing_tools, write_htpasswd

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"missing tools: {missing_tools()}")

USER = "warden"
PASSWORD = "Corr3ct-H0rse-7c2e"
WRONG_PASSWORD = "Wr0ng-Battery-83d1"
REPOSITORY, TAG = "nested/tiny", "1.0"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    directory = tmp_path_factory.mktemp("token")
    with (
        pytest.MonkeyPatch.context() as patch,
        TokenServer(directory / "token", {USER: PASSWORD}) as token_server,
        Registry(directory / "registry", token=token_server) as registry,
    ):
        for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            patch.delenv(variable, raising=False)
        skopeo = Skopeo(registry, directory / "skopeo", USER, PASSWORD)
        skopeo.push(REPOSITORY, TAG)
        yield registry, skopeo, token_server


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    directory = tmp_path_factory.mktemp("basic")
    htpasswd = write_htpasswd(directory / "htpasswd", {USER: PASSWORD})
    with (
        pytest.MonkeyPatch.context() as patch,
        Registry(directory / "registry", htpasswd=htpasswd) as registry,
    ):
        for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            patch.delenv(variable, raising=False)
        skopeo = Skopeo(registry, directory / "skopeo", USER, PASSWORD)
        skopeo.push(REPOSITORY, TAG)
        yield registry, skopeo


@pytest.fixture
def imported(monkeypatch):
    """ctr's stand-in: the index of every archive pull asks containerd to import."""
    indexes = []

    def ctr(*argv, timeout=120):
        del timeout
        if argv[:2] == ("images", "import"):
            with tarfile.open(argv[-1]) as archive:
                indexes.append(json.load(archive.extractfile("index.json")))
        return 0, "", ""

    monkeypatch.setattr(registry_pull, "ctr", ctr)
    return indexes


def pull(registry, tmp_path, password=PASSWORD):
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"username": USER, "password": password}))
    args = argparse.Namespace(
        registry=registry.address, repository=REPOSITORY, tag=TAG, auth_file=str(auth_file),
        scheme="http", ca_file=None, work_dir=str(tmp_path), snapshotter="overlayfs",
    )  # fmt: skip
    return registry_pull.pull(args)


def test_nested_pull_gets_a_token_from_the_token_server_and_pulls_every_blob(
    token_registry, imported, tmp_path
):
    registry, skopeo, token_server = token_registry
    asked_before = len(token_server.requests)
    result = pull(registry, tmp_path)
    asked = token_server.requests[asked_before:]
    assert result["passed"] is True, result
    assert result["auth"] == "bearer"
    assert result["digest"] == skopeo.inspect(REPOSITORY, TAG)["Digest"]
    assert [index["manifests"][0]["digest"] for index in imported] == [result["digest"]]
    # One token serves the manifest and every blob: the same scope.
    assert [(request["user"], request["scopes"]) for request in asked] == [
        (USER, [f"repository:{REPOSITORY}:pull"])
    ]


def test_nested_pull_with_a_wrong_password_names_the_token_server_and_never_the_password(
    token_registry, imported, tmp_path
):
    registry, _, token_server = token_registry
    result = pull(registry, tmp_path, password=WRONG_PASSWORD)
    assert result["passed"] is False
    assert f"token server {token_server.realm} rejected the credentials of user {USER!r}" in result["error"]
    assert WRONG_PASSWORD not in json.dumps(result)
    assert imported == []


def test_nested_pull_from_a_basic_auth_registry_asks_for_no_token(basic_registry, imported, tmp_path):
    registry, skopeo = basic_registry
    result = pull(registry, tmp_path)
    assert result["passed"] is True, result
    assert result["auth"] == "basic"
    assert result["digest"] == skopeo.inspect(REPOSITORY, TAG)["Digest"]
    assert len(imported) == 1


def test_nested_pull_with_a_wrong_basic_password_is_refused_by_the_registry(
    basic_registry, imported, tmp_path
):
    registry, _ = basic_registry
    result = pull(registry, tmp_path, password=WRONG_PASSWORD)
    assert result["passed"] is False
    assert f"/v2/{REPOSITORY}/manifests/{TAG} rejected the credentials of user {USER!r}" in result["error"]
    assert WRONG_PASSWORD not in json.dumps(result)
    assert imported == []
