"""Job specs from BOSH releases, and the check that every property a manifest sets is declared.

The BOSH director hands a job only the properties its spec declares; anything else is dropped
without a word. That is how `docker_registry.http.addr` (declared by no job) left the registry on
127.0.0.1. This module reads job specs from:

- release tarballs (`release.MF` plus `jobs/<job>.tgz`, each holding `job.MF`, the spec),
- release source trees (`jobs/<job>/spec`, the release name from `config/final.yml`),
- extracted release tarballs (`release.MF` plus `jobs/<job>.tgz`),
- single job spec files laid out as `<release>/jobs/<job>/spec`,

and checks a rendered manifest against them.
"""

from __future__ import annotations

import copy
import difflib
import io
import os
import re
import tarfile
import zlib

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest import (
    BoshFileError,
    go_value,
    load_yaml_text,
    read_text,
)
from ansible_collections.nested.warden.plugins.module_utils.inputs import decode_problem


class ReleaseSpecError(Exception):
    """A release or job spec that cannot be read; the message names the file."""


class JobSpec:
    def __init__(self, name, properties, source):
        self.name = name
        self.properties = properties  # dotted name -> {description, default, ...}
        self.source = source
        self.declared = {tuple(key.split(".")) for key in properties}

    def declares(self, segments):
        return tuple(segments) in self.declared

    def declares_below(self, segments):
        size = len(segments)
        return any(len(key) > size and key[:size] == tuple(segments) for key in self.declared)


class ReleaseSpecs:
    def __init__(self, name):
        self.name = name
        self.jobs = {}
        self.sources = []


# ------------------------------------------------------------------------------------------------
# Reading


def _parse_spec(text, source, expected_name=None):
    try:
        spec = load_yaml_text(text, "job spec", source)
    except BoshFileError as err:
        raise ReleaseSpecError(str(err)) from None
    if not isinstance(spec, dict) or not spec.get("name"):
        raise ReleaseSpecError(f"job spec '{source}': expected a map with a 'name'")
    name = str(spec["name"])
    if expected_name is not None and name != expected_name:
        raise ReleaseSpecError(
            f"job spec '{source}': names job '{name}' but is stored as job '{expected_name}'"
        )
    properties = spec.get("properties") or {}
    if not isinstance(properties, dict):
        raise ReleaseSpecError(f"Job '{name}' has invalid properties spec format (in '{source}')")
    return JobSpec(name, {str(key): value or {} for key, value in properties.items()}, source)


def _release_name_from_manifest(text, source):
    try:
        manifest = load_yaml_text(text, "release manifest", source)
    except BoshFileError as err:
        raise ReleaseSpecError(str(err)) from None
    if not isinstance(manifest, dict) or not manifest.get("name"):
        raise ReleaseSpecError(f"release manifest '{source}': expected a map with a 'name'")
    return str(manifest["name"])


def _job_from_archive(data, source, expected_name):
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive.getmembers():
                if os.path.normpath(member.name) == "job.MF" and member.isfile():
                    text = archive.extractfile(member).read().decode("utf-8")
                    return _parse_spec(text, f"{source}:job.MF", expected_name)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise ReleaseSpecError(f"job archive '{source}': not a readable tar.gz: {err}") from None
    except UnicodeDecodeError as err:
        raise ReleaseSpecError(f"job archive '{source}': its job.MF {decode_problem(err)}") from None
    raise ReleaseSpecError(f"Missing job manifest for '{expected_name}' (no job.MF in '{source}')")


ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar")


def looks_like_archive(path):
    """A tarball by its name or its first bytes (gzip's magic), readable or not: a corrupt one
    must be reported as a corrupt tarball, not read as a job spec."""
    if path.endswith(ARCHIVE_SUFFIXES):
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    return head == b"\x1f\x8b" or tarfile.is_tarfile(path)


