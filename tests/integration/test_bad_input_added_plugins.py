"""Bad input, as a careless user gives it, to the plugins added since the first bad-input matrix
(tests/integration/test_bad_input.py): docker_lab, throwaway_container, state_file and the lookups
vars_store and stage_result.

Every case runs in normal and in check mode and must fail with a message that names the option
and says how to fix it; nothing may be created (no Docker object carrying this run's label or
name prefix, no file or directory), no case may end in an unhandled exception, and a secret given
with the case never shows, not even at -vvv. The docker modules run in-process against the real
engine (as tests/integration/test_docker_modules.py runs them); state_file and the lookups run
through ansible-playbook, every case in one play per mode.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from ansible_collections.nested.warden.plugins.modules import (
    bosh_deploy,
    docker_lab,
    fly_pipeline,
    registry_check,
    throwaway_container,
)
from module_helpers import docker, engine_answers, run_module

PROJECT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SMALL_MANIFEST = PROJECT / "tests" / "fixtures" / "bosh" / "manifests" / "concourse-small.yml"
IMAGE = "nested-warden/debian-base:bookworm"  # built by scripts/bootstrap
PREFIX = f"nw-test-h1-{secrets.token_hex(3)}"
LABEL = "nested-warden.test-h1"
SUBNET = "172.30.83.0/24"
OCCUPIED_SUBNET = "172.30.84.0/24"  # held by a network the module fixture creates
SECRET = f"secret-{secrets.token_hex(6)}"  # given with every case; must never show


needs_docker = pytest.mark.skipif(
    not engine_answers(), reason="no Docker engine answers (make bootstrap starts one)"
)


def docker_objects():
    """Every container, network and volume this run could have made: by label or by name prefix
    (a container Docker named at random still carries the label)."""
    found = set()
    for kind, fmt, extra in (
        ("container", "{{.Names}}", ["--all"]),
        ("network", "{{.Name}}", []),
        ("volume", "{{.Name}}", []),
    ):
        for selector in (f"label={LABEL}", f"name={PREFIX}"):
            listed = docker(kind, "ls", *extra, "--filter", selector, "--format", fmt).stdout
            found.update((kind, name) for name in listed.split())
    return found


def remove_docker_objects():
    for kind, name in sorted(docker_objects()):
        argv = {"container": ["rm", "-f", "-v"], "network": ["network", "rm"], "volume": ["volume", "rm"]}[
            kind
        ]
        docker(*argv, name, check=False)


@pytest.fixture(scope="module")
def occupied_network():
    """A network of this run holding OCCUPIED_SUBNET, that a lab subnet must not overlap."""
    if not engine_answers():
        pytest.skip("no Docker engine answers")
    name = f"{PREFIX}-occupied"
    docker("network", "create", "--subnet", OCCUPIED_SUBNET, "--label", f"{LABEL}=occupied", name)
    yield name
    remove_docker_objects()


# ------------------------------------------------------------------------------------------------
# The module cases: (id, module, arguments, the words the message must hold)


@dataclass
class Case:
    id: str
    module: object
    args: dict
    expect: list = field(default_factory=list)


def lab(hosts=None, **extra):
    host = {"name": f"{PREFIX}-a", "address": "172.30.83.10", "command": ["sleep", "infinity"]}
    args = {"network": f"{PREFIX}-lab", "subnet": SUBNET, "label": LABEL, "image": IMAGE}
    args["hosts"] = [host] if hosts is None else hosts
    return {**args, **extra}


def host(**changes):
    return [{"name": f"{PREFIX}-a", "address": "172.30.83.10", "command": ["sleep", "infinity"], **changes}]


def throwaway(**extra):
    args = {
        "name": f"{PREFIX}-throwaway",
        "image": IMAGE,
        "mode": "caps",
        "labels": {LABEL: PREFIX},
        "exec": ["cat"],
        "stdin": SECRET,
    }
    return {**args, **extra}


LAB_CASES = [
    Case("lab-network-empty", docker_lab, lab(network=""), ["network ''", "letters, digits"]),
    Case(
        "lab-network-option-like", docker_lab, lab(network="-d"), ["network '-d'", "starting with a letter"]
    ),
    Case(
        "lab-network-space",
        docker_lab,
        lab(network=f"{PREFIX} lab"),
        ["network ", "is not a name Docker takes"],
    ),
    Case("lab-label-with-equals", docker_lab, lab(label="a=b"), ["label 'a=b'", "without '='"]),
    Case("lab-label-empty", docker_lab, lab(label=""), ["label ''", "is not a label key"]),
    Case(
        "lab-subnet-ipv6",
        docker_lab,
        lab(subnet="fd00:83::/64"),
        ["subnet=fd00:83::/64", "give an IPv4 subnet"],
    ),
    Case("lab-subnet-too-small", docker_lab, lab(subnet="172.30.83.8/30"), ["too small", "/29 or larger"]),
    Case("lab-subnet-host-bits", docker_lab, lab(subnet="172.30.83.1/24"), ["subnet=172.30.83.1/24", "CIDR"]),
    Case(
        "lab-subnet-overlaps-a-network",
        docker_lab,
        lab(subnet="172.30.84.0/25", hosts=host(address="172.30.84.10")),
        ["subnet=172.30.84.0/25 overlaps 172.30.84.0/24", f"{PREFIX}-occupied", "choose a subnet"],
    ),
    Case(
        "lab-unknown-capability",
        docker_lab,
        lab(hosts=host(capabilities=["NET_ADMINN"])),
        ["hosts[0].capabilities[0] 'NET_ADMINN' is not a Linux capability", "NET_ADMIN"],
    ),
    Case(
        "lab-security-opt-without-value",
        docker_lab,
        lab(hosts=host(security_opts=["apparmor"])),
        ["hosts[0].security_opts[0] 'apparmor'", "KEY=VALUE"],
    ),
    Case(
        "lab-seccomp-profile-missing",
        docker_lab,
        lab(hosts=host(security_opts=["seccomp=/nonexistent/profile.json"])),
        ["hosts[0].security_opts[0]", "seccomp profile /nonexistent/profile.json does not exist"],
    ),
    Case(
        "lab-command-empty-program",
        docker_lab,
        lab(hosts=host(command=["", "x"])),
        ["hosts[0].command", "empty"],
    ),
    Case(
        "lab-host-name-empty", docker_lab, lab(hosts=host(name="")), ["hosts[0].name ''", "letters, digits"]
    ),
    Case("lab-host-name-option-like", docker_lab, lab(hosts=host(name="-rm")), ["hosts[0].name '-rm'"]),
    Case("lab-hostname-space", docker_lab, lab(hosts=host(hostname="a b")), ["hosts[0].hostname 'a b'"]),
    Case(
        "lab-hosts-a-string", docker_lab, lab(hosts="abc"), ["hosts must be a list of mappings, not a string"]
    ),
    Case("lab-host-a-string", docker_lab, lab(hosts=["abc"]), ["hosts[0] must be a mapping", "address"]),
    Case(
        "lab-nul-in-command",
        docker_lab,
        lab(hosts=host(command=["sleep", "in\x00f"])),
        ["hosts[0].command[1]", "NUL"],
    ),
    Case("lab-image-empty", docker_lab, lab(image=""), ["image is empty"]),
    Case(
        "lab-absent-network-empty",
        docker_lab,
        {"network": "", "label": LABEL, "state": "absent"},
        ["network ''"],
    ),
    Case(
        "lab-absent-label-empty",
        docker_lab,
        {"network": f"{PREFIX}-lab", "label": "", "state": "absent"},
        ["label ''"],
    ),
]

THROWAWAY_CASES = [
    Case("throwaway-name-empty", throwaway_container, throwaway(name=""), ["name ''", "letters, digits"]),
    Case("throwaway-name-option-like", throwaway_container, throwaway(name="-d"), ["name '-d'"]),
    Case("throwaway-name-space", throwaway_container, throwaway(name="a b"), ["name 'a b'"]),
    Case("throwaway-image-empty", throwaway_container, throwaway(image=""), ["image ''", "image reference"]),
    Case(
        "throwaway-exec-empty", throwaway_container, throwaway(exec=[]), ["exec is empty", "give the command"]
    ),
    Case(
        "throwaway-exec-empty-program",
        throwaway_container,
        throwaway(exec=[""]),
        ["exec starts with an empty"],
    ),
    Case(
        "throwaway-command-empty-program",
        throwaway_container,
        throwaway(command=[" "]),
        ["command starts with"],
    ),
    Case(
        "throwaway-unknown-cap-add",
        throwaway_container,
        throwaway(caps={"cap_add": ["FOO"]}),
        ["caps.cap_add[0] 'FOO' is not a Linux capability"],
    ),
    Case(
        "throwaway-unknown-cap-drop",
        throwaway_container,
        throwaway(caps={"cap_drop": ["SYS_RESOURCES"]}),
        ["caps.cap_drop[0] 'SYS_RESOURCES'"],
    ),
    Case(
        "throwaway-bad-security-opt",
        throwaway_container,
        throwaway(caps={"security_opts": ["foo=bar"]}),
        ["caps.security_opts[0] 'foo=bar'", "apparmor=unconfined"],
    ),
    Case(
        "throwaway-caps-a-string",
        throwaway_container,
        throwaway(caps="ALL"),
        ["caps must be a mapping", "cap_add"],
    ),
    Case(
        "throwaway-volume-a-string",
        throwaway_container,
        throwaway(volume="/data"),
        ["volume must be a mapping"],
    ),
    Case(
        "throwaway-volume-target-relative",
        throwaway_container,
        throwaway(volume={"target": "data"}),
        ["volume.target 'data' is not an absolute path"],
    ),
    Case(
        "throwaway-volume-source-bad-name",
        throwaway_container,
        throwaway(volume={"target": "/data", "source": "a/b"}),
        ["volume.source 'a/b'"],
    ),
    Case(
        "throwaway-network-bad-name", throwaway_container, throwaway(network="no net"), ["network 'no net'"]
    ),
    Case(
        "throwaway-label-key-with-space",
        throwaway_container,
        throwaway(labels={LABEL: PREFIX, "a b": "c"}),
        ["labels key 'a b'"],
    ),
    Case(
        "throwaway-tail-path-relative",
        throwaway_container,
        throwaway(tail_path="log.txt"),
        ["tail_path 'log.txt' is not an absolute path"],
    ),
    Case(
        "throwaway-nul-in-exec", throwaway_container, throwaway(exec=["echo", "a\x00b"]), ["exec[1]", "NUL"]
    ),
    Case("throwaway-timeout-zero", throwaway_container, throwaway(timeout=0), ["timeout=0", "above 0"]),
]

MODULE_CASES = LAB_CASES + THROWAWAY_CASES


@needs_docker
@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("case", MODULE_CASES, ids=[c.id for c in MODULE_CASES])
def test_bad_docker_module_input_fails_naming_the_option_and_creates_nothing(occupied_network, case, check):
    before = docker_objects()
    try:
        result = run_module(case.module, case.args, check_mode=check)
    finally:
        after = docker_objects()
        remove_docker_objects_since(before, after)
    text = json.dumps(result)
    assert result.get("failed") is True, text
    for words in case.expect:
        assert words in result["msg"], f"{words!r} not in {result['msg']!r}"
    assert "Traceback" not in text and "Module failed" not in text
    assert SECRET not in text
    assert after == before, f"left behind: {sorted(after - before)}"
    assert result.get("changed") in (None, False)


def remove_docker_objects_since(before, after):
    for kind, name in sorted(after - before):
        argv = {"container": ["rm", "-f", "-v"], "network": ["network", "rm"], "volume": ["volume", "rm"]}[
            kind
        ]
        docker(*argv, name, check=False)


@pytest.fixture
def unreadable_seccomp_profile(tmp_path):
    """A seccomp profile file that exists but is no JSON: only the docker CLI, when it runs the
    container, finds that out; the modules' checks before the first change cannot."""
    path = tmp_path / "seccomp.json"
    path.write_text("this is not a seccomp profile\n")
    return f"seccomp={path}"


