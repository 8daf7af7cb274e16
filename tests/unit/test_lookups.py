"""The lookups: values read from elsewhere (a BOSH vars store, recorded stage results), and the
paths of what the collection ships (asset)."""

import datetime
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
import yaml
from ansible import constants
from ansible.errors import AnsibleLookupError
from ansible_collections.nested.warden.plugins.lookup import asset, stage_result, vars_store


def plugin(module, name):
    """The lookup with its documented options registered, as Ansible's plugin loader does."""
    lookup = module.LookupModule()
    lookup._load_name = f"nested.warden.{name}"
    options = yaml.safe_load(module.DOCUMENTATION)["options"]
    constants.config.initialize_plugin_configuration_definitions("lookup", lookup._load_name, options)
    return lookup


STORE = """\
docker_registry_password: s3cret
docker_registry_ca:
  ca: |
    -----BEGIN CERTIFICATE-----
    MIIB
    -----END CERTIFICATE-----
  certificate: CERT
list:
  - first
"""


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "vars-store.yml"
    path.write_text(STORE)
    return str(path)


def read(*terms, **kwargs):
    return plugin(vars_store, "vars_store").run(list(terms), variables={}, **kwargs)


def test_values_by_bosh_path(store):
    assert read("/docker_registry_password", "/docker_registry_ca/certificate", "/list/0", file=store) == [
        "s3cret",
        "CERT",
        "first",
    ]
    assert read("/docker_registry_ca/ca", file=store)[0].startswith("-----BEGIN CERTIFICATE-----")


def test_missing_path_names_what_the_store_has(store):
    with pytest.raises(
        AnsibleLookupError, match=r"has no /docker_registry_pasword \(it has: /docker_registry_ca"
    ):
        read("/docker_registry_pasword", file=store)


def test_missing_store_says_which_stage_makes_it(tmp_path):
    with pytest.raises(AnsibleLookupError, match="does not exist: run the concourse stage first"):
        read("/x", file=str(tmp_path / "none.yml"))
    assert read("/x", file=str(tmp_path / "none.yml"), default="") == [""]


def test_default_for_a_missing_path(store):
    assert read("/nope", "/docker_registry_password", file=store, default=None) == [None, "s3cret"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe bad", "not UTF-8"),
        (b"a: [unclosed", "not valid YAML"),
        (b"- a list", "holds a list, not a mapping"),
    ],
)
def test_broken_stores_are_named(tmp_path, content, message):
    path = tmp_path / "store.yml"
    path.write_bytes(content)
    with pytest.raises(AnsibleLookupError, match=message):
        read("/x", file=str(path))


@pytest.mark.parametrize("path", ["name", "/", "", 5])
def test_paths_must_be_bosh_paths(store, path):
    with pytest.raises(AnsibleLookupError, match="must start with /"):
        read(path, file=store)


def test_a_directory_is_not_a_store(tmp_path):
    with pytest.raises(AnsibleLookupError, match="is not a file"):
        read("/x", file=str(tmp_path))


def results(*terms, variables=None, **kwargs):
    return plugin(stage_result, "stage_result").run(list(terms), variables=variables or {}, **kwargs)


def record(state_dir, stage, result, suffix=".json"):
    (state_dir / "results").mkdir(exist_ok=True)
    (state_dir / "results" / f"{stage}{suffix}").write_text(json.dumps(result))


def test_this_runs_result_wins_over_the_recorded_one(tmp_path):
    record(tmp_path, "registry_fix", {"status": "fixed", "outputs": {"endpoint": "old"}})
    now = {"status": "passed", "outputs": {"endpoint": "new"}}
    assert results(
        "registry_fix", state_dir=str(tmp_path), output="endpoint", variables={"registry_fix_result": now}
    ) == ["new"]
    assert results("registry_fix", state_dir=str(tmp_path), output="endpoint") == ["old"]


def test_fixed_results_are_kept_apart(tmp_path):
    record(tmp_path, "registry_fix", {"status": "passed"})
    record(tmp_path, "registry_fix", {"status": "fixed", "evidence": ["cause"]}, ".fixed.json")
    assert results("registry_fix", state_dir=str(tmp_path), kind="fixed")[0]["evidence"] == ["cause"]
    # kind=fixed never takes this run's result, which may not be a fix
    assert (
        results(
            "registry_fix",
            state_dir=str(tmp_path),
            kind="fixed",
            variables={"registry_fix_result": {"status": "passed"}},
        )[0]["status"]
        == "fixed"
    )


