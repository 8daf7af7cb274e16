"""Bad input, as a careless user gives it, to the three modules and to the roles' argument specs.

Every case runs in normal and in check mode and must fail with a message that says what was
wrong, where, and how to fix it; nothing may change (no file written, no mutating bosh or fly
call, no registry request), and no case may end in an unhandled exception ("Module failed",
a traceback). The cases cover classes of bad input (undecodable files, hosts DNS cannot take,
names the real tools refuse, numbers out of range, wrong types and choices, options that do not
go together), not single examples.

The modules run in-process (as AnsibleModule runs them, from their JSON arguments) so the
matrix stays fast; the bosh and fly doubles (tests/doubles) stand in for the tools and record
every call. The roles run through ansible-playbook, every case in one play per mode.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import locale
import os
import subprocess
import sys
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings

PROJECT = Path(__file__).resolve().parents[2]
DOUBLES = PROJECT / "tests" / "doubles"
VENV_BIN = Path(sys.executable).parent
SMALL_MANIFEST = PROJECT / "tests" / "fixtures" / "bosh" / "manifests" / "concourse-small.yml"
LAB_RELEASE = PROJECT / "releases" / "docker-registry"
URL_ERRORS = PROJECT / "tests" / "fixtures" / "bosh" / "director-url-errors.yml"
DIRECTOR = "https://10.244.0.6:25555"  # never contacted: only the double sees it
CLIENT_SECRET = "client-secret-bad-input-71c"
VAR_SECRET = "var-secret-bad-input-93d"
FLY_PASSWORD = "concourse-bad-input-4e2"
LONG_LABEL = "a" * 70
NOT_UTF8 = b"name: concourse\nnote: caf\xe9\n"

FLY_CONFIG = """\
resources:
  - name: repo
    type: git
    source: {uri: "https://example.com/repo.git", password: ((repo_password))}
jobs:
  - name: build
    plan:
      - get: repo
        trigger: true
"""

MUTATING_BOSH = ("deploy", "delete-deployment")
MUTATING_FLY = (
    "set-pipeline",
    "pause-pipeline",
    "unpause-pipeline",
    "expose-pipeline",
    "hide-pipeline",
    "destroy-pipeline",
    "trigger-job",
    "login",
)


# ------------------------------------------------------------------------------------------------
# The world the cases run in


class RecordingRegistry(ThreadingHTTPServer):
    """Answers like a registry's /v2/ and remembers every request (none should come)."""

    def __init__(self):
        self.requests = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                recorder.requests.append((self.command, self.path))
                self.send_response(200)
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                self.end_headers()

            do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_GET

            def log_message(self, *_args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class World:
    def __init__(self, root):
        self.root = root
        self.files = root / "files"
        self.files.mkdir()
        self.bosh_state = root / "bosh-state"
        self.bosh_state.mkdir()
        (self.bosh_state / "director.yml").write_text(f"client_secret: {CLIENT_SECRET}\n")
        self.fly_state = root / "fly-state"
        self.fly_state.mkdir()
        self.fly_home = root / "fly-home"
        self.fly_home.mkdir()
        (self.fly_state / "server.yml").write_text(
            yaml.safe_dump(
                {"version": "8.2.5", "users": {"admin": FLY_PASSWORD}, "teams": {"main": ["admin"]}}
            )
        )
        self.registry = RecordingRegistry()
        threading.Thread(target=self.registry.serve_forever, daemon=True).start()
        self.web = None
        self.fly_url = None
        self._write_files()

    def _write_files(self):
        f = self.files
        (f / "not-utf8.yml").write_bytes(NOT_UTF8)
        (f / "list.yml").write_text("- a\n- b\n")
        (f / "map.yml").write_text("a: b\n")
        (f / "a-file").write_text("I am a file, not a directory\n")
        (f / "a-directory").mkdir()
        (f / "corrupt-release.tgz").write_bytes(b"\x1f\x8b\x08\x00truncated")
        (f / "pipeline.yml").write_text(FLY_CONFIG)
        (f / "ca-not-utf8.pem").write_bytes(
            b"-----BEGIN CERTIFICATE-----\n\xff\xfe\n-----END CERTIFICATE-----\n"
        )
        release_mf = f / "release.MF"
        release_mf.write_bytes(b"name: caf\xe9\nversion: 1\n")
        with tarfile.open(f / "release-not-utf8.tgz", "w:gz") as archive:
            archive.add(release_mf, arcname="release.MF")
        release_mf.unlink()

    def start_web(self):
        self.web = subprocess.Popen(
            [sys.executable, str(DOUBLES / "fly"), "double-web", "--port", "0"],
            env={**os.environ, "FLY_DOUBLE_STATE": str(self.fly_state)},
            stdout=subprocess.PIPE,
            text=True,
        )
        self.fly_url = self.web.stdout.readline().strip()
        assert self.fly_url.startswith("http://127.0.0.1:"), self.fly_url

    def stop(self):
        if self.web is not None:
            self.web.terminate()
            self.web.wait(timeout=10)
        self.registry.shutdown()
        self.registry.server_close()

    def environ(self):
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("BOSH_", "FLY_", "FAKE_FLY"))}
        environ.update(
            PATH=os.pathsep.join([str(DOUBLES), str(VENV_BIN), "/usr/bin", "/bin"]),
            BOSH_DOUBLE_STATE=str(self.bosh_state),
            FLY_DOUBLE_STATE=str(self.fly_state),
            FLY_HOME=str(self.fly_home),
            HOME=str(self.root),
        )
        return environ

    # -- what changed -----------------------------------------------------------------------------

    def calls(self, state):
        log = state / "invocations.jsonl"
        return [json.loads(line)["argv"] for line in log.read_text().splitlines()] if log.exists() else []

    def snapshot(self):
        """Everything a case could change: the files, the doubles' records, the registry's requests."""
        tree = {}
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if relative.parts[0] in ("bosh-state", "fly-state") and path.name in (
                "invocations.jsonl",
                "web.jsonl",
                "next-task",
            ):
                continue
            stat = path.lstat()
            tree[str(relative)] = (stat.st_mode, stat.st_size, stat.st_mtime_ns)
        return {
            "tree": tree,
            "bosh": len(self.calls(self.bosh_state)),
            "fly": len(self.calls(self.fly_state)),
            "registry": len(self.registry.requests),
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("bad-input"))
    w.start_web()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(w.environ())
    try:
        # One pipeline Concourse already holds, and a valid token in the flyrc.
        result = run_module("fly_pipeline", fly_args(w, vars={"repo_password": VAR_SECRET}))
        assert result.get("failed") is not True, result
        yield w
    finally:
        os.environ.clear()
        os.environ.update(saved)
        w.stop()