@needs_docker
def test_a_lab_the_engine_refuses_after_the_network_was_made_is_undone(
    occupied_network, unreadable_seccomp_profile
):
    """The network and the first host this run created are removed again when the second host
    fails, and the message says so."""
    second = {"name": f"{PREFIX}-b", "address": "172.30.83.11", "security_opts": [unreadable_seccomp_profile]}
    before = docker_objects()
    try:
        result = run_module(docker_lab, lab(hosts=[*host(), second]))
    finally:
        after = docker_objects()
        remove_docker_objects_since(before, after)
    assert result.get("failed") is True, result
    assert f"lab host {PREFIX}-b" in result["msg"] and "Removed what this run had created" in result["msg"]
    assert f"network {PREFIX}-lab" in result["msg"] and f"container {PREFIX}-a" in result["msg"]
    assert after == before, f"left behind: {sorted(after - before)}"


@needs_docker
def test_a_throwaway_container_the_engine_refuses_to_start_is_not_left_behind(
    occupied_network, unreadable_seccomp_profile
):
    before = docker_objects()
    try:
        result = run_module(
            throwaway_container, throwaway(caps={"security_opts": [unreadable_seccomp_profile]})
        )
    finally:
        after = docker_objects()
        remove_docker_objects_since(before, after)
    assert result.get("failed") is True, result
    assert f"container {PREFIX}-throwaway" in result["msg"]
    assert SECRET not in json.dumps(result)
    assert after == before, f"left behind: {sorted(after - before)}"