def read_release_tarball(path):
    release = None
    jobs = []
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive.getmembers():
                name = os.path.normpath(member.name)
                if name == "release.MF" and member.isfile():
                    text = archive.extractfile(member).read().decode("utf-8")
                    release = _release_name_from_manifest(text, f"{path}:release.MF")
                match = re.fullmatch(r"jobs/([^/]+)\.tgz", name)
                if match and member.isfile():
                    data = archive.extractfile(member).read()
                    jobs.append(_job_from_archive(data, f"{path}:{name}", match.group(1)))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise ReleaseSpecError(
            f"release tarball '{path}': not a readable tar.gz ({err}); download the release again "
            "(bosh releases are .tgz files holding release.MF and jobs/)"
        ) from None
    except UnicodeDecodeError as err:
        raise ReleaseSpecError(f"release tarball '{path}': its release.MF {decode_problem(err)}") from None
    if release is None:
        raise ReleaseSpecError(f"release tarball '{path}': no release.MF, so not a BOSH release")
    return release, jobs


def _release_name_of_tree(directory):
    manifest = os.path.join(directory, "release.MF")
    if os.path.isfile(manifest):
        return _release_name_from_manifest(read_text(manifest, "release manifest"), manifest)
    for config, keys in (("final.yml", ("final_name", "name")), ("dev.yml", ("dev_name", "name"))):
        path = os.path.join(directory, "config", config)
        if os.path.isfile(path):
            try:
                data = load_yaml_text(read_text(path, "release config"), "release config", path)
            except BoshFileError as err:
                raise ReleaseSpecError(str(err)) from None
            for key in keys:
                if isinstance(data, dict) and data.get(key):
                    return str(data[key])
    return os.path.basename(os.path.normpath(os.path.abspath(directory)))


def read_release_tree(directory):
    jobs_dir = os.path.join(directory, "jobs")
    if not os.path.isdir(jobs_dir):
        raise ReleaseSpecError(f"release directory '{directory}': no jobs/ directory, so not a BOSH release")
    release = _release_name_of_tree(directory)
    jobs = []
    for entry in sorted(os.listdir(jobs_dir)):
        spec = os.path.join(jobs_dir, entry, "spec")
        archive = os.path.join(jobs_dir, entry)
        if os.path.isfile(spec):
            jobs.append(_parse_spec(read_text(spec, "job spec"), spec, entry))
        elif entry.endswith(".tgz") and os.path.isfile(archive):
            with open(archive, "rb") as handle:
                jobs.append(_job_from_archive(handle.read(), archive, entry[: -len(".tgz")]))
    return release, jobs


def read_job_spec_file(path):
    job_dir = os.path.dirname(os.path.abspath(path))
    jobs_dir = os.path.dirname(job_dir)
    if os.path.basename(jobs_dir) != "jobs":
        raise ReleaseSpecError(
            f"job spec '{path}': cannot tell which release it belongs to; keep it at "
            "<release>/jobs/<job>/spec (as in a release source tree)"
        )
    release = _release_name_of_tree(os.path.dirname(jobs_dir))
    return release, [_parse_spec(read_text(path, "job spec"), path, os.path.basename(job_dir))]


def load_release_specs(paths):
    """{release name: ReleaseSpecs} from release tarballs, release trees and job spec files."""
    releases = {}
    for path in paths:
        try:
            if os.path.isdir(path):
                name, jobs = read_release_tree(path)
            elif not os.path.exists(path):
                raise ReleaseSpecError(f"release spec '{path}': no such file or directory")
            elif looks_like_archive(path):
                name, jobs = read_release_tarball(path)
            else:
                name, jobs = read_job_spec_file(path)
        except BoshFileError as err:
            raise ReleaseSpecError(str(err)) from None
        release = releases.setdefault(name, ReleaseSpecs(name))
        release.sources.append(path)
        for job in jobs:
            release.jobs[job.name] = job
    return releases


# ------------------------------------------------------------------------------------------------
# Nearest names

