"""The built-in renderer against the real `bosh interpolate`, case by case.

Every case runs everywhere. Its reference is the real bosh's output recorded as a golden file,
tests/fixtures/bosh/parity/<case>.yml (how and with which bosh: the README there). Where a real
bosh CLI is found as well (NESTED_WARDEN_REAL_BOSH, or `bosh` on PATH; the test double in
tests/doubles is recognised and refused: it has no `--version`), each case is compared with it
live too. Ours must print the same output text, or fail with the same error text (bosh's own
wording), except where this project reports a file problem in its own words (which file, which
line): there both must fail on the same file and line. A missing golden file, or one recorded for
other inputs, fails the case with the command that records it (tests/tools/record_golden.py).

Variables go to bosh the way bosh_deploy passes them: a YAML file (-l) written by the renderer's
dumper; the renderer gets the same dict. Paths of the test's temporary directory and of the
project read $TMP and $PROJECT in golden files and in both sides' texts. Cases that generate
values compare what cannot differ: the output text with the generated values masked, and the
store's shape (which keys, PEM blocks, certificate fields, key sizes, lengths and alphabets).
"""

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.nested.warden.plugins.module_utils import bosh_manifest as bm
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "bosh"
GOLDEN = FIXTURES / "parity"
LAB_STORE = GOLDEN / "inputs" / "lab-vars-store.yml"
LAB_MANIFEST = PROJECT / "manifests" / "concourse-lab.yml"
LAB_VARS = {"external_host": "10.0.0.5", "docker_registry_host": "10.0.0.5", "concourse_version": "7.11.2"}