# ------------------------------------------------------------------------------------------------
# Running a module in-process


class UnhandledError(AssertionError):
    pass


def run_module(name, args, *, check=False):
    """The module's JSON result, as Ansible would get it; an exception escaping main() (what
    Ansible reports as "Module failed" with a traceback) fails the test."""
    payload = {
        "ANSIBLE_MODULE_ARGS": {
            **args,
            "_ansible_check_mode": check,
            "_ansible_diff": False,
            "_ansible_verbosity": 0,
            "_ansible_tmpdir": os.environ.get("TMPDIR", "/tmp"),
            "_ansible_remote_tmp": os.environ.get("TMPDIR", "/tmp"),
            "_ansible_keep_remote_files": False,
        }
    }
    basic._ANSIBLE_ARGS = json.dumps(payload).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    module = importlib.import_module(f"ansible_collections.nested.warden.plugins.modules.{name}")
    stdout = io.StringIO()
    # AnsibleModule switches the process's locale (to C where the environment names none);
    # restore it so later tests in this process keep their text encoding.
    saved_locale = locale.setlocale(locale.LC_ALL)
    try:
        with contextlib.redirect_stdout(stdout):
            module.main()
    except SystemExit:
        pass
    except Exception as err:
        raise UnhandledError(f"{name} raised {type(err).__name__}: {err}") from err
    finally:
        locale.setlocale(locale.LC_ALL, saved_locale)
        basic._ANSIBLE_ARGS = None
        for name_ in ("_global_warnings", "_global_deprecations"):
            store = getattr(ansible_warnings, name_, None)
            if hasattr(store, "clear"):
                store.clear()
    text = stdout.getvalue()
    assert text.strip(), f"{name} printed nothing"
    return json.loads(text)


def fly_args(world, **extra):
    args = {
        "concourse_url": world.fly_url,
        "target": "ci",
        "username": "admin",
        "password": FLY_PASSWORD,
        "pipeline": "nested",
        "config": str(world.files / "pipeline.yml"),
    }
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def bosh_args(world, **extra):
    args = {
        "deployment": "concourse",
        "manifest": str(SMALL_MANIFEST),
        "vars_store": str(world.root / "store" / "concourse-vars.yml"),
        "environment": DIRECTOR,
        "client": "admin",
        "client_secret": CLIENT_SECRET,
    }
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def rendered_args(world, **extra):
    return bosh_args(world, state="rendered", deployment=None, environment=None, client=None, **extra)


def registry_args(world, **extra):
    return {"url": world.registry.url, **extra}


def triggered_args(world, **extra):
    return fly_args(world, config=None, state="triggered", **extra)


# ------------------------------------------------------------------------------------------------
# The cases: (id, module, arguments from the world, the words the message must hold)


@dataclass
class Case:
    id: str
    module: str
    args: object  # callable(world) -> dict
    expect: list = field(default_factory=list)
    secret: str = ""  # must not appear anywhere in the result


def files(world, name):
    return str(world.files / name)


