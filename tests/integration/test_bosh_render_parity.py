"""The built-in renderer against the real `bosh interpolate`, case by case.

Runs where a real bosh CLI is found: NESTED_WARDEN_REAL_BOSH, or `bosh` on PATH (the test double
in tests/doubles is recognised and refused: it has no `--version`). Each case renders with both
and requires the same output text, or the same error text (bosh's own wording), except where
this project reports a file problem in its own words (which file, which line): there both must
fail on the same file.

Variables go to bosh the way bosh_deploy passes them: a YAML file (-l) written by the renderer's
dumper; the renderer gets the same dict.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible.module_utils import bosh_manifest as bm
from cryptography import x509

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "bosh"
LAB_MANIFEST = PROJECT / "manifests" / "concourse-lab.yml"
LAB_VARS = {"external_host": "10.0.0.5", "docker_registry_host": "10.0.0.5", "concourse_version": "7.11.2"}


def find_real_bosh():
    candidate = os.environ.get("NESTED_WARDEN_REAL_BOSH") or shutil.which("bosh")
    if not candidate:
        return None
    try:
        proc = subprocess.run(
            [candidate, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return candidate if proc.returncode == 0 and proc.stdout.startswith("version ") else None


REAL_BOSH = find_real_bosh()
pytestmark = pytest.mark.skipif(
    REAL_BOSH is None,
    reason="no real bosh CLI: put one on PATH or set NESTED_WARDEN_REAL_BOSH (the Go module proxy here "
    "refuses github.com/cloudfoundry/bosh-cli, so scripts/bootstrap cannot install it)",
)

FLAG_PREFIX = "invalid argument for flag `-o, --ops-file' (expected []opts.OpsFileArg): "


class Case:
    def __init__(self, tmp_path, manifest, ops=(), *, variables=None, path=None, store=None, vars_files=()):
        self.dir = tmp_path
        self.manifest = self._file("manifest.yml", manifest) if isinstance(manifest, str) else str(manifest)
        self.ops = [
            self._file(f"ops{i}.yml", op) if isinstance(op, str) else str(op) for i, op in enumerate(ops)
        ]
        self.variables = variables
        self.vars_files = [str(p) for p in vars_files]
        self.path = path
        self.store = store

    def _file(self, name, text):
        path = self.dir / name
        path.write_text(text)
        return str(path)

    def bosh(self, store=None):
        argv = [REAL_BOSH, "interpolate", self.manifest]
        for op in self.ops:
            argv += ["-o", op]
        for path in self.vars_files:
            argv += ["-l", path]
        if self.variables is not None:
            argv += ["-l", self._file("vars-for-bosh.yml", bm.dump_yaml(self.variables))]
        if store or self.store:
            argv += ["--vars-store", str(store or self.store)]
        if self.path:
            argv += ["--path", self.path]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def ours(self, store=None):
        return bm.render(
            self.manifest,
            ops_files=self.ops,
            vars_files=self.vars_files,
            variables=self.variables,
            vars_store=str(store or self.store) if (store or self.store) else None,
            path=self.path,
        )


def assert_same(case):
    real = case.bosh()
    try:
        result = case.ours()
    except bm.BoshFileError as err:
        # Our words for file problems; bosh must fail too, on the same line when it names one.
        assert real.returncode == 1, f"bosh succeeded where ours failed: {err}"
        # yaml.v2 counts lines from 1 for scanner errors and from 0 for parser errors.
        line = re.search(r"yaml: line (\d+):", real.stderr)
        if line:
            assert err.line in (int(line.group(1)), int(line.group(1)) + 1), (str(err), real.stderr)
        return
    except bm.BoshError as err:
        assert real.returncode == 1, f"bosh succeeded where ours failed: {err.multiline()}"
        message = real.stderr.removesuffix("\n").removesuffix("Exit code 1").removesuffix("\n")
        if message.startswith(FLAG_PREFIX):
            assert str(err) == message.removeprefix(FLAG_PREFIX)
        else:
            assert err.multiline() == message
        return
    assert real.returncode == 0, f"ours succeeded where bosh failed: {real.stderr}"
    if case.path and isinstance(result.value, str):
        assert real.stdout == result.value + "\n"
    else:
        assert real.stdout == bm.dump_yaml(result.value if case.path else result.manifest)


# ------------------------------------------------------------------------------------------------
# The project's own manifests and ops files


@pytest.fixture
def lab_store(tmp_path):
    """A filled vars store, so both renderers interpolate the same generated values."""
    store = tmp_path / "store.yml"
    bm.render(
        str(LAB_MANIFEST),
        ops_files=[str(PROJECT / "ops-files" / "docker-registry.yml")],
        variables=LAB_VARS,
        vars_store=str(store),
    )
    return store


@pytest.mark.parametrize(
    "ops",
    [
        [],
        ["ops-files/docker-registry.yml"],
        ["ops-files/docker-registry-open.yml"],
        ["ops-files/seed/docker-registry-seed.yml"],
        ["ops-files/docker-registry-open.yml", "ops-files/docker-registry.yml"],
    ],
)
def test_project_manifest_and_ops_files_render_identically(tmp_path, lab_store, ops):
    assert_same(Case(tmp_path, LAB_MANIFEST, [PROJECT / o for o in ops], variables=LAB_VARS, store=lab_store))


@pytest.mark.parametrize(
    "ops", [["seed-ops/gen1-wrong-job-name.yml"], ["seed-ops/gen3-proxy-and-nfs-under-registry.yml"]]
)
def test_test_fixtures_render_identically(tmp_path, ops):
    manifest = FIXTURES / "manifests" / "concourse-small.yml"
    assert_same(Case(tmp_path, manifest, [FIXTURES / o for o in ops], variables={"external_host": "h"}))


def test_registry_password_path_reads_the_same_from_the_store(tmp_path, lab_store):
    assert_same(Case(tmp_path, lab_store, path="/docker_registry_password"))
    assert_same(Case(tmp_path, lab_store, path="/docker_registry_certificate/certificate"))
    assert_same(Case(tmp_path, lab_store, path="/docker_registry_certificate"))


# ------------------------------------------------------------------------------------------------
# Tricky ops

BASE = """\
name: d
instance_groups:
- name: a
  jobs:
  - {name: j1, release: r}
  - {name: j2, release: r}