_WORD = re.compile(r"[a-z0-9]+")
# What a misnamed setting usually meant: "addr" is host:port, so both halves are worth naming.
_RELATED_WORDS = {
    "addr": {"bind", "port", "address", "host", "listen"},
    "address": {"bind", "address", "host", "addr"},
    "bind": {"bind", "address", "addr", "host", "listen"},
    "host": {"host", "hosts", "bind", "address"},
    "listen": {"bind", "port", "address"},
    "port": {"port", "bind"},
    "server": {"address", "host"},
    "user": {"username", "user", "auth_basic"},
    "username": {"username", "user", "auth_basic"},
    "password": {"password", "auth_basic"},
    "passwd": {"password", "auth_basic"},
    "htpasswd": {"auth_basic"},
    "auth": {"auth_basic"},
    "cert": {"cert", "certificate"},
    "certificate": {"cert"},
    "key": {"key"},
}


def _words(text):
    return _WORD.findall(text.lower())


def _leaf_related(path, candidate):
    leaf_words = set(_words(path.rsplit(".", 1)[-1]))
    candidate_leaf = candidate.rsplit(".", 1)[-1]
    candidate_words = set(_words(candidate_leaf)) | {candidate_leaf}
    related = set()
    for word in leaf_words:
        related |= _RELATED_WORDS.get(word, set()) | {word}
    return bool(related & candidate_words)


def similarity(path, candidate):
    """How likely `candidate` is the declared name someone meant when writing `path`."""
    path_words, candidate_words = _words(path), _words(candidate)
    ratio = difflib.SequenceMatcher(None, ".".join(path_words), ".".join(candidate_words)).ratio()
    shared = set(path_words) & set(candidate_words)
    overlap = len(shared) / len(set(path_words) | set(candidate_words)) if shared else 0.0
    leading = 0
    for mine, theirs in zip(path.split("."), candidate.split(".")):  # noqa: B905 -- strict= is Python 3.10+
        if mine != theirs:
            break
        leading += 1
    return 0.4 * ratio + 0.4 * overlap + 0.1 * leading + (0.5 if _leaf_related(path, candidate) else 0.0)


def nearest_names(path, candidates, limit=3, cutoff=0.45):
    scored = sorted(((similarity(path, c), c) for c in candidates), key=lambda item: (-item[0], item[1]))
    best = scored[0][0] if scored else 0
    return [name for score, name in scored[:limit] if score >= cutoff and score >= best - 0.2]


# ------------------------------------------------------------------------------------------------
# The check


def _display(segments):
    return ".".join(go_value(segment) if not isinstance(segment, str) else segment for segment in segments)


def undeclared_paths(properties, declares, declares_below, prefix=()):
    """(path segments, reason) for every value set where no declared property receives it."""
    found = []
    if not isinstance(properties, dict):
        return found
    for key, value in properties.items():
        segments = (*prefix, _segment(key))
        if declares(segments):
            continue
        if declares_below(segments):
            if isinstance(value, dict):
                found.extend(undeclared_paths(value, declares, declares_below, segments))
            else:
                found.append((segments, "parent"))
            continue
        found.extend((leaf, "undeclared") for leaf in _leaves(value, segments))
    return found


def _leaves(value, prefix):
    """Paths of the values set under an undeclared key (the key itself for a scalar or {})."""
    if isinstance(value, dict) and value:
        return [leaf for key, sub in value.items() for leaf in _leaves(sub, (*prefix, _segment(key)))]
    return [prefix]


def _segment(key):
    return key if isinstance(key, str) else go_value(key)


class PropertyCheck:
    def __init__(self):
        self.problems = []
        self.checked = []  # "instance_group/job (release)"
        self.skipped = []  # jobs whose release no spec covers

    @property
    def ok(self):
        return not self.problems

    def summary(self):
        return {"checked": self.checked, "skipped": self.skipped, "problems": self.problems}