CASES = [
    # -- registry_check: URLs ------------------------------------------------------------------
    Case(
        "registry-url-label-over-63",
        "registry_check",
        lambda w: {"url": f"http://{LONG_LABEL}.example:5000"},
        ["url", "70 characters", "at most 63"],
    ),
    Case(
        "registry-url-host-over-253",
        "registry_check",
        lambda w: {"url": "https://" + ".".join(["a" * 60] * 5)},
        ["url", "at most 253"],
    ),
    Case(
        "registry-url-empty-label",
        "registry_check",
        lambda w: {"url": "http://registry..example:5000"},
        ["url", "empty label"],
    ),
    Case(
        "registry-url-unclosed-ipv6",
        "registry_check",
        lambda w: {"url": "http://[::1:5000"},
        ["url", "not a valid URL", "https://registry.example.com:5000"],
    ),
    Case(
        "registry-url-wrong-scheme",
        "registry_check",
        lambda w: {"url": "ftp://registry:5000"},
        ["url", "must start with http:// or https://"],
    ),
    Case(
        "registry-url-no-scheme",
        "registry_check",
        lambda w: {"url": "registry.example.com:5000"},
        ["must start with http:// or https://"],
    ),
    Case("registry-url-empty", "registry_check", lambda w: {"url": ""}, ["url must not be empty"]),
    Case(
        "registry-url-credentials",
        "registry_check",
        lambda w: {"url": "https://user:pw@registry:5000"},
        ["must not carry credentials", "username and password"],
    ),
    Case(
        "registry-url-port-out-of-range",
        "registry_check",
        lambda w: {"url": "http://127.0.0.1:99999"},
        ["invalid port"],
    ),
    Case(
        "registry-url-query",
        "registry_check",
        lambda w: {"url": "http://127.0.0.1:5000/?x=1"},
        ["must not have a query"],
    ),
    # -- registry_check: numbers ---------------------------------------------------------------
    Case(
        "registry-timeout-huge",
        "registry_check",
        lambda w: registry_args(w, timeout=1e300),
        ["timeout", "up to 86400"],
    ),
    Case(
        "registry-timeout-nan",
        "registry_check",
        lambda w: registry_args(w, timeout="nan"),
        ["timeout", "got nan"],
    ),
    Case(
        "registry-timeout-negative",
        "registry_check",
        lambda w: registry_args(w, timeout=-1),
        ["timeout must be a positive number"],
    ),
    Case(
        "registry-timeout-not-a-number",
        "registry_check",
        lambda w: registry_args(w, timeout="soon"),
        ["argument 'timeout' is of type", "float"],
    ),
    Case(
        "registry-page-size-zero",
        "registry_check",
        lambda w: registry_args(w, page_size=0),
        ["page_size must be between 1 and 1000"],
    ),
    Case(
        "registry-page-size-huge",
        "registry_check",
        lambda w: registry_args(w, page_size=10**30),
        ["page_size must be between 1 and 1000"],
    ),
    Case(
        "registry-listen-port-huge",
        "registry_check",
        lambda w: {"listen_port": 10**20},
        ["listen_port must be a TCP port (1-65535)"],
    ),
    Case(
        "registry-listen-port-zero",
        "registry_check",
        lambda w: {"listen_port": 0},
        ["listen_port must be a TCP port (1-65535)"],
    ),
    # -- registry_check: names -----------------------------------------------------------------
    Case(
        "registry-repository-upper-case",
        "registry_check",
        lambda w: registry_args(w, repository="Library/App"),
        ["not a valid repository name", "lower-case"],
    ),
    Case(
        "registry-repository-with-host-and-tag",
        "registry_check",
        lambda w: registry_args(w, repository="registry:5000/app:1.0"),
        ["not a valid repository name"],
    ),
    Case(
        "registry-repository-over-255",
        "registry_check",
        lambda w: registry_args(w, repository="/".join(["abcdefghi"] * 40)),
        ["399 characters", "longer than 255"],
    ),
    Case(
        "registry-repository-empty-component",
        "registry_check",
        lambda w: registry_args(w, repository="library//app"),
        ["not a valid repository name"],
    ),
    Case(
        "registry-tag-leading-dot",
        "registry_check",
        lambda w: registry_args(w, repository="app", tag=".hidden"),
        ["neither a tag", "not starting with '.'"],
    ),
    Case(
        "registry-tag-over-128",
        "registry_check",
        lambda w: registry_args(w, repository="app", tag="v" * 129),
        ["neither a tag", "up to 128"],
    ),
    Case(
        "registry-digest-short",
        "registry_check",
        lambda w: registry_args(w, repository="app", tag="sha256:" + "a" * 63),
        ["exactly 64", "got 63"],
    ),
    Case(
        "registry-digest-upper-case",
        "registry_check",
        lambda w: registry_args(w, repository="app", tag="sha256:" + "A" * 64),
        ["lower-case hex"],
    ),
    Case(
        "registry-digest-unknown-algorithm",
        "registry_check",
        lambda w: registry_args(w, repository="app", tag="md5:" + "a" * 32),
        ["unknown algorithm 'md5'", "sha256"],
    ),
    Case(
        "registry-tag-without-repository",
        "registry_check",
        lambda w: registry_args(w, tag="1.0"),
        ["tag", "repository"],
    ),
    # -- registry_check: files and combinations ------------------------------------------------
    Case(
        "registry-ca-not-utf8",
        "registry_check",
        lambda w: registry_args(w, ca_path=files(w, "ca-not-utf8.pem")),
        ["ca_path", "cannot load it as PEM"],
    ),
    Case(
        "registry-ca-missing",
        "registry_check",
        lambda w: registry_args(w, ca_path=files(w, "missing.pem")),
        ["ca_path", "no such file"],
    ),
    Case(
        "registry-username-without-password",
        "registry_check",
        lambda w: registry_args(w, username="admin"),
        ["required together", "username", "password"],
    ),
    Case(
        "registry-catalog-without-url",
        "registry_check",
        lambda w: {"listen_port": 5000, "catalog": True},
        ["catalog", "url"],
    ),
    # -- bosh_deploy: files that are not UTF-8 ---------------------------------------------------
    Case(
        "bosh-manifest-not-utf8",
        "bosh_deploy",
        lambda w: rendered_args(w, manifest=files(w, "not-utf8.yml")),
        ["manifest '", "not-utf8.yml", "is not UTF-8 text", "byte 0xe9", "save it as UTF-8"],
    ),
    Case(
        "bosh-ops-file-not-utf8",
        "bosh_deploy",
        lambda w: rendered_args(w, ops_files=[files(w, "not-utf8.yml")]),
        ["ops file '", "is not UTF-8 text"],
    ),
    Case(
        "bosh-vars-file-not-utf8",
        "bosh_deploy",
        lambda w: rendered_args(w, vars_files=[files(w, "not-utf8.yml")]),
        ["vars file '", "is not UTF-8 text"],
    ),
    Case(
        "bosh-vars-store-not-utf8",
        "bosh_deploy",
        lambda w: rendered_args(w, vars_store=files(w, "not-utf8.yml")),
        ["vars store '", "is not UTF-8 text"],
    ),
    Case(
        "bosh-release-manifest-not-utf8",
        "bosh_deploy",
        lambda w: rendered_args(w, release_specs=[files(w, "release-not-utf8.tgz")]),
        ["release tarball", "release.MF is not UTF-8 text"],
    ),
    Case(
        "bosh-release-tarball-corrupt",
        "bosh_deploy",
        lambda w: rendered_args(w, release_specs=[files(w, "corrupt-release.tgz")]),
        ["release tarball", "corrupt-release.tgz", "not a readable tar.gz", "download the release again"],
    ),
    # -- bosh_deploy: the vars store -----------------------------------------------------------
    Case(
        "bosh-vars-store-parent-is-a-file-rendered",
        "bosh_deploy",
        lambda w: rendered_args(w, vars_store=files(w, "a-file") + "/store.yml"),
        ["a-file is a file, not a directory", "docker_registry_password"],
    ),
    Case(
        "bosh-vars-store-parent-is-a-file-present",
        "bosh_deploy",
        lambda w: bosh_args(w, vars_store=files(w, "a-file") + "/deeper/store.yml"),
        ["a-file is a file, not a directory"],
    ),
    Case(
        "bosh-vars-store-is-a-directory",
        "bosh_deploy",
        lambda w: rendered_args(w, vars_store=files(w, "a-directory")),
        ["vars store", "a-directory", "directory"],
    ),
    Case(
        "bosh-vars-store-is-a-list",
        "bosh_deploy",
        lambda w: rendered_args(w, vars_store=files(w, "list.yml")),
        ["vars store", "expected a map of variables"],
    ),
    # -- bosh_deploy: names, addresses, options ------------------------------------------------
    Case(
        "bosh-environment-port-without-scheme",
        "bosh_deploy",
        lambda w: bosh_args(w, environment="10.244.0.6:25555"),
        ["environment '10.244.0.6:25555'", "https://HOST:PORT"],
    ),
    Case(
        "bosh-environment-ipv6-without-port",
        "bosh_deploy",
        lambda w: bosh_args(w, environment="https://[fd00::6]"),
        ["IPv6 address without a port"],
    ),
    Case(
        "bosh-environment-label-over-63",
        "bosh_deploy",
        lambda w: bosh_args(w, environment=f"https://{LONG_LABEL}.example:25555"),
        ["at most 63"],
    ),
    Case(
        "bosh-environment-wrong-scheme",
        "bosh_deploy",
        lambda w: bosh_args(w, environment="ftp://director:25555"),
        ["must start with https:// or http://"],
    ),
    Case(
        "bosh-environment-empty-port",
        "bosh_deploy",
        lambda w: bosh_args(w, environment="https://director:"),
        ["empty port"],
    ),
    Case(
        "bosh-environment-missing",
        "bosh_deploy",
        lambda w: bosh_args(w, environment=None),
        ["no BOSH director is configured", "BOSH_ENVIRONMENT"],
    ),
    Case(
        "bosh-deployment-empty",
        "bosh_deploy",
        lambda w: bosh_args(w, deployment=""),
        ["deployment must not be empty"],
    ),
    Case(
        "bosh-deployment-with-space",
        "bosh_deploy",
        lambda w: bosh_args(w, deployment="my deployment"),
        ["not a valid BOSH deployment name", "letters, digits"],
    ),
    Case(
        "bosh-deployment-other-than-manifest",
        "bosh_deploy",
        lambda w: bosh_args(w, deployment="other"),
        ["names deployment 'concourse'", "deployment is 'other'"],
    ),
    Case(
        "bosh-absent-deployment-with-slash",
        "bosh_deploy",
        lambda w: {"state": "absent", "deployment": "a/b", "environment": DIRECTOR},
        ["not a valid BOSH deployment name"],
    ),
    Case(
        "bosh-state-misspelt",
        "bosh_deploy",
        lambda w: bosh_args(w, state="presnt"),
        ["value of state must be one of: present, absent, rendered"],
    ),
    Case(
        "bosh-path-outside-rendered",
        "bosh_deploy",
        lambda w: bosh_args(w, path="/name"),
        ["'path' is only used with state=rendered"],
    ),
    Case(
        "bosh-check-properties-without-specs",
        "bosh_deploy",
        lambda w: bosh_args(w, check_properties=True),
        ["check_properties needs release_specs"],
    ),
    Case(
        "bosh-vars-not-a-dict",
        "bosh_deploy",
        lambda w: rendered_args(w, vars="a"),
        ["argument 'vars' is of type str", "dict"],
    ),
    Case(
        "bosh-recreate-not-a-bool",
        "bosh_deploy",
        lambda w: bosh_args(w, recreate="maybe", vars={"admin_password": "a"}),
        ["argument 'recreate' is of type str"],
    ),
    Case(
        "bosh-manifest-missing",
        "bosh_deploy",
        lambda w: rendered_args(w, manifest=files(w, "missing.yml")),
        ["manifest '", "missing.yml", "no such file"],
    ),
    Case(
        "bosh-ops-file-a-map",
        "bosh_deploy",
        lambda w: rendered_args(w, ops_files=[files(w, "map.yml")]),
        ["ops file", "expected a list of operations"],
    ),
    Case(
        "bosh-release-spec-missing",
        "bosh_deploy",
        lambda w: rendered_args(w, release_specs=[files(w, "no-release")]),
        ["release spec", "no such file or directory"],
    ),
    Case(
        "bosh-secret-var-stays-masked",
        "bosh_deploy",
        lambda w: bosh_args(
            w, deployment="other", vars={"admin_password": VAR_SECRET, "external_host": "10.0.0.5"}
        ),
        ["names deployment 'concourse'"],
        secret=VAR_SECRET,
    ),
    # -- fly_pipeline: names -------------------------------------------------------------------
    Case(
        "fly-pipeline-empty",
        "fly_pipeline",
        lambda w: fly_args(w, pipeline=""),
        ["pipeline must not be empty"],
    ),
    Case(
        "fly-pipeline-blank",
        "fly_pipeline",
        lambda w: fly_args(w, pipeline="   "),
        ["pipeline must not be empty"],
    ),
    Case(
        "fly-pipeline-with-slash",
        "fly_pipeline",
        lambda w: fly_args(w, pipeline="team/nested"),
        ["pipeline must be a pipeline name without '/'"],
    ),
    Case(
        "fly-pipeline-with-newline",
        "fly_pipeline",
        lambda w: fly_args(w, pipeline="nes\nted"),
        ["pipeline must not contain control characters"],
    ),
    Case("fly-target-empty", "fly_pipeline", lambda w: fly_args(w, target=""), ["target must not be empty"]),
    Case("fly-team-empty", "fly_pipeline", lambda w: fly_args(w, team=""), ["team must not be empty"]),
    Case(
        "fly-trigger-empty",
        "fly_pipeline",
        lambda w: triggered_args(w, trigger=""),
        ["state=triggered needs trigger"],
    ),
    Case(
        "fly-trigger-with-tab",
        "fly_pipeline",
        lambda w: triggered_args(w, trigger="bu\tild"),
        ["trigger must not contain control characters"],
    ),
    Case(
        "fly-trigger-unknown-job",
        "fly_pipeline",
        lambda w: triggered_args(w, trigger="deploy"),
        ["pipeline nested has no job deploy", "its jobs: build", "nothing was triggered"],
    ),
    Case(
        "fly-trigger-unknown-pipeline",
        "fly_pipeline",
        lambda w: triggered_args(w, pipeline="elsewhere", trigger="build"),
        ["pipeline elsewhere does not exist"],
    ),
    # -- fly_pipeline: the Concourse URL ---------------------------------------------------------
    Case(
        "fly-url-wrong-scheme",
        "fly_pipeline",
        lambda w: fly_args(w, concourse_url="ftp://ci.example.com"),
        ["concourse_url", "must start with http:// or https://"],
    ),
    Case(
        "fly-url-no-scheme",
        "fly_pipeline",
        lambda w: fly_args(w, concourse_url="ci.example.com:8080"),
        ["concourse_url", "must start with http"],
    ),
    Case(
        "fly-url-label-over-63",
        "fly_pipeline",
        lambda w: fly_args(w, concourse_url=f"https://{LONG_LABEL}.example"),
        ["concourse_url", "at most 63"],
    ),
    Case(
        "fly-url-unclosed-ipv6",
        "fly_pipeline",
        lambda w: fly_args(w, concourse_url="http://[::1:8080"),
        ["concourse_url", "not a valid URL"],
    ),
    Case(
        "fly-url-port-zero",
        "fly_pipeline",
        lambda w: fly_args(w, concourse_url="http://127.0.0.1:0"),
        ["concourse_url", "port 0"],
    ),
    # -- fly_pipeline: numbers and combinations --------------------------------------------------
    Case(
        "fly-timeout-huge",
        "fly_pipeline",
        lambda w: triggered_args(w, trigger="build", watch=True, timeout=10**15),
        ["timeout", "up to 604800"],
    ),
    Case(
        "fly-timeout-zero",
        "fly_pipeline",
        lambda w: triggered_args(w, trigger="build", watch=True, timeout=0),
        ["timeout must be a positive number"],
    ),
    Case(
        "fly-timeout-not-a-number",
        "fly_pipeline",
        lambda w: triggered_args(w, trigger="build", timeout="an hour"),
        ["argument 'timeout' is of type str", "int"],
    ),
    Case(
        "fly-watch-with-present",
        "fly_pipeline",
        lambda w: fly_args(w, watch=True, paused=True),
        ["watch needs state=triggered"],
    ),
    Case(
        "fly-trigger-with-present",
        "fly_pipeline",
        lambda w: fly_args(w, trigger="build"),
        ["trigger needs state=triggered"],
    ),
    Case(
        "fly-config-with-triggered",
        "fly_pipeline",
        lambda w: fly_args(w, state="triggered", trigger="build"),
        ["config belong to state=present"],
    ),
    Case(
        "fly-state-misspelt",
        "fly_pipeline",
        lambda w: fly_args(w, state="triggerd"),
        ["value of state must be one of: present, triggered, absent"],
    ),
    Case(
        "fly-username-without-password",
        "fly_pipeline",
        lambda w: fly_args(w, password=None),
        ["required together", "username", "password"],
    ),
    Case(
        "fly-vars-not-a-dict",
        "fly_pipeline",
        lambda w: fly_args(w, vars="a"),
        ["argument 'vars' is of type str", "dict"],
    ),
    # -- fly_pipeline: files -------------------------------------------------------------------
    Case(
        "fly-config-not-utf8",
        "fly_pipeline",
        lambda w: fly_args(w, config=files(w, "not-utf8.yml")),
        ["config", "is not UTF-8 text", "byte 0xe9"],
    ),
    Case(
        "fly-config-a-list",
        "fly_pipeline",
        lambda w: fly_args(w, config=files(w, "list.yml")),
        ["is invalid", "cannot unmarshal !!seq"],
    ),
    Case(
        "fly-config-missing",
        "fly_pipeline",
        lambda w: fly_args(w, config=files(w, "missing.yml")),
        ["config", "does not exist or is not a file"],
    ),
    Case(
        "fly-vars-file-not-utf8",
        "fly_pipeline",
        lambda w: fly_args(w, vars_files=[files(w, "not-utf8.yml")]),
        ["vars file", "is not UTF-8 text"],
    ),
    Case(
        "fly-vars-file-a-list",
        "fly_pipeline",
        lambda w: fly_args(w, vars_files=[files(w, "list.yml")]),
        ["vars file", "must hold a map of variables"],
    ),
    Case(
        "fly-ca-cert-not-utf8",
        "fly_pipeline",
        lambda w: fly_args(w, ca_cert=files(w, "ca-not-utf8.pem")),
        ["ca_cert", "is not UTF-8 text"],
    ),
    Case(
        "fly-secret-var-stays-masked",
        "fly_pipeline",
        lambda w: fly_args(
            w, config=files(w, "list.yml"), vars={"repo_password": VAR_SECRET, "registry": "10.0.0.5"}
        ),
        ["is invalid"],
        secret=VAR_SECRET,
    ),
]