- name: b
  jobs: []
list: [1, 2, 3]
items: [{id: 1}, {id: '1'}]
"""

OPS_CASES = [
    "- {type: replace, path: /list/-1, value: x}",
    "- {type: replace, path: /list/3, value: x}",
    "- {type: replace, path: /list/-3, value: x}",
    "- {type: replace, path: /list/-4, value: x}",
    "- {type: replace, path: /list/0:before, value: x}",
    "- {type: replace, path: /list/2:after, value: x}",
    "- {type: replace, path: /list/1:prev, value: x}",
    "- {type: replace, path: /list/0:prev, value: x}",
    "- {type: replace, path: /list/0:next:before, value: x}",
    "- {type: replace, path: /list/0:before:next, value: x}",
    "- {type: replace, path: /list/0:bogus, value: x}",
    "- {type: replace, path: /list/-, value: {a: b}}",
    "- {type: replace, path: /list/-/x, value: x}",
    "- {type: replace, path: /list/-:before, value: x}",
    "- {type: replace, path: /list/+1, value: y}",
    "- {type: replace, path: /list/01, value: y}",
    '- {type: replace, path: "/list/1?", value: y}',
    "- {type: replace, path: /nope/x, value: x}",
    "- {type: replace, path: /nope, value: x}",
    '- {type: replace, path: "/nope?", value: x}',
    '- {type: replace, path: "/nope?/x/y", value: x}',
    '- {type: replace, path: "/nope?/0", value: x}',
    '- {type: replace, path: "/nope?/-", value: x}',
    '- {type: replace, path: "/nope?/name=z/v", value: x}',
    '- {type: replace, path: "/instance_groups/name=c?/jobs/-", value: {name: j3}}',
    '- {type: replace, path: "/instance_groups/name=a/jobs/name=j1?/properties?/x", value: 1}',
    "- {type: replace, path: /instance_groups/name=a/jobs/name=j1:after, value: {name: j0}}",
    "- {type: replace, path: /instance_groups/name=a/jobs/name=j2:prev/release, value: q}",
    "- {type: replace, path: /instance_groups/name=a/jobs/name=j9, value: {name: j0}}",
    "- {type: replace, path: /instance_groups/release=r, value: {name: j0}}",
    "- {type: replace, path: /instance_groups/name=a/jobs/release=r/x, value: 1}",
    '- {type: replace, path: "/items/id=1/x?", value: matched-the-string-only}',
    "- {type: replace, path: /instance_groups/name=a/name/x, value: 1}",
    "- {type: replace, path: /name/0, value: 1}",
    '- {type: replace, path: "", value: {whole: doc}}',
    '- {type: replace, path: "/a~1b~0c~7d?", value: 1}',
    '- {type: replace, path: "/k:v", value: 1}',
    '- {type: replace, path: "/n=1?/x", value: 1}',
    '- {type: replace, path: "/", value: empty-key}',
    '- {type: remove, path: ""}',
    "- {type: remove, path: /list/1}",
    "- {type: remove, path: /list/-1}",
    "- {type: remove, path: /list/9}",
    '- {type: remove, path: "/nope?/x"}',
    '- {type: remove, path: "/instance_groups/name=zz?"}',
    "- {type: remove, path: /instance_groups/name=a/jobs/name=j2}",
    "- {type: remove, path: /instance_groups/name=a/jobs/-}",
    "- {type: remove, path: /instance_groups/name=a/jobs/0/nope}",
    "- {type: remove, path: /list/1, value: x}",
    "- {type: replace, path: /x}",
    "- {type: replace, path: /x, value: ~}",
    "- {type: replace, path: x, value: 1}",
    "- {type: bogus, path: /x}",
    "- {path: /x, value: 1}",
    "- {type: test, path: /name, value: d}",
    "- {type: test, path: /name, value: e}",
    "- {type: test, path: /zz, absent: true}",
    "- {type: test, path: /name, absent: true}",
    "- {type: test, path: /list/5, absent: true}",
    "- {type: test, path: /name}",
    "- {type: replace, path: /x, value: ((v))}\n- {type: replace, path: /y, value: '((v))-((w))'}",
    "- {type: replace, path: /list/0, value: 1}\n- {type: replace, path: /list/9, value: 2}",
    "not a list",
    "- just a string",
    "",
    "- {type: replace, path: /x, value: 1",
]


@pytest.mark.parametrize("ops", OPS_CASES)
def test_ops_file_applies_or_fails_as_in_bosh(tmp_path, ops):
    assert_same(Case(tmp_path, BASE, [ops + "\n"]))


def test_ops_from_several_files_apply_in_order(tmp_path):
    first = "- {type: replace, path: /list/-, value: 4}\n"
    second = "- {type: replace, path: /list/3, value: four}\n- {type: remove, path: /list/0}\n"
    assert_same(Case(tmp_path, BASE, [first, second]))


# ------------------------------------------------------------------------------------------------
# Variables

VARS_CASES = [
    ("a: ((x.y))\n", {"x": {"y": 1}}),
    ("a: ((x.y))\nb: ((x.z))\n", {"x": {"y": 1}}),
    ("a: ((x.0))\n", {"x": ["q"]}),
    ("a: ((x.0))\n", {"x": {"0": "k"}}),
    ("a: ((x.k.0))\n", {"x": {"k": {"0": "k"}}}),
    ("a: ((x.y))\n", {"x": "scalar"}),
    ("a: pre-((x))\n", {"x": 1.5}),
    ("a: pre-((x))\n", {"x": 1000000.0}),
    ("a: pre-((x))\n", {"x": True}),
    ("a: pre-((x))\n", {"x": None}),
    ("a: pre-((x))\n", {"x": {"b": 1, "a": [1, "x"]}}),
    ("a: pre-((x))-((y))-((x))\n", {"x": 7, "y": "s"}),
    ("((k)): v\n", {"k": "key"}),
    ("a: ((a.b))\n", {"a.b": "dotted"}),
    ("a: ((!x))\nb: x((!x))\n", {"x": "s"}),
    ("a: (( x ))\nb: x(( x ))\n", {"x": "s"}),
    ("a: ((x))\nvariables: [{name: x}, {name: other}]\n", {"x": 1}),
    ("a: ((x))\n", {"x": "((y))", "y": 1}),
    ("a: ((y))\nb: ((n))\n", {"y": "yes", "n": "1"}),
    ("a: ((ünïcode))\n", {"ünïcode": "ok"}),
    ("a: ((x))\nb: [((x)), {c: ((x))}]\n", {"x": {"shared": True}}),
]


@pytest.mark.parametrize(("manifest", "variables"), VARS_CASES)
def test_variables_interpolate_as_in_bosh(tmp_path, manifest, variables):
    assert_same(Case(tmp_path, manifest, variables=variables))


@pytest.mark.parametrize(
    ("manifest", "path"),
    [
        ("a: {b: [1, 2]}\n", "/a/b/1"),
        ("a: {b: [1, 2]}\n", "/a/b"),
        ("a: {b: [1, 2]}\n", "/a/-"),
        ("a: {b: [1, 2]}\n", "/a/c?/d"),
        ("a: {b: [1, 2]}\n", "/a/c"),
        ("a: |\n  multi\n  line\n", "/a"),
        ("a: [{name: x, v: 1}]\n", "/a/name=x/v"),
    ],
)
def test_path_finds_the_same_value(tmp_path, manifest, path):
    assert_same(Case(tmp_path, manifest, path=path))


# ------------------------------------------------------------------------------------------------
# YAML scalars and output text


def test_scalars_read_and_print_as_in_bosh(tmp_path):
    manifest = (
        "x: [08, 0o17, 0x1F, 1_000, 1e3, 2001-12-14, 1:30, .5, +1, -0b11, 0b2, y, N, on, 1.0, ~, '', "
        "'y', '1:30', '2001-12-14', 1000-60000, '{PLAIN}pw', '*', ' lead', 'x: y', 123456789012345678901]\n"
        "y: yes\nn: 1\n2: two\nb10: 1\nb9: 1\n"
    )
    assert_same(Case(tmp_path, manifest))


def test_invalid_yaml_fails_in_both(tmp_path):
    assert_same(Case(tmp_path, "a: 1\n b: 2\n"))


# ------------------------------------------------------------------------------------------------
# Vars store generation

GENERATED = """\
password: ((pw))
long: ((long))
ca: ((ca.certificate))
cert: ((cert.certificate))
key: ((key.public_key))
ssh: ((ssh.public_key_fingerprint))
variables:
- {name: pw, type: password}
- {name: long, type: password, options: {length: 40}}
- {name: ca, type: certificate, options: {is_ca: true, common_name: test-ca}}
- name: cert
  type: certificate
  options: {ca: ca, common_name: reg, alternative_names: [10.0.0.5, reg.bosh]}