def _other_jobs_declaring(release, job_name, segments):
    return sorted(
        name
        for name, job in release.jobs.items()
        if name != job_name and (job.declares(segments) or job.declares_below(segments))
    )


def release_suggestions(path, release, job_name, limit=3):
    """Nearest declared names: the job's own first, then other jobs' of the release (labelled)."""
    scored = []
    for name, job in release.jobs.items():
        penalty = 0.0 if name == job_name else 0.1
        for candidate in job.properties:
            label = candidate if name == job_name else f"{candidate} (job '{name}')"
            scored.append((similarity(path, candidate) - penalty, label))
    scored.sort(key=lambda item: (-item[0], item[1]))
    best = scored[0][0] if scored else 0
    return [label for score, label in scored[:limit] if score >= 0.45 and score >= best - 0.2]


def _problem(check, group, job_name, release, segments, reason, spec):  # noqa: PLR0917
    path = _display(segments)
    suggestions = release_suggestions(path, release, job_name)
    owners = _other_jobs_declaring(release, job_name, segments)
    if reason == "parent":
        below = sorted(name for name in spec.properties if name.startswith(path + "."))
        message = (
            f"property '{path}' is set to a single value, but job '{job_name}' declares only properties "
            f"below it ({', '.join(below[:5])}{', ...' if len(below) > 5 else ''})"
        )
    else:
        message = f"property '{path}' is not declared by job '{job_name}'"
        if len(segments) == 1 and "." in path:
            message += " (a dotted key: write it as nested maps)"
        if owners:
            message += f"; it is declared by job {_quoted_list(owners)} of release '{release.name}'"
        if suggestions:
            message += f"; did you mean {_alternatives(suggestions)}?"
    check.problems.append(
        {
            "kind": "undeclared_property",
            "instance_group": group,
            "job": job_name,
            "release": release.name,
            "property": path,
            "suggestions": suggestions,
            "declared_by_jobs": owners,
            "message": f"instance group '{group}', job '{job_name}' (release '{release.name}'): {message}",
        }
    )


def _alternatives(names):
    quoted = [
        f"'{name}'" if " (job " not in name else "'{}' {}".format(*name.split(" ", 1)) for name in names
    ]
    return " / ".join(quoted)


def _quoted_list(names):
    return " / ".join(f"'{name}'" for name in names)


def _groups(manifest):
    for group in manifest.get("instance_groups") or []:
        if isinstance(group, dict):
            yield str(group.get("name", "?")), group
    for addon in manifest.get("addons") or []:
        if isinstance(addon, dict):
            yield f"addon {addon.get('name', '?')}", addon


def _check_inherited(check, group_name, properties, receivers):
    """Group-level or global properties, which reach only jobs without their own `properties`;
    a value is used when any of those jobs declares it."""
    specs = [spec for _label, spec in receivers]
    names = sorted({name for spec in specs for name in spec.properties})
    jobs = ", ".join(f"'{label}'" for label, _spec in receivers)
    for segments, reason in undeclared_paths(
        properties,
        lambda s: any(spec.declares(s) for spec in specs),
        lambda s: any(spec.declares_below(s) for spec in specs),
    ):
        path = _display(segments)
        suggestions = nearest_names(path, names)
        what = (
            "is set to a single value where only properties below it are declared"
            if reason == "parent"
            else "is declared by none of the jobs that receive it"
        )
        scope = f"instance group '{group_name}': group-level" if group_name else "global"
        message = f"{scope} property '{path}' {what} ({jobs})"
        if suggestions:
            message += f"; did you mean {_alternatives(suggestions)}?"
        check.problems.append(
            {
                "kind": "undeclared_property",
                "instance_group": group_name,
                "job": None,
                "release": None,
                "property": path,
                "suggestions": suggestions,
                "declared_by_jobs": [],
                "message": message,
            }
        )