def changed_calls(world, before):
    bosh = world.calls(world.bosh_state)[before["bosh"] :]
    fly = world.calls(world.fly_state)[before["fly"] :]
    mutating = [argv for argv in bosh if any(c in argv for c in MUTATING_BOSH) and "--dry-run" not in argv]
    mutating += [
        argv for argv in fly if any(c in argv for c in MUTATING_FLY) and not {"-d", "--dry-run"} & set(argv)
    ]
    return mutating


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_module_input_fails_with_what_where_and_how_and_changes_nothing(world, case, check):
    before = world.snapshot()
    result = run_module(case.module, case.args(world), check=check)
    text = json.dumps(result)
    assert result.get("failed") is True, text
    for words in case.expect:
        assert words in result["msg"], f"{words!r} not in {result['msg']!r}"
    assert "Traceback" not in text and "Module failed" not in text
    assert "********" not in result["msg"], result["msg"]  # no collateral masking
    if case.secret:
        assert case.secret not in text
    after = world.snapshot()
    assert changed_calls(world, before) == []
    assert after["tree"] == before["tree"]
    assert after["registry"] == before["registry"]
    assert result.get("changed") in (None, False)


def test_the_matrix_covers_every_module_with_enough_cases():
    per_module = {}
    for case in CASES:
        per_module[case.module] = per_module.get(case.module, 0) + 1
    assert min(per_module.values()) >= 15, per_module
    assert len(CASES) + len(ROLE_CASES) >= 60