def test_the_module_matrix_has_enough_cases_per_module():
    assert len(LAB_CASES) >= 15 and len(THROWAWAY_CASES) >= 15


def test_a_vars_store_under_proc_fails_in_check_mode_too():
    """bosh_deploy would generate a variable into a store under /proc: check mode must not
    promise it (it said "changed", and the run failed)."""
    args = {
        "state": "rendered",
        "manifest": str(SMALL_MANIFEST),
        "vars_store": f"/proc/{PREFIX}/concourse-vars.yml",
    }
    for check in (True, False):
        result = run_module(bosh_deploy, args, check_mode=check)
        assert result.get("failed") is True, result
        assert "/proc" in result["msg"] and "kernel filesystem" in result["msg"]
    assert not Path(f"/proc/{PREFIX}").exists()


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize(
    ("module", "args", "option"),
    [
        (bosh_deploy, {"state": "rendered", "manifest": f"{SMALL_MANIFEST}\x00"}, "manifest"),
        (
            bosh_deploy,
            {"state": "rendered", "manifest": str(SMALL_MANIFEST), "vars_store": "/tmp/a\x00.yml"},
            "vars_store",
        ),
        (
            fly_pipeline,
            {"concourse_url": "http://127.0.0.1:9", "target": "t", "pipeline": "p", "config": "/a\x00"},
            "config",
        ),
        (registry_check, {"url": "http://127.0.0.1:9", "ca_path": "/a\x00.pem"}, "ca_path"),
    ],
    ids=["bosh-manifest", "bosh-vars-store", "fly-config", "registry-ca-path"],
)
def test_a_nul_byte_in_a_path_option_of_the_original_modules_is_named_not_raised(module, args, option, check):
    """They raised ValueError "embedded null byte" (bosh_deploy's manifest, registry_check's ca_path)."""
    result = run_module(module, args, check_mode=check)
    assert result.get("failed") is True, result
    assert result["msg"] == f"{option} contains a NUL byte (\\x00); remove it"