def check_properties(manifest, releases):
    """Check every job of every instance group (and addon) whose release is in `releases`."""
    check = PropertyCheck()
    if not isinstance(manifest, dict):
        return check
    all_receivers, all_covered = [], True
    for group_name, group in _groups(manifest):
        receivers, covered = [], True  # jobs that get group-level and global properties
        for job in group.get("jobs") or []:
            if not isinstance(job, dict):
                continue
            job_name = str(job.get("name", "?"))
            release = releases.get(str(job.get("release", "")))
            label = f"{group_name}/{job_name} ({job.get('release', '?')})"
            if release is None:
                check.skipped.append(label)
                covered = covered and "properties" in job
                continue
            spec = release.jobs.get(job_name)
            if spec is None:
                _unknown_job(check, group_name, job_name, release)
                continue
            check.checked.append(label)
            if "properties" in job:
                for segments, reason in undeclared_paths(
                    job["properties"], spec.declares, spec.declares_below
                ):
                    _problem(check, group_name, job_name, release, segments, reason, spec)
            else:
                receivers.append((f"{group_name}/{job_name}", spec))
        # Jobs of uncovered releases might declare anything: then these stay unchecked.
        if group.get("properties") and receivers and covered:
            _check_inherited(check, group_name, group["properties"], receivers)
        all_receivers.extend(receivers)
        all_covered = all_covered and covered
    if manifest.get("properties") and all_receivers and all_covered:
        _check_inherited(check, None, manifest["properties"], all_receivers)
    return check


def _unknown_job(check, group_name, job_name, release):
    nearest = difflib.get_close_matches(job_name, list(release.jobs), n=1, cutoff=0.3)
    message = (
        f"instance group '{group_name}': release '{release.name}' has no job '{job_name}' "
        f"(its jobs: {', '.join(sorted(release.jobs)) or 'none'})"
    )
    if nearest:
        message += f"; did you mean '{nearest[0]}'?"
    check.problems.append(
        {
            "kind": "unknown_job",
            "instance_group": group_name,
            "job": job_name,
            "release": release.name,
            "jobs": sorted(release.jobs),
            "suggestions": nearest,
            "message": message,
        }
    )


# ------------------------------------------------------------------------------------------------
# What each job receives

_MISSING = object()


def _lookup(properties, segments):
    node = properties
    for segment in segments:
        if not isinstance(node, dict) or segment not in node:
            return _MISSING
        node = node[segment]
    return node


def _merged(base, override):
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    result = dict(base)
    for key, value in override.items():
        result[key] = _merged(base.get(key), value) if key in base else value
    return result


def _put(target, segments, value):
    for segment in segments[:-1]:
        node = target.setdefault(segment, {})
        if not isinstance(node, dict):
            return
        target = node
    target[segments[-1]] = value


def job_properties(manifest, releases):
    """{instance group: {job: properties}} as the director hands them to each covered job.

    Every property the job's spec declares, from the manifest (the job's own `properties`, or for
    a job without them the group's merged over the global ones) or else the spec default; values
    the spec does not declare are dropped, as the director drops them.
    """
    result = {}
    if not isinstance(manifest, dict):
        return result
    global_properties = manifest.get("properties") or {}
    for group_name, group in _groups(manifest):
        for job in group.get("jobs") or []:
            if not isinstance(job, dict):
                continue
            release = releases.get(str(job.get("release", "")))
            spec = release.jobs.get(str(job.get("name", ""))) if release else None
            if spec is None:
                continue
            if "properties" in job:
                source = job.get("properties") or {}
            else:
                source = _merged(global_properties, group.get("properties") or {})
            properties = {}
            for name in sorted(spec.properties):
                value = _lookup(source, name.split("."))
                if value is _MISSING or value is None:
                    definition = spec.properties[name]
                    value = definition.get("default") if isinstance(definition, dict) else None
                _put(properties, name.split("."), copy.deepcopy(value))
            result.setdefault(group_name, {})[spec.name] = properties
    return result