- {name: key, type: rsa}
- {name: ssh, type: ssh}
"""


def test_both_generate_the_same_kinds_of_values_into_an_empty_store(tmp_path):
    case = Case(tmp_path, GENERATED)
    real = case.bosh(store=tmp_path / "bosh-store.yml")
    assert real.returncode == 0, real.stderr
    ours = case.ours(store=tmp_path / "our-store.yml")
    theirs = bm.load_yaml_file(str(tmp_path / "bosh-store.yml"), "store")
    mine = bm.load_yaml_file(str(tmp_path / "our-store.yml"), "store")
    assert set(theirs) == set(mine)
    for name in theirs:
        if isinstance(theirs[name], dict):
            assert set(theirs[name]) == set(mine[name]), name
    for store in (theirs, mine):
        assert len(store["pw"]) == 20
        assert set(store["pw"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789")
        assert len(store["long"]) == 40
    assert bm.load_yaml_text(real.stdout).keys() == ours.manifest.keys()


@pytest.mark.parametrize("ca_by", ["bosh", "ours"])
def test_certificates_signed_by_a_ca_the_other_generated_verify(tmp_path, ca_by):
    store = tmp_path / "store.yml"
    ca_only = Case(
        tmp_path,
        "a: ((ca.certificate))\nvariables:\n"
        "- {name: ca, type: certificate, options: {is_ca: true, common_name: test-ca}}\n",
    )
    if ca_by == "bosh":
        assert ca_only.bosh(store=store).returncode == 0
        Case(tmp_path, GENERATED).ours(store=store)
    else:
        ca_only.ours(store=store)
        assert Case(tmp_path, GENERATED).bosh(store=store).returncode == 0
    values = bm.load_yaml_file(str(store), "store")
    ca = x509.load_pem_x509_certificate(values["ca"]["certificate"].encode())
    cert = x509.load_pem_x509_certificate(values["cert"]["certificate"].encode())
    cert.verify_directly_issued_by(ca)
    assert values["cert"]["ca"] == values["ca"]["certificate"]


def test_unsupported_variable_type_fails_with_the_same_text(tmp_path):
    case = Case(tmp_path, "variables: [{name: u, type: user}]\n", store=tmp_path / "s.yml")
    assert_same(case)