# ------------------------------------------------------------------------------------------------
# state_file and the lookups, through ansible-playbook


BAD_YAML = f'name: concourse\npassword: "{SECRET}\n  : [x\n'


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input-added")
    (root / "a-file").write_text("a file, not a directory\n")
    (root / "a-directory").mkdir()
    (root / "a-directory" / "inside.txt").write_text("kept\n")
    stores = root / "stores"
    stores.mkdir()
    (stores / "bad-yaml.yml").write_text(BAD_YAML)
    (stores / "tab.yml").write_text(f"password: {SECRET}\n\tother: 1\n")
    (stores / "alias.yml").write_text(f"password: *{SECRET}\n")
    (stores / "escape.yml").write_text(f'password: "\\q{SECRET}"\n')
    (stores / "list.yml").write_text(f"- {SECRET}\n")
    (stores / "scalar.yml").write_text(f"{SECRET}\n")
    (stores / "not-utf8.yml").write_bytes(b"password: caf\xe9\n")
    (stores / "good.yml").write_text(f"password: {SECRET}\n")
    (stores / "a-directory").mkdir()
    states = root / "states"
    for name, content in {
        "bad-json": f'{{"status": "passed", "outputs": {{"token": "{SECRET}"',
        "not-utf8": b'{"status": "caf\xe9"}',
        "a-list": f'["{SECRET}"]',
        "no-status": f'{{"outputs": {{"token": "{SECRET}"}}}}',
        "no-output": '{"status": "passed", "reason": "", "outputs": {}}',
        "empty": None,
    }.items():
        (states / name / "results").mkdir(parents=True)
        if isinstance(content, bytes):
            (states / name / "results" / "lab.json").write_bytes(content)
        elif content is not None:
            (states / name / "results" / "lab.json").write_text(content)
    (states / "results-a-file").mkdir()
    (states / "results-a-file" / "results").write_text("not a directory\n")
    (states / "record-a-directory" / "results" / "lab.json").mkdir(parents=True)
    return root