def test_no_result_says_which_stage_to_run(tmp_path):
    with pytest.raises(AnsibleLookupError, match="run the concourse stage first"):
        results("concourse", state_dir=str(tmp_path))
    assert results("concourse", state_dir=str(tmp_path), default="") == [""]


def test_missing_output_names_the_result(tmp_path):
    record(
        tmp_path,
        "registry_fix",
        {"status": "passed", "reason": "fix undone", "outputs": {}, "recorded_at": "2026-11-28T10:00:00Z"},
    )
    with pytest.raises(
        AnsibleLookupError, match=r"recorded 2026-11-28T10:00:00Z: passed, fix undone\) has no output"
    ):
        results("registry_fix", state_dir=str(tmp_path), output="endpoint")


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"no": "status"}'])
def test_a_broken_record_says_to_delete_it(tmp_path, content):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "lab.json").write_text(content)
    with pytest.raises(AnsibleLookupError, match="delete it"):
        results("lab", state_dir=str(tmp_path))


@pytest.mark.parametrize("stage", ["../etc/passwd", "Lab", "", "a" * 65])
def test_stage_names_cannot_escape_the_state_directory(tmp_path, stage):
    with pytest.raises(AnsibleLookupError, match="not a stage name"):
        results(stage, state_dir=str(tmp_path))


def test_state_dir_comes_from_the_inventory_variable(tmp_path):
    record(tmp_path, "lab", {"status": "passed"})
    assert results("lab", variables={"nested_warden_state_dir": str(tmp_path)})[0]["status"] == "passed"