_spec = importlib.util.spec_from_file_location("golden", PROJECT / "tests" / "tools" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


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
RECORDING = golden.recording("bosh")
HOW_TO_RECORD = golden.how_to_record("bosh", "NESTED_WARDEN_REAL_BOSH")

FLAG_PREFIX = "invalid argument for flag `-o, --ops-file' (expected []opts.OpsFileArg): "

# ------------------------------------------------------------------------------------------------
# Case names: the golden file of a case is GOLDEN/<name>.yml, and its pytest id is the same name.

CASE_IDS = set()


def named(name):
    CASE_IDS.add(name)
    return name


def case_id(group, text, *more):
    """group-slug-hash: the slug to read, the hash (of every input) to keep names apart."""
    canonical = json.dumps([group, text, *more], sort_keys=True, ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:6]
    words = re.sub(r"\b(type|path|value): *", "", text.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-")[:40].strip("-")
    return named("-".join(part for part in (group, slug, digest) if part))


class Case:
    """One `bosh interpolate` invocation and the same render by ours.

    Inline texts are written into tmp_path; paths are used as they are. `store_note` describes a
    vars store whose content is generated at run time (and so cannot be hashed) in the inputs.
    """

    def __init__(
        self,
        name,
        tmp_path,
        manifest,
        ops=(),
        *,
        variables=None,
        path=None,
        store=None,
        vars_files=(),
        store_note=None,
    ):
        self.id = name
        self.dir = tmp_path
        self.specs = {"manifest": manifest, "ops": list(ops), "vars_files": list(vars_files)}
        self.manifest = self._file("manifest.yml", manifest) if isinstance(manifest, str) else str(manifest)
        self.ops = [
            self._file(f"ops{i}.yml", op) if isinstance(op, str) else str(op) for i, op in enumerate(ops)
        ]
        self.variables = variables
        self.vars_files = [str(p) for p in vars_files]
        self.path = path
        self.store = store
        self.store_input = store_note or (None if store is None else self._file_input(store))
        self.normalise = golden.Normaliser([(tmp_path, "$TMP"), (PROJECT, "$PROJECT")])

    def _file(self, name, text):
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def _file_input(self, path):
        """A file input: the project's file by name and hash; a copy of the lab store as the lab
        store; another file of the case's temporary directory by hash."""
        path = Path(path)
        if not path.exists():
            return "none: no such file when the case starts"
        if path.read_bytes() == LAB_STORE.read_bytes():
            return golden.file_input(LAB_STORE)
        if path.resolve().is_relative_to(self.dir.resolve()):
            return {"sha256": golden.sha256(path)}
        return golden.file_input(path)

    def inputs(self):
        """The case as a golden file records it, to tell when the recording is stale."""

        def describe(spec):
            return spec if isinstance(spec, str) else self._file_input(spec)

        inputs = {"manifest": describe(self.specs["manifest"])}
        if self.specs["ops"]:
            inputs["ops"] = [describe(op) for op in self.specs["ops"]]
        if self.specs["vars_files"]:
            inputs["vars_files"] = [describe(p) for p in self.specs["vars_files"]]
        if self.variables is not None:
            inputs["variables"] = self.variables
        if self.store_input is not None:
            inputs["vars_store"] = self.store_input
        if self.path:
            inputs["path"] = self.path
        return inputs

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

    def record(self, proc, **fields):
        """What a golden file keeps of one bosh run: argv, exit code and the normalised texts.
        `fields` replace stdout (masked) and add the store's shape for generating cases."""
        record = {
            "argv": ["bosh", *(self.normalise(arg) for arg in proc.args[1:])],
            "exit_code": proc.returncode,
            "stdout": self.normalise(proc.stdout),
            "stderr": self.normalise(proc.stderr),
        }
        record.update(fields)
        used = {name: self.normalise.used(getattr(proc, name)) for name in ("stdout", "stderr")}
        used = {name: placeholders for name, placeholders in used.items() if placeholders}
        if used:
            record["normalised"] = used
        return record

    def bosh_record(self):
        before = store_values(self.store)
        proc = self.bosh()
        if before is not None and store_values(self.store) != before:
            raise AssertionError(
                f"bosh generated values into the vars store given to {self.id}: the store misses one"
            )
        return self.record(proc)


def store_values(path):
    if path is None or not Path(path).exists():
        return None
    return yaml.safe_load(Path(path).read_text())


def references(case, live):
    """(where, record) pairs to compare ours with: the golden file, and the real bosh live when
    there is one (`live()` runs it). When recording, the live record, written as the golden file."""
    path = GOLDEN / f"{case.id}.yml"
    where = golden.relative(path)
    if RECORDING:
        if REAL_BOSH is None:
            pytest.fail("recording golden files needs a real bosh: set NESTED_WARDEN_REAL_BOSH")
        record = live()
        what = f"the real `bosh interpolate` in parity case {case.id}"
        golden.write(path, {"case": case.id, "inputs": case.inputs(), **record}, what)
        return [(f"the real bosh {REAL_BOSH}, recorded into {where}", record)]
    refs = [(f"golden file {where}", golden.load(path, case.inputs(), HOW_TO_RECORD))]
    if REAL_BOSH is not None:
        refs.append((f"the real bosh {REAL_BOSH}, live", live()))
    return refs


def assert_same(case):
    refs = references(case, case.bosh_record)
    try:
        mine = case.ours()
    except bm.BoshError as err:
        mine = err
    for where, real in refs:
        compare(case, mine, real, where)


def compare(case, mine, real, where):
    if isinstance(mine, bm.BoshFileError):
        # Our words for file problems; bosh must fail too, on the same line when it names one.
        assert real["exit_code"] == 1, f"{where}: bosh succeeded where ours failed: {mine}"
        # yaml.v2 counts lines from 1 for scanner errors and from 0 for parser errors.
        line = re.search(r"yaml: line (\d+):", real["stderr"])
        if line:
            assert mine.line in (int(line.group(1)), int(line.group(1)) + 1), (
                where,
                str(mine),
                real["stderr"],
            )
        return
    if isinstance(mine, bm.BoshError):
        assert real["exit_code"] == 1, f"{where}: bosh succeeded where ours failed: {mine.multiline()}"
        message = real["stderr"].removesuffix("\n").removesuffix("Exit code 1").removesuffix("\n")
        if message.startswith(FLAG_PREFIX):
            assert case.normalise(str(mine)) == message.removeprefix(FLAG_PREFIX), where
        else:
            assert case.normalise(mine.multiline()) == message, where
        return
    assert real["exit_code"] == 0, f"{where}: ours succeeded where bosh failed: {real['stderr']}"
    if case.path and isinstance(mine.value, str):
        text = mine.value + "\n"
    else:
        text = bm.dump_yaml(mine.value if case.path else mine.manifest)
    assert case.normalise(text) == real["stdout"], where
    if case.store_input == golden.file_input(LAB_STORE):
        assert mine.generated == [], f"ours generated {mine.generated} into the lab vars store"


# ------------------------------------------------------------------------------------------------
# Generated values: the shape of what was generated, and the output with the values masked

PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\n(.*?)-----END \1-----\n?", re.DOTALL)
ARMOUR = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]+-----")
ALPHABETS = [
    ("0-9", string.digits),
    ("0-9a-f:", string.digits + "abcdef:"),
    ("a-z0-9", string.ascii_lowercase + string.digits),
    ("A-Za-z0-9", string.ascii_letters + string.digits),
    ("base64", string.ascii_letters + string.digits + "+/="),
    ("printable", string.printable),
]


def key_shape(key):
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        numbers = (
            key.public_key().public_numbers() if hasattr(key, "private_numbers") else key.public_numbers()
        )
        return f"rsa-{key.key_size} e={numbers.e}"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"ec-{key.curve.name}"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    return type(key).__name__


def extension_shape(value):  # noqa: PLR0911 -- one return per extension kind
    if isinstance(value, x509.BasicConstraints):
        return {"ca": value.ca, "path_length": value.path_length}
    if isinstance(value, x509.KeyUsage):
        flags = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment"]
        flags += ["key_agreement", "key_cert_sign", "crl_sign"]
        used = [flag for flag in flags if getattr(value, flag)]
        if value.key_agreement:
            used += [flag for flag in ("encipher_only", "decipher_only") if getattr(value, flag)]
        return used
    if isinstance(value, x509.ExtendedKeyUsage):
        return [oid.dotted_string for oid in value]
    if isinstance(value, x509.SubjectAlternativeName):
        # Sorted: Go writes DNS names before IP addresses whatever the order given; ours keeps it.
        return sorted(f"{type(name).__name__}:{name.value}" for name in value)
    if isinstance(value, x509.SubjectKeyIdentifier):
        return {"digest_bytes": len(value.digest)}
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return {
            "key_identifier": value.key_identifier is not None,
            "issuer": value.authority_cert_issuer is not None,
            "serial": value.authority_cert_serial_number is not None,
        }
    return "present"


def certificate_shape(cert):
    return {
        "version": cert.version.name,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "signature_hash": cert.signature_hash_algorithm.name,
        "public_key": key_shape(cert.public_key()),
        "validity_seconds": int((cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()),
        "serial_positive": cert.serial_number > 0,
        # By OID: which extensions, not their order in the DER (Go's differs from ours, harmlessly).
        "extensions": [
            {
                "type": type(ext.value).__name__,
                "oid": ext.oid.dotted_string,
                "critical": ext.critical,
                "value": extension_shape(ext.value),
            }
            for ext in sorted(cert.extensions, key=lambda ext: ext.oid.dotted_string)
        ],
    }


def pem_shape(kind, block):
    shape = {"type": kind, "body_line_length": max(len(line) for line in block[1].splitlines())}
    text = block[0].encode()
    if kind == "CERTIFICATE":
        shape["certificate"] = certificate_shape(x509.load_pem_x509_certificate(text))
    elif kind.endswith("PRIVATE KEY"):
        shape["key"] = key_shape(serialization.load_pem_private_key(text, None))
    elif kind.endswith("PUBLIC KEY"):
        shape["key"] = key_shape(serialization.load_pem_public_key(text))
    return shape


def shape(value):
    """What can be compared of a generated value: structure, formats, sizes, never the bytes.
    Keys sorted: bosh writes a store's first value in its struct's order (certificate,
    private_key, ca) and sorts on later writes; ours always sorts. The printed order is compared
    in the masked output text."""
    if isinstance(value, dict):
        return {str(key): shape(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if not isinstance(value, str):
        return {"yaml_type": type(value).__name__}
    blocks = [(m.group(1), (m.group(0), m.group(2))) for m in PEM.finditer(value)]
    if blocks:
        return {
            "pem": [pem_shape(kind, block) for kind, block in blocks],
            "nothing_else": PEM.sub("", value) == "",
            "ends_with_newline": value.endswith("\n"),
        }
    if value.startswith("ssh-"):
        fields = value.split()
        return {
            "ssh_public_key": fields[0],
            "key": key_shape(serialization.load_ssh_public_key(" ".join(fields[:2]).encode())),
            "fields": len(fields),
            "ends_with_newline": value.endswith("\n"),
        }
    alphabet = next(name for name, chars in ALPHABETS if set(value) <= set(chars))
    return {"length": len(value), "alphabet": alphabet}


def _issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _md5_fingerprint(public_key):
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def relations(values):
    """How generated values hang together: who issued each certificate, whose certificate its `ca`
    is, whether public keys and fingerprints belong to the private key next to them."""
    values = values or {}
    certs = {
        name: x509.load_pem_x509_certificate(item["certificate"].encode())
        for name, item in values.items()
        if isinstance(item, dict) and "certificate" in item
    }
    found = {}
    for name, item in values.items():
        if not isinstance(item, dict):
            continue
        facts = {}
        if name in certs:
            facts["issued_by"] = [other for other, cert in certs.items() if _issued_by(certs[name], cert)]
            facts["ca_is_certificate_of"] = [
                other for other in certs if item.get("ca") == values[other]["certificate"]
            ]
        if "private_key" in item:
            private = serialization.load_pem_private_key(item["private_key"].encode(), None)
            public = private.public_key()
            if name in certs:
                facts["private_key_matches_certificate"] = certs[name].public_key() == public
            if "public_key" in item:
                given = item["public_key"]
                if given.startswith("ssh-"):
                    facts["public_key_matches_private_key"] = (
                        serialization.load_ssh_public_key(given.strip().encode()) == public
                    )
                else:
                    facts["public_key_matches_private_key"] = (
                        serialization.load_pem_public_key(given.encode()) == public
                    )
            if "public_key_fingerprint" in item:
                facts["fingerprint_is_md5_of_public_key"] = item[
                    "public_key_fingerprint"
                ] == _md5_fingerprint(item["public_key"])
        if facts:
            found[name] = facts
    return found


def generated_chunks(value, chunks):
    if isinstance(value, dict):
        for item in value.values():
            generated_chunks(item, chunks)
    elif isinstance(value, list):
        for item in value:
            generated_chunks(item, chunks)
    elif isinstance(value, str):
        chunks.update(line.strip() for line in value.splitlines() if line.strip())
    return chunks


def mask_generated(text, values):
    """The output with every line (or `key: value` value) that holds a generated value, PEM
    armour lines aside, read as <generated>, runs of them as one."""
    chunks = {c for c in generated_chunks(values or {}, set()) if not ARMOUR.fullmatch(c)}
    lines = []
    for line in text.splitlines():
        prefix, rest = re.fullmatch(r"( *(?:- )*)(.*)", line).groups()
        key, sep, value = rest.partition(": ")
        masked = line
        if rest in chunks:
            masked = prefix + "<generated>"
        elif sep and value in chunks:
            masked = f"{prefix}{key}: <generated>"
        if not (masked.endswith("<generated>") and lines and lines[-1] == masked):
            lines.append(masked)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def generation_fields(stdout, store):
    values = store_values(store)
    return {
        "stdout": mask_generated(stdout, values),
        "store": shape(values),
        "relations": relations(values),
    }


def bosh_generation(case, store):
    """Live: bosh generates into `store`; the record keeps shapes, never the generated values."""

    def live():
        proc = case.bosh(store=store)
        assert proc.returncode == 0, proc.stderr
        return case.record(proc, **generation_fields(case.normalise(proc.stdout), store))

    return live


def our_generation(case, store):
    result = case.ours(store=store)
    return {
        "exit_code": 0,
        "stderr": "",
        **generation_fields(case.normalise(bm.dump_yaml(result.manifest)), store),
    }


def assert_same_generation(case, mine, refs):
    fields = ("exit_code", "stdout", "stderr", "store", "relations")
    for where, real in refs:
        # As YAML text: key order counts, and pytest shows a readable diff.
        expected = golden.dump({key: real.get(key) for key in fields})
        assert golden.dump({key: mine.get(key) for key in fields}) == expected, f"{case.id}: {where}"


# ------------------------------------------------------------------------------------------------
# The project's own manifests and ops files


@pytest.fixture
def lab_store(tmp_path):
    """A filled vars store, so both renderers interpolate the same values: a copy of the fixed
    store in tests/fixtures/bosh/parity/inputs (placeholders shaped like generated values)."""
    store = tmp_path / "store.yml"
    shutil.copyfile(LAB_STORE, store)
    return store


PROJECT_OPS = [
    [],
    ["ops-files/docker-registry.yml"],
    ["ops-files/docker-registry-open.yml"],
    ["ops-files/seed/docker-registry-seed.yml"],
    ["ops-files/docker-registry-open.yml", "ops-files/docker-registry.yml"],
]


def project_id(ops):
    return named("-".join(["project-lab", *(Path(o).stem for o in ops)]))


@pytest.mark.parametrize("ops", PROJECT_OPS, ids=[project_id(ops) for ops in PROJECT_OPS])
def test_project_manifest_and_ops_files_render_identically(tmp_path, lab_store, ops):
    case = Case(
        project_id(ops),
        tmp_path,
        LAB_MANIFEST,
        [PROJECT / o for o in ops],
        variables=LAB_VARS,
        store=lab_store,
    )
    assert_same(case)


FIXTURE_OPS = [["seed-ops/gen1-wrong-job-name.yml"], ["seed-ops/gen3-proxy-and-nfs-under-registry.yml"]]


def fixture_id(ops):
    return named("-".join(["fixture", *(Path(o).stem for o in ops)]))


@pytest.mark.parametrize("ops", FIXTURE_OPS, ids=[fixture_id(ops) for ops in FIXTURE_OPS])
def test_test_fixtures_render_identically(tmp_path, ops):
    manifest = FIXTURES / "manifests" / "concourse-small.yml"
    assert_same(
        Case(
            fixture_id(ops), tmp_path, manifest, [FIXTURES / o for o in ops], variables={"external_host": "h"}
        )
    )


STORE_PATHS = {
    named("store-path-docker-registry-password"): "/docker_registry_password",
    named("store-path-docker-registry-certificate-certificate"): "/docker_registry_certificate/certificate",
    named("store-path-docker-registry-certificate"): "/docker_registry_certificate",
}


def test_registry_password_path_reads_the_same_from_the_store(tmp_path, lab_store):
    for name, path in STORE_PATHS.items():
        assert_same(Case(name, tmp_path, lab_store, path=path))


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


@pytest.mark.parametrize("ops", OPS_CASES, ids=[case_id("ops", ops) for ops in OPS_CASES])
def test_ops_file_applies_or_fails_as_in_bosh(tmp_path, ops):
    assert_same(Case(case_id("ops", ops), tmp_path, BASE, [ops + "\n"]))


SEVERAL_FILES = named("ops-several-files-in-order")


def test_ops_from_several_files_apply_in_order(tmp_path):
    first = "- {type: replace, path: /list/-, value: 4}\n"
    second = "- {type: replace, path: /list/3, value: four}\n- {type: remove, path: /list/0}\n"
    assert_same(Case(SEVERAL_FILES, tmp_path, BASE, [first, second]))


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


@pytest.mark.parametrize(
    ("manifest", "variables"), VARS_CASES, ids=[case_id("vars", m, v) for m, v in VARS_CASES]
)
def test_variables_interpolate_as_in_bosh(tmp_path, manifest, variables):
    assert_same(Case(case_id("vars", manifest, variables), tmp_path, manifest, variables=variables))


PATH_CASES = [
    ("a: {b: [1, 2]}\n", "/a/b/1"),
    ("a: {b: [1, 2]}\n", "/a/b"),
    ("a: {b: [1, 2]}\n", "/a/-"),
    ("a: {b: [1, 2]}\n", "/a/c?/d"),
    ("a: {b: [1, 2]}\n", "/a/c"),
    ("a: |\n  multi\n  line\n", "/a"),
    ("a: [{name: x, v: 1}]\n", "/a/name=x/v"),
]


@pytest.mark.parametrize(("manifest", "path"), PATH_CASES, ids=[case_id("path", p, m) for m, p in PATH_CASES])
def test_path_finds_the_same_value(tmp_path, manifest, path):
    assert_same(Case(case_id("path", path, manifest), tmp_path, manifest, path=path))


# ------------------------------------------------------------------------------------------------
# YAML scalars and output text


SCALARS, INVALID_YAML = named("yaml-scalars"), named("yaml-invalid")


def test_scalars_read_and_print_as_in_bosh(tmp_path):
    manifest = (
        "x: [08, 0o17, 0x1F, 1_000, 1e3, 2001-12-14, 1:30, .5, +1, -0b11, 0b2, y, N, on, 1.0, ~, '', "
        "'y', '1:30', '2001-12-14', 1000-60000, '{PLAIN}pw', '*', ' lead', 'x: y', 123456789012345678901]\n"
        "y: yes\nn: 1\n2: two\nb10: 1\nb9: 1\n"
    )
    assert_same(Case(SCALARS, tmp_path, manifest))


def test_invalid_yaml_fails_in_both(tmp_path):
    assert_same(Case(INVALID_YAML, tmp_path, "a: 1\n b: 2\n"))


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

CA_ONLY = (
    "a: ((ca.certificate))\nvariables:\n"
    "- {name: ca, type: certificate, options: {is_ca: true, common_name: test-ca}}\n"
)


GENERATE_ALL = named("store-generate-all-types")
CA_BY_BOSH = named("store-ca-generated-by-bosh")
CERT_BY_BOSH = named("store-cert-generated-by-bosh-with-our-ca")
UNSUPPORTED = named("store-unsupported-type")


def test_both_generate_the_same_kinds_of_values_into_an_empty_store(tmp_path):
    case = Case(GENERATE_ALL, tmp_path, GENERATED, store_note="empty")
    refs = references(case, bosh_generation(case, tmp_path / "bosh-store.yml"))
    mine = our_generation(case, tmp_path / "our-store.yml")
    assert_same_generation(case, mine, refs)
    stores = [store_values(tmp_path / "our-store.yml")]
    if (tmp_path / "bosh-store.yml").exists():
        stores.append(store_values(tmp_path / "bosh-store.yml"))
    for store in stores:
        assert len(store["pw"]) == 20
        assert set(store["pw"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789")
        assert len(store["long"]) == 40


@pytest.mark.parametrize("ca_by", ["bosh", "ours"])
def test_certificates_signed_by_a_ca_the_other_generated_verify(tmp_path, ca_by):
    bosh_store, our_store = tmp_path / "bosh-store.yml", tmp_path / "our-store.yml"
    if ca_by == "bosh":
        # bosh generates the CA (golden: its shape); ours must generate the same shape, and sign
        # with bosh's CA where a real bosh ran, else with its own.
        case = Case(CA_BY_BOSH, tmp_path, CA_ONLY, store_note="empty")
        refs = references(case, bosh_generation(case, bosh_store))
        assert_same_generation(case, our_generation(case, our_store), refs)
        (tmp_path / "sign").mkdir()
        store = bosh_store if bosh_store.exists() else our_store
        Case(None, tmp_path / "sign", GENERATED).ours(store=store)
    else:
        # ours generates the CA, bosh the certificate it signs (golden: shapes and relations).
        note = "holds only `ca`, generated by this project's renderer from the first variable below"
        case = Case(CERT_BY_BOSH, tmp_path, GENERATED, store_note=note)
        (tmp_path / "ca").mkdir()
        ca_only = Case(None, tmp_path / "ca", CA_ONLY)

        def live():
            ca_only.ours(store=bosh_store)
            return bosh_generation(case, bosh_store)()

        refs = references(case, live)
        ca_only.ours(store=our_store)
        assert_same_generation(case, our_generation(case, our_store), refs)
        store = bosh_store if bosh_store.exists() else our_store
    values = store_values(store)
    ca = x509.load_pem_x509_certificate(values["ca"]["certificate"].encode())
    cert = x509.load_pem_x509_certificate(values["cert"]["certificate"].encode())
    cert.verify_directly_issued_by(ca)
    assert values["cert"]["ca"] == values["ca"]["certificate"]


def test_unsupported_variable_type_fails_with_the_same_text(tmp_path):
    case = Case(
        UNSUPPORTED,
        tmp_path,
        "variables: [{name: u, type: user}]\n",
        store=tmp_path / "s.yml",
    )
    assert_same(case)


# ------------------------------------------------------------------------------------------------


def test_every_golden_file_belongs_to_a_case():
    """A golden file no case reads is stale (a case renamed or removed): the recorder prunes them."""
    if RECORDING:
        pytest.skip("recording: tests/tools/record_golden.py removes the files no case wrote")
    recorded = {path.stem for path in GOLDEN.glob("*.yml")}
    assert sorted(recorded - CASE_IDS) == [], "stale golden files; re-record with " + golden.RECORDER