# (id, path relative to the files root or absolute, extra task options, words)
STATE_FILE_CASES = [
    ("state-file-nul-in-path", "{root}/new/a\x00b.txt", {}, ["path contains a NUL byte", "remove it"]),
    ("state-file-under-proc", f"/proc/{PREFIX}/file.txt", {}, ["under /proc", "choose another path"]),
    ("state-file-under-proc-existing", "/proc/version", {}, ["under /proc", "kernel filesystem"]),
    ("state-file-under-sys", f"/sys/{PREFIX}/file.txt", {}, ["under /sys", "choose another path"]),
    ("state-file-parent-is-a-file", "{root}/a-file/file.txt", {}, ["a-file exists and is not a directory"]),
    (
        "state-file-deeper-parent-is-a-file",
        "{root}/a-file/x/y/file.txt",
        {},
        ["a-file exists and is not a directory"],
    ),
    (
        "state-file-path-is-a-directory",
        "{root}/a-directory",
        {},
        ["a-directory exists and is not a regular file"],
    ),
    (
        "state-file-mode-symbolic",
        "{root}/new/m1.txt",
        {"mode": "u=rw"},
        ["mode must be an octal string", "'0600'"],
    ),
    (
        "state-file-mode-five-digits",
        "{root}/new/m2.txt",
        {"mode": "10644"},
        ["mode must be an octal string of 3 or 4"],
    ),
    (
        "state-file-mode-eight",
        "{root}/new/m3.txt",
        {"mode": "0680"},
        ["mode must be an octal string", "(0-7)"],
    ),
    ("state-file-mode-a-number", "{root}/new/m4.txt", {"mode": 420}, ["mode must be a quoted octal string"]),
    (
        "state-file-directory-mode-unusable",
        "{root}/new/locked/file.txt",
        {"directory_mode": "0400"},
        ["directory_mode '0400'", "without write and search permission", "'0700'"],
    ),
    (
        "state-file-directory-mode-no-search",
        "{root}/new/nosearch/file.txt",
        {"directory_mode": "0600"},
        ["directory_mode '0600'", "'0700'"],
    ),
    (
        "state-file-directory-mode-text",
        "{root}/new/d/file.txt",
        {"directory_mode": "rwx"},
        ["directory_mode must be"],
    ),
    ("state-file-name-too-long", "{root}/new/" + "n" * 300, {}, ["300 characters", "255 bytes per name"]),
    (
        "state-file-content-a-mapping",
        "{root}/new/c1.txt",
        {"content": {"a": 1}},
        ["content must be text, not a mapping"],
    ),
    ("state-file-content-null", "{root}/new/c2.txt", {"content": None}, ["content must be text, not null"]),
    ("state-file-empty-path", "", {}, ["path must not be empty"]),
    ("state-file-unknown-option", "{root}/new/u.txt", {"owner": "root"}, ["Invalid options", "owner"]),
]