SERVED_MANIFEST = b'{"schemaVersion": 2}'
SERVED_DIGEST = "sha256:" + hashlib.sha256(SERVED_MANIFEST).hexdigest()


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    """/v2/ asks for credentials; one manifest, warden:latest, with a known digest."""

    def do_GET(self):
        if self.path == "/v2/":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="registry"')
            self.end_headers()
        elif self.path == "/v2/warden/manifests/latest" and self.headers.get("Authorization"):
            self.send_response(200)
            self.send_header("Docker-Content-Digest", SERVED_DIGEST)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.end_headers()
            self.wfile.write(SERVED_MANIFEST)
        elif self.path.startswith("/v2/") and not self.headers.get("Authorization"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="registry"')
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host_port = f"127.0.0.1:{server.server_address[1]}"
    yield {
        "url": f"http://{host_port}",
        "host_port": host_port,
        "scheme": "http",
        "ca_cert": "",
        "username": "admin",
        "authenticated": True,
    }
    server.shutdown()


def closed_port_endpoint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {"url": f"http://127.0.0.1:{port}", "host_port": f"127.0.0.1:{port}", "authenticated": False}


def test_a_recorded_endpoint_that_answers_is_used_with_its_age_and_source(tmp_path, registry, monkeypatch):
    warnings = []
    monkeypatch.setattr(stage_result.display, "warning", warnings.append)
    record(
        tmp_path,
        "registry_fix",
        {"status": "fixed", "outputs": {"endpoint": registry}, "recorded_at": "2026-11-28T10:00:00Z"},
    )
    assert results("registry_fix", state_dir=str(tmp_path), output="endpoint") == [registry]
    assert len(warnings) == 1
    assert "recorded at 2026-11-28T10:00:00Z," in warnings[0] and "ago in" in warnings[0]
    assert str(tmp_path / "results" / "registry_fix.json") in warnings[0]


def test_this_runs_endpoint_is_neither_checked_nor_announced(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(stage_result.display, "warning", warnings.append)
    now = {"status": "passed", "outputs": {"endpoint": closed_port_endpoint()}}
    results(
        "registry_fix", state_dir=str(tmp_path), output="endpoint", variables={"registry_fix_result": now}
    )
    assert warnings == []


def test_a_recorded_endpoint_that_does_not_answer_is_refused_naming_the_stage_to_run(tmp_path):
    record(tmp_path, "registry_fix", {"status": "fixed", "outputs": {"endpoint": closed_port_endpoint()}})
    with pytest.raises(AnsibleLookupError, match=r"does not answer .*Run the registry_fix stage again"):
        results("registry_fix", state_dir=str(tmp_path), output="endpoint")
    # check=false takes it as recorded (with the warning)
    assert results("registry_fix", state_dir=str(tmp_path), output="endpoint", check=False)


def test_a_recorded_image_is_used_while_the_registry_serves_its_digest(tmp_path, registry):
    image = f"{registry['host_port']}/warden:latest"
    record(
        tmp_path,
        "image_build",
        {"status": "passed", "outputs": {"image": image, "digest": SERVED_DIGEST}},
    )
    assert results(
        "image_build", state_dir=str(tmp_path), output="image", registry=registry, password="pw"
    ) == [image]


@pytest.mark.parametrize(
    ("image", "digest", "message"),
    [
        ("warden:gone", "", "does not serve the image"),
        ("warden:latest", "sha256:" + "b" * 64, f"is now {SERVED_DIGEST}"),
        ("other-host:5000/warden:latest", "", "is not on the registry"),
    ],
)
def test_a_recorded_image_the_registry_no_longer_serves_is_refused(
    tmp_path, registry, image, digest, message
):
    if not image.startswith("other-host"):
        image = f"{registry['host_port']}/{image}"
    record(tmp_path, "image_build", {"status": "passed", "outputs": {"image": image, "digest": digest}})
    with pytest.raises(AnsibleLookupError, match=rf"{message}.*Run the image_build stage again"):
        results("image_build", state_dir=str(tmp_path), output="image", registry=registry, password="pw")


def test_age_is_said_in_minutes_hours_or_days():
    now = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.timezone.utc)
    assert stage_result.describe_age("2026-12-06T11:18:00Z", now) == "at 2026-12-06T11:18:00Z, 42 min ago"
    assert stage_result.describe_age("2026-12-06T02:00:00Z", now).endswith("10 h ago")
    assert stage_result.describe_age("2026-12-01T12:00:00Z", now).endswith("5 days ago")
    assert stage_result.describe_age("2026-12-06T11:59:30Z", now).endswith("less than a minute ago")
    assert stage_result.describe_age(None) == "at an unknown time"


class FakeWebNode(http.server.BaseHTTPRequestHandler):
    """GET /api/v1/info as a Concourse web node answers it."""

    def do_GET(self):
        body = json.dumps({"version": "8.2.5", "worker_version": "2.5"}).encode()
        self.send_response(200 if self.path == "/api/v1/info" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_recorded_concourse_web_node_is_used_while_it_answers_and_refused_after(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeWebNode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    web = {"url": f"http://127.0.0.1:{server.server_address[1]}", "version": "8.2.5"}
    record(tmp_path, "concourse", {"status": "passed", "outputs": {"web": web, "deployment": {}}})
    assert results("concourse", state_dir=str(tmp_path), output="web") == [web]
    server.shutdown()
    server.server_close()
    with pytest.raises(
        AnsibleLookupError, match=r"the Concourse web node http://127.0.0.1:\d+ does not answer"
    ):
        results("concourse", state_dir=str(tmp_path), output="web")
    # A lab without a Concourse records {}: nothing to check.
    record(tmp_path, "concourse", {"status": "passed", "outputs": {"web": {}, "deployment": {}}})
    assert results("concourse", state_dir=str(tmp_path), output="web") == [{}]


# asset: what the roles' defaults find through the collection, not through the playbook's directory


def test_asset_paths_are_inside_the_collection_wherever_the_playbook_is():
    root = Path(asset.COLLECTION_ROOT)
    assert (root / "galaxy.yml").is_file()
    found = plugin(asset, "asset").run(
        [
            "manifests/concourse-lab.yml",
            "ops-files/seed/docker-registry-seed.yml",
            "releases/docker-registry",
            ".",
        ],
        variables={"playbook_dir": "/somewhere/else"},
    )
    assert found == [
        str(root / "manifests" / "concourse-lab.yml"),
        str(root / "ops-files" / "seed" / "docker-registry-seed.yml"),
        str(root / "releases" / "docker-registry"),
        str(root),
    ]


def test_asset_root_is_the_checkout_itself_through_the_collections_path_link():
    """The link .cache/collections/ansible_collections/nested/warden is resolved: the paths are the
    checkout's, so the ops files recorded relative to the root read the same as before."""
    assert Path(asset.COLLECTION_ROOT) == Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("term", "words"),
    [
        ("manifests/nothing.yml", r"ships no manifests/nothing.yml \(looked for .*/manifests/nothing.yml\)"),
        ("/etc/passwd", r"asset /etc/passwd is absolute"),
        ("../outside", r"asset ../outside leaves the collection's root"),
        ("ops-files/../../x", r"leaves the collection's root"),
        ("", r"is not a path"),
        ("a\0b", r"is not a path"),
    ],
    ids=["missing", "absolute", "parent", "escape", "empty", "nul"],
)
def test_asset_refuses_what_the_collection_does_not_ship(term, words):
    with pytest.raises(AnsibleLookupError, match=words):
        plugin(asset, "asset").run([term], variables={})