# ------------------------------------------------------------------------------------------------
# The bosh double refuses the director URLs the real CLI refuses, with the CLI's words


@pytest.mark.parametrize("url", sorted(yaml.safe_load(URL_ERRORS.read_text())["errors"]))
def test_bosh_double_refuses_a_director_url_as_the_real_cli_does(tmp_path, url):
    expected = yaml.safe_load(URL_ERRORS.read_text())["errors"][url]
    proc = subprocess.run(
        [sys.executable, str(DOUBLES / "bosh"), "-n", "--json", "-e", url, "deployments"],
        env={**os.environ, "BOSH_DOUBLE_STATE": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["Lines"] == [expected, "Exit code 1"]


@pytest.mark.parametrize("url", sorted(yaml.safe_load(URL_ERRORS.read_text())["accepted"]))
def test_bosh_double_takes_a_director_url_the_real_cli_takes(tmp_path, url):
    expected = yaml.safe_load(URL_ERRORS.read_text())["accepted"][url]
    proc = subprocess.run(
        [sys.executable, str(DOUBLES / "bosh"), "-n", "--json", "-e", url, "deployments"],
        env={**os.environ, "BOSH_DOUBLE_STATE": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Using environment '{expected}' as anonymous user" in json.loads(proc.stdout)["Lines"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"- a\n- b\n", "line 1: cannot unmarshal !!seq into map[string]interface {}"),
        (b"just words\n", "line 1: cannot unmarshal !!str `just words` into map[string]interface {}"),
        (NOT_UTF8, "yaml: invalid leading UTF-8 octet"),
    ],
    ids=["list", "scalar", "not-utf8"],
)
def test_fly_double_refuses_a_config_that_is_no_map_with_flys_words(tmp_path, content, message):
    config = tmp_path / "config.yml"
    config.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, str(DOUBLES / "fly"), "validate-pipeline", "-c", str(config)],
        env={**os.environ, "FLY_DOUBLE_STATE": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: error parsing yaml before applying templates: yaml: ")
    assert message in proc.stderr


# ------------------------------------------------------------------------------------------------
# The roles' argument specs and preflights: one play per mode, a block/rescue per case


ROLE_CASES = [
    (
        "registry_fix",
        {"registry_fix_method": "magic"},
        ["registry_fix_method", "must be one of: bind, iptables, proxy"],
    ),
    ("registry_fix", {"registry_fix_port": "five thousand"}, ["registry_fix_port", "is of type str", "int"]),
    ("registry_fix", {"registry_fix_timeout": "soon"}, ["registry_fix_timeout", "float"]),
    ("registry_fix", {"registry_fix_deployment": "concourse"}, ["registry_fix_deployment", "dict"]),
    (
        "registry_fix",
        {"registry_fix_state": "gone"},
        ["registry_fix_state", "must be one of: present, absent"],
    ),
    (
        "image_build",
        {"image_build_target": "other"},
        ["image_build_target", "must be one of: runtime, warden"],
    ),
    ("image_build", {"image_build_registry": "10.0.0.5:5000"}, ["image_build_registry", "dict"]),
    (
        "image_build",
        {"image_build_registry": {"scheme": "ftp", "host_port": "r:5000"}},
        ["scheme", "must be one of: https, http", "image_build_registry"],
    ),
    (
        "image_build",
        {"image_build_registry": {"authenticated": "maybe", "host_port": "r:5000"}},
        ["authenticated", "bool", "image_build_registry"],
    ),
    (
        "image_build",
        {"image_build_push": True, "image_build_registry": {"scheme": "https"}},
        ["image_build needs image_build_registry", "host_port"],
    ),
    ("image_build", {"image_build_push": "sometimes"}, ["image_build_push", "bool"]),
    (
        "pipeline",
        {"pipeline_image_target": "cloud"},
        ["pipeline_image_target", "must be one of: warden, runtime"],
    ),
    ("pipeline", {"pipeline_paused": "perhaps"}, ["pipeline_paused", "bool"]),
    (
        "pipeline",
        {"pipeline_registry": {"scheme": "gopher"}},
        ["scheme", "must be one of: https, http", "pipeline_registry"],
    ),
    ("pipeline", {"pipeline_extra_vars": [1, 2]}, ["pipeline_extra_vars", "dict"]),
    ("concourse", {"concourse_target": "cloud"}, ["concourse_target", "must be one of: lab, director"]),
    ("concourse", {"concourse_vars": "a"}, ["concourse_vars", "dict"]),
    (
        "nested_test",
        {"nested_test_privileged": "always"},
        ["nested_test_privileged", "must be one of: auto, true, caps"],
    ),
    ("nested_test", {"nested_test_containerd_timeout": "long"}, ["nested_test_containerd_timeout", "float"]),
    ("nested_test", {"nested_test_registry": {"scheme": "file"}}, ["scheme", "nested_test_registry"]),
    (
        "report",
        {"report_stages": ["lab", "bogus"]},
        ["report_stages", "must be one or more of", "Got no match for: bogus"],
    ),
    ("lab", {"lab_state": "gone"}, ["lab_state", "must be one of: present, absent"]),
]


GROUPS = ("controller", "docker_host", "lab_containers", "concourse", "workers")


def role_play(tmp_path, out):
    tasks = [{"name": "Start with no results", "ansible.builtin.set_fact": {"__results": {}}}]
    for index, (role, variables, _expect) in enumerate(ROLE_CASES):
        tasks.append(
            {
                "name": f"case {index}",
                "block": [{"ansible.builtin.include_role": {"name": role}, "vars": variables}],
                "rescue": [
                    {
                        "ansible.builtin.set_fact": {
                            "__results": "{{ __results | combine({'"
                            + str(index)
                            + "': ansible_failed_result}) }}"
                        }
                    }
                ],
            }
        )
    tasks.append(
        {
            "name": "Keep the results",
            "ansible.builtin.copy": {
                "content": "{{ __results | to_json }}",
                "dest": str(out),
                "mode": "0600",
            },
            "check_mode": False,
            "diff": False,
        }
    )
    playbook = tmp_path / "roles.yml"
    # What the inventory gives every role (inventory/lab/group_vars/all.yml).
    inventory_vars = {
        "concourse_vars_store": str(tmp_path / "store.yml"),
        "registry_address": "127.0.0.1",
        "registry_port": 5000,
    }
    play = {"hosts": "localhost", "gather_facts": False, "vars": inventory_vars}
    playbook.write_text(yaml.safe_dump([{**play, "tasks": tasks}]))
    return playbook


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_roles_refuse_bad_variables_before_they_do_anything(tmp_path, check):
    out = tmp_path / "results.json"
    playbook = role_play(tmp_path, out)
    bosh_state = tmp_path / "bosh-state"
    bosh_state.mkdir()
    fly_state = tmp_path / "fly-state"
    fly_state.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BOSH_", "FLY_"))}
    environ.update(
        PATH=os.pathsep.join([str(DOUBLES), str(VENV_BIN), "/usr/bin", "/bin"]),
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        BOSH_DOUBLE_STATE=str(bosh_state),
        FLY_DOUBLE_STATE=str(fly_state),
        FLY_HOME=str(tmp_path),
        DOCKER_HOST="unix:///nonexistent/docker.sock",  # no case may reach a Docker engine
    )
    # The roles' defaults name the inventory's groups (the registry host is the first of
    # 'concourse'): localhost stands for every group here.
    inventory = tmp_path / "inventory.yml"
    local = {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    inventory.write_text(
        yaml.safe_dump(
            {"all": {"hosts": local, "children": {group: {"hosts": {"localhost": {}}} for group in GROUPS}}}
        )
    )
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    if check:
        argv.append("--check")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run(
        argv, cwd=PROJECT, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.exists(), proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and "Module failed" not in output
    problems = []
    for index, (role, variables, expect) in enumerate(ROLE_CASES):
        result = results.get(str(index))
        if result is None:
            problems.append(f"{role} {variables}: did not fail")
            continue
        missing = [words for words in expect if words not in result.get("msg", "")]
        if missing:
            problems.append(f"{role} {variables}: {missing} not in {result.get('msg')!r}")
    assert not problems, "\n".join(problems)
    assert not (bosh_state / "invocations.jsonl").exists()
    assert not (fly_state / "invocations.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "results.json"])


# ------------------------------------------------------------------------------------------------
# A secret in `vars` never shows, even at -vvv, while the rest of the output stays readable


def test_a_secret_in_vars_never_shows_at_vvv_and_other_values_stay_readable(world, tmp_path):
    secret = "vvv-secret-in-vars-5a0"
    tasks = [
        {
            "name": "bosh_deploy with a secret in vars, failing on the deployment name",
            "nested.warden.bosh_deploy": {
                **bosh_args(world, deployment="other"),
                "vars": {"admin_password": "{{ the_secret }}", "external_host": "10.0.0.5"},
            },
            "ignore_errors": True,
        },
        {
            "name": "fly_pipeline with a secret in vars, failing on the config",
            "nested.warden.fly_pipeline": fly_args(
                world,
                config=files(world, "list.yml"),
                vars={"repo_password": "{{ the_secret }}", "registry": "10.0.0.5"},
            ),
            "ignore_errors": True,
        },
        {
            "name": "bosh_deploy with a vars value 'a' and a type error",
            "nested.warden.bosh_deploy": {**rendered_args(world), "vars": {"v": "a"}, "fix": "perhaps"},
            "ignore_errors": True,
        },
    ]
    playbook = tmp_path / "secrets.yml"
    play = {"hosts": "localhost", "gather_facts": False, "vars": {"the_secret": secret}, "tasks": tasks}
    playbook.write_text(yaml.safe_dump([play]))
    environ = {**world.environ(), "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg")}
    argv = [
        str(VENV_BIN / "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local",
        "-e", f"ansible_python_interpreter={sys.executable}", str(playbook),
    ]  # fmt: skip
    proc = subprocess.run(
        argv, cwd=PROJECT, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    output = proc.stdout + proc.stderr
    assert "ignored=3" in output, output[-3000:]
    assert secret not in output
    assert secret not in json.dumps([c for c in world.calls(world.bosh_state) + world.calls(world.fly_state)])
    assert "10.0.0.5" in output  # values not named as secrets stay readable
    assert "argument 'fix' is of type str" in output
    # ansible-core 2.19 words every failed task "Task failed: Module failed: MSG"; an exception
    # would come with a traceback and "Module failed with exception" / "MODULE FAILURE".
    assert "Traceback" not in output
    assert "Module failed with exception" not in output and "MODULE FAILURE" not in output