def lookup_task(name, expression):
    return {"name": name, "ansible.builtin.debug": {"msg": "{{ " + expression + " }}"}, "ignore_errors": True}


def vs(file, path="'/password'", **options):
    extra = "".join(f", {key}={value}" for key, value in options.items())
    return f"lookup('nested.warden.vars_store', {path}, file={file}{extra})"


def sr(state_dir, stage="'lab'", **options):
    extra = "".join(f", {key}={value}" for key, value in options.items())
    return f"lookup('nested.warden.stage_result', {stage}, state_dir={state_dir}{extra})"


# (id, lookup expression with {root}, words); every file here that holds a value holds SECRET
VARS_STORE_CASES = [
    (
        "vars-store-bad-yaml",
        vs("'{root}/stores/bad-yaml.yml'"),
        ["bad-yaml.yml' line", "column", "not valid YAML"],
    ),
    ("vars-store-tab", vs("'{root}/stores/tab.yml'"), ["tab.yml' line 2 column 1", "fix the file"]),
    ("vars-store-undefined-alias", vs("'{root}/stores/alias.yml'"), ["alias.yml' line 1", "undefined alias"]),
    ("vars-store-bad-escape", vs("'{root}/stores/escape.yml'"), ["escape.yml' line 1", "escape"]),
    (
        "vars-store-a-list",
        vs("'{root}/stores/list.yml'"),
        ["list.yml' holds a list, not a mapping", "point file="],
    ),
    ("vars-store-a-scalar", vs("'{root}/stores/scalar.yml'"), ["holds a string, not a mapping"]),
    (
        "vars-store-not-utf8",
        vs("'{root}/stores/not-utf8.yml'"),
        ["not-utf8.yml'", "not UTF-8", "save it as UTF-8"],
    ),
    (
        "vars-store-a-directory",
        vs("'{root}/stores/a-directory'"),
        ["a-directory' is not a file", "give the path"],
    ),
    (
        "vars-store-missing",
        vs("'{root}/stores/none.yml'"),
        ["none.yml does not exist", "run the concourse stage"],
    ),
    (
        "vars-store-file-a-list",
        vs("['{root}/stores/good.yml']"),
        ["vars_store: file must be a string, not a list"],
    ),
    ("vars-store-file-a-number", vs("5"), ["vars_store: file must be a string, not a number"]),
    ("vars-store-file-empty", vs("''"), ["vars_store: file is empty"]),
    ("vars-store-file-nul", vs("'{root}/stores/good.yml' + nul"), ["contains a NUL byte", "remove it"]),
    ("vars-store-path-no-slash", vs("'{root}/stores/good.yml'", path="'password'"), ["must start with /"]),
    (
        "vars-store-path-root",
        vs("'{root}/stores/good.yml'", path="'/'"),
        ["must start with / and name a variable"],
    ),
    (
        "vars-store-path-missing",
        vs("'{root}/stores/good.yml'", path="'/pasword'"),
        ["has no /pasword (it has: /password)"],
    ),
]

STAGE_RESULT_CASES = [
    (
        "stage-result-state-dir-a-file",
        sr("'{root}/a-file'"),
        ["a-file is a file, not a directory", "nested_warden_state_dir"],
    ),
    (
        "stage-result-results-a-file",
        sr("'{root}/states/results-a-file'"),
        ["results is a file, not a directory"],
    ),
    ("stage-result-state-dir-empty", sr("''"), ["state_dir is empty", "nested_warden_state_dir"]),
    (
        "stage-result-state-dir-a-list",
        sr("['{root}']"),
        ["stage_result: state_dir must be a string, not a list"],
    ),
    ("stage-result-state-dir-nul", sr("'{root}' + nul"), ["contains a NUL byte"]),
    (
        "stage-result-kind-a-number",
        sr("'{root}/states/empty'", kind=3),
        ["stage_result: kind must be a string"],
    ),
    (
        "stage-result-kind-unknown",
        sr("'{root}/states/empty'", kind="'newest'"),
        ["kind must be latest or fixed"],
    ),
    (
        "stage-result-output-a-number",
        sr("'{root}/states/empty'", output=5),
        ["stage_result: output must be a string"],
    ),
    (
        "stage-result-stage-not-a-name",
        sr("'{root}/states/empty'", stage="'Lab!'"),
        ["'Lab!' is not a stage name", "lab,"],
    ),
    ("stage-result-stage-a-number", sr("'{root}/states/empty'", stage="5"), ["5 is not a stage name"]),
    (
        "stage-result-bad-json",
        sr("'{root}/states/bad-json'"),
        ["lab.json is not valid JSON (line 1 column", "delete it"],
    ),
    ("stage-result-not-utf8", sr("'{root}/states/not-utf8'"), ["is not UTF-8 text", "delete it"]),
    ("stage-result-a-list", sr("'{root}/states/a-list'"), ["is not a stage result; delete it"]),
    ("stage-result-no-status", sr("'{root}/states/no-status'"), ["is not a stage result; delete it"]),
    (
        "stage-result-record-a-directory",
        sr("'{root}/states/record-a-directory'"),
        ["is a directory, not a file"],
    ),
    ("stage-result-none-recorded", sr("'{root}/states/empty'"), ["no result of the lab stage", "--tags lab"]),
    (
        "stage-result-no-such-output",
        sr("'{root}/states/no-output'", output="'endpoint'"),
        ["has no output 'endpoint'"],
    ),
]


def state_file_task(name, path, options, root):
    args = {"path": path.format(root=root), "content": "{{ the_secret }}\n", **options}
    return {"name": name, "nested.warden.state_file": args, "ignore_errors": True}


def matrix_tasks(root):
    tasks = [state_file_task(name, path, options, root) for name, path, options, _ in STATE_FILE_CASES]
    for name, expression, _ in VARS_STORE_CASES + STAGE_RESULT_CASES:
        tasks.append(lookup_task(name, expression.format(root=root)))
    return tasks


def run_playbook(root, tasks, *options, callback="ansible.posix.json"):
    """ansible-playbook of one play with tasks; ({task name: result} or None, the process)."""
    path = root / f"playbook-{secrets.token_hex(3)}.yml"
    # The secret comes from a variable, as in a real play (the task's own text is shown at -vvv).
    play_vars = {"the_secret": SECRET, "nul": "\x00"}
    play = {"hosts": "localhost", "gather_facts": False, "vars": play_vars, "tasks": tasks}
    path.write_text(yaml.safe_dump([play]))
    argv = [str(VENV_BIN / "ansible-playbook"), str(path), "-i", "localhost,", "-c", "local"]
    argv += ["-e", f"ansible_python_interpreter={sys.executable}", *options]
    environ = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK=callback)
    environ.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    environ["PATH"] = os.pathsep.join([str(VENV_BIN), environ.get("PATH", "")])
    proc = subprocess.run(
        argv, cwd=root, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    if callback != "ansible.posix.json":
        return None, proc
    assert proc.stdout.lstrip().startswith("{"), proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    results = {
        task["task"]["name"]: task["hosts"]["localhost"]
        for play in document["plays"]
        for task in play["tasks"]
    }
    return results, proc


def tree(root):
    return sorted(
        str(path.relative_to(root)) for path in root.rglob("*") if not path.name.startswith("playbook-")
    )


@pytest.fixture(scope="module", params=[False, True], ids=["run", "check"])
def played(request, files):
    before = tree(files)
    results, proc = run_playbook(files, matrix_tasks(files), *(["--check"] if request.param else []))
    return results, proc, before, tree(files)


PLAYBOOK_CASES = [(name, words) for name, _, _, words in STATE_FILE_CASES]
PLAYBOOK_CASES += [(name, words) for name, _, words in VARS_STORE_CASES + STAGE_RESULT_CASES]


@pytest.mark.parametrize(("name", "words"), PLAYBOOK_CASES, ids=[name for name, _ in PLAYBOOK_CASES])
def test_bad_state_file_and_lookup_input_fails_naming_the_option_and_the_fix(played, name, words):
    results, proc, _, _ = played
    result = results[name]
    text = json.dumps(result)
    assert result.get("failed") is True, text
    message = result["msg"]
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "Traceback" not in text and "embedded null byte" not in message
    assert not message.startswith(("Unexpected failure", "An unhandled exception"))
    assert SECRET not in text
    assert result.get("changed") in (None, False)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_the_bad_playbook_input_creates_nothing(played):
    _, _, before, after = played
    assert after == before
    assert not Path(f"/proc/{PREFIX}").exists() and not Path(f"/sys/{PREFIX}").exists()


def test_the_playbook_matrix_has_enough_cases_per_plugin():
    assert min(len(STATE_FILE_CASES), len(VARS_STORE_CASES), len(STAGE_RESULT_CASES)) >= 15


def test_a_four_digit_octal_mode_is_written_and_check_mode_predicts_it(files):
    """'4755' was refused as "not octal"."""
    target = files / "modes" / "setuid.txt"
    task = {
        "name": "four digits",
        "nested.warden.state_file": {"path": str(target), "content": "x\n", "mode": "4755"},
    }
    predicted, _ = run_playbook(files, [task], "--check")
    assert predicted["four digits"]["changed"] is True and not target.parent.exists()
    written, _ = run_playbook(files, [task])
    assert written["four digits"]["changed"] is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o4755
    shutil.rmtree(target.parent)


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_no_secret_shows_at_vvv_in_any_case(files, check):
    """Every state_file and lookup case, and the docker modules' cases that reach Ansible's
    argument handling, at -vvv: the secret in their content, files and stdin never shows."""
    tasks = matrix_tasks(files)
    for case in (THROWAWAY_CASES[0], THROWAWAY_CASES[4], THROWAWAY_CASES[10], THROWAWAY_CASES[17]):
        args = dict(case.args, stdin="{{ the_secret }}")
        tasks.append({"name": case.id, "nested.warden.throwaway_container": args, "ignore_errors": True})
    _, proc = run_playbook(files, tasks, "-vvv", *(["--check"] if check else []), callback="default")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "failed=0" in output and "ignored=" in output, output[-3000:]
    assert SECRET not in output
    assert "Traceback" not in output and "embedded null byte" not in output
    assert "Module failed with exception" not in output and "MODULE FAILURE" not in output
