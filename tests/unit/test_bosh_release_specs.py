"""Job specs from release tarballs, trees and spec files, and the property check.

The specs under tests/fixtures/bosh/releases/docker-registry were written for these tests from
the docker-registry release (v3.5.2); the tarball form is built from that tree at run time the
way `bosh create-release --tarball` lays it out (release.MF, jobs/<job>.tgz holding job.MF).
"""

import io
import tarfile
from pathlib import Path

import pytest
from ansible_collections.nested.warden.plugins.module_utils import bosh_manifest as bm
from ansible_collections.nested.warden.plugins.module_utils import bosh_release_specs as rs

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "bosh"
RELEASE_TREE = FIXTURES / "releases" / "docker-registry"
SMALL_MANIFEST = FIXTURES / "manifests" / "concourse-small.yml"
SEED_GEN1 = FIXTURES / "seed-ops" / "gen1-wrong-job-name.yml"
SEED_GEN2 = PROJECT / "ops-files" / "seed" / "docker-registry-seed.yml"
SEED_GEN3 = FIXTURES / "seed-ops" / "gen3-proxy-and-nfs-under-registry.yml"


def _add(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def build_release_tarball(tree, dest, name="docker-registry", version="3.5.2"):
    """A release tarball from a release source tree, laid out as bosh-cli's archive writer does."""
    jobs = sorted(p for p in (tree / "jobs").iterdir() if (p / "spec").is_file())
    manifest = f"name: {name}\nversion: {version}\ncommit_hash: abc1234\nuncommitted_changes: false\njobs:\n"
    manifest += "".join(f"- name: {job.name}\n  version: x\n  fingerprint: x\n  sha1: x\n" for job in jobs)
    with tarfile.open(dest, "w:gz") as release:
        _add(release, "./release.MF", manifest.encode())
        for job in jobs:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
                _add(archive, "./job.MF", (job / "spec").read_bytes())
                for path in sorted(job.rglob("*")):
                    if path.is_file() and path.name != "spec":
                        _add(archive, "./" + str(path.relative_to(job)), path.read_bytes())
            _add(release, f"./jobs/{job.name}.tgz", buffer.getvalue())
    return dest


@pytest.fixture(params=["tree", "tarball"])
def release_specs(request, tmp_path):
    if request.param == "tree":
        return rs.load_release_specs([str(RELEASE_TREE)])
    return rs.load_release_specs(
        [str(build_release_tarball(RELEASE_TREE, tmp_path / "docker-registry-3.5.2.tgz"))]
    )


def rendered(*ops_files, variables=None):
    return bm.render(str(SMALL_MANIFEST), ops_files=[str(p) for p in ops_files], variables=variables).manifest


def problems(manifest, releases):
    return rs.check_properties(manifest, releases).problems


# ------------------------------------------------------------------------------------------------
# Reading


def test_tree_and_tarball_give_the_same_jobs_and_properties(tmp_path):
    tree = rs.load_release_specs([str(RELEASE_TREE)])["docker-registry"]
    tarball_path = build_release_tarball(RELEASE_TREE, tmp_path / "r.tgz")
    tarball = rs.load_release_specs([str(tarball_path)])["docker-registry"]
    assert sorted(tree.jobs) == sorted(tarball.jobs) == ["proxy", "registry"]
    for job in tree.jobs:
        assert tree.jobs[job].properties == tarball.jobs[job].properties
    assert "docker.registry.bind" in tree.jobs["registry"].properties


def test_release_name_comes_from_release_mf_not_the_file_name(tmp_path):
    path = build_release_tarball(RELEASE_TREE, tmp_path / "anything.tgz", name="renamed")
    assert list(rs.load_release_specs([str(path)])) == ["renamed"]


def test_single_spec_file_belongs_to_the_release_of_its_tree():
    releases = rs.load_release_specs([str(RELEASE_TREE / "jobs" / "proxy" / "spec")])
    assert list(releases) == ["docker-registry"]
    assert list(releases["docker-registry"].jobs) == ["proxy"]


def test_spec_file_outside_a_release_tree_is_refused(tmp_path):
    spec = tmp_path / "spec"
    spec.write_text("name: registry\nproperties: {}\n")
    with pytest.raises(rs.ReleaseSpecError, match="cannot tell which release"):
        rs.load_release_specs([str(spec)])


def test_tree_without_config_is_named_after_its_directory(tmp_path):
    (tmp_path / "my-release" / "jobs" / "thing").mkdir(parents=True)
    (tmp_path / "my-release" / "jobs" / "thing" / "spec").write_text("name: thing\n")
    assert list(rs.load_release_specs([str(tmp_path / "my-release")])) == ["my-release"]


def test_spec_whose_name_differs_from_its_directory_is_refused(tmp_path):
    (tmp_path / "r" / "jobs" / "a").mkdir(parents=True)
    (tmp_path / "r" / "jobs" / "a" / "spec").write_text("name: b\n")
    with pytest.raises(rs.ReleaseSpecError, match="names job 'b' but is stored as job 'a'"):
        rs.load_release_specs([str(tmp_path / "r")])


def test_properties_that_are_not_a_map_are_refused_as_the_director_does(tmp_path):
    (tmp_path / "r" / "jobs" / "a").mkdir(parents=True)
    (tmp_path / "r" / "jobs" / "a" / "spec").write_text("name: a\nproperties: [x]\n")
    with pytest.raises(rs.ReleaseSpecError, match="Job 'a' has invalid properties spec format"):
        rs.load_release_specs([str(tmp_path / "r")])


def test_invalid_spec_yaml_names_file_and_line(tmp_path):
    (tmp_path / "r" / "jobs" / "a").mkdir(parents=True)
    (tmp_path / "r" / "jobs" / "a" / "spec").write_text("name: a\nproperties:\n  x: [\n")
    with pytest.raises(rs.ReleaseSpecError, match=r"job spec '.*/r/jobs/a/spec' line \d+"):
        rs.load_release_specs([str(tmp_path / "r")])


def test_tarball_without_release_mf_is_not_a_release(tmp_path):
    path = tmp_path / "x.tgz"
    with tarfile.open(path, "w:gz") as archive:
        _add(archive, "./README.md", b"not a release")
    with pytest.raises(rs.ReleaseSpecError, match=r"no release\.MF"):
        rs.load_release_specs([str(path)])


def test_missing_release_spec_path_is_named(tmp_path):
    with pytest.raises(rs.ReleaseSpecError, match="nope': no such file or directory"):
        rs.load_release_specs([str(tmp_path / "nope")])


# ------------------------------------------------------------------------------------------------
# The seed's three mistakes


def test_seed_gen1_job_named_after_the_release_is_reported_with_the_release_jobs(release_specs):
    found = problems(rendered(SEED_GEN1), release_specs)
    assert [p["kind"] for p in found] == ["unknown_job"]
    assert found[0]["message"] == (
        "instance group 'concourse': release 'docker-registry' has no job 'docker-registry' "
        "(its jobs: proxy, registry); did you mean 'registry'?"
    )


def test_seed_gen2_docker_registry_namespace_is_undeclared_and_names_bind_and_port(release_specs):
    found = {p["property"]: p for p in problems(rendered(SEED_GEN2), release_specs)}
    assert set(found) == {
        "docker_registry.auth.username",
        "docker_registry.auth.password",
        "docker_registry.http.addr",
        "docker_registry.storage.filesystem.rootdirectory",
    }
    addr = found["docker_registry.http.addr"]
    assert addr["suggestions"] == ["docker.registry.bind", "docker.registry.port"]
    assert addr["message"] == (
        "instance group 'concourse', job 'registry' (release 'docker-registry'): property "
        "'docker_registry.http.addr' is not declared by job 'registry'; did you mean "
        "'docker.registry.bind' / 'docker.registry.port'?"
    )


def test_seed_gen3_proxy_auth_and_nfs_under_the_registry_job_are_undeclared(release_specs):
    found = {p["property"]: p for p in problems(rendered(SEED_GEN3), release_specs)}
    assert set(found) == {"docker.proxy.username", "docker.proxy.password", "nfs.server", "nfs.share"}
    assert all(p["job"] == "registry" for p in found.values())
    assert "docker.proxy.auth_basic (job 'proxy')" in found["docker.proxy.username"]["suggestions"]
    assert "docker.registry.bind" not in found  # the one right setting passes


def test_property_of_another_job_names_that_job(release_specs):
    manifest = {
        "instance_groups": [
            {
                "name": "g",
                "jobs": [
                    {
                        "name": "registry",
                        "release": "docker-registry",
                        "properties": {"docker": {"proxy": {"port": 5000}}},
                    }
                ],
            }
        ]
    }
    (problem,) = problems(manifest, release_specs)
    assert problem["declared_by_jobs"] == ["proxy"]
    assert "it is declared by job 'proxy' of release 'docker-registry'" in problem["message"]


# ------------------------------------------------------------------------------------------------
# What counts as declared


def job(properties, name="proxy"):
    return {
        "instance_groups": [
            {"name": "g", "jobs": [{"name": name, "release": "docker-registry", "properties": properties}]}
        ]
    }


def test_a_map_under_a_declared_key_is_declared(release_specs):
    assert (
        problems(
            job({"docker": {"proxy": {"auth_basic": {"admin": "{PLAIN}x", "ci": "{PLAIN}y"}}}}), release_specs
        )
        == []
    )


def test_a_map_of_declared_leaves_is_declared(release_specs):
    properties = {"docker": {"proxy": {"port": 5000, "backend": {"hosts": ["127.0.0.1"], "port": 5080}}}}
    assert problems(job(properties), release_specs) == []


def test_a_single_value_where_only_children_are_declared_is_reported(release_specs):
    (problem,) = problems(job({"docker": {"proxy": {"backend": "127.0.0.1:5080"}}}), release_specs)
    assert problem["property"] == "docker.proxy.backend"
    assert (
        "declares only properties below it (docker.proxy.backend.hosts, docker.proxy.backend.port)"
        in (problem["message"])
    )


def test_a_leaf_below_a_declared_leaf_is_part_of_its_value(release_specs):
    assert (
        problems(
            job({"docker": {"registry": {"storage": {"s3": {"bucket": "b"}}}}}, "registry"), release_specs
        )
        == []
    )


def test_a_dotted_key_is_not_a_nested_property(release_specs):
    (problem,) = problems(job({"docker.proxy.port": 5000}), release_specs)
    assert problem["property"] == "docker.proxy.port"
    assert "(a dotted key: write it as nested maps)" in problem["message"]


def test_null_still_counts_as_setting_a_property(release_specs):
    (problem,) = problems(job({"docker": {"proxy": {"bogus": None}}}), release_specs)
    assert problem["property"] == "docker.proxy.bogus"


def test_jobs_of_releases_without_specs_are_skipped_and_listed(release_specs):
    check = rs.check_properties(rendered(SEED_GEN2), release_specs)
    assert check.skipped == ["concourse/web (concourse)"]
    assert check.checked == ["concourse/registry (docker-registry)"]


def test_group_level_properties_are_checked_for_jobs_without_their_own(release_specs):
    manifest = {
        "instance_groups": [
            {
                "name": "g",
                "properties": {"docker": {"registry": {"bind": "0.0.0.0"}, "registry_bind": "x"}},
                "jobs": [{"name": "registry", "release": "docker-registry"}],
            }
        ]
    }
    (problem,) = problems(manifest, release_specs)
    assert problem["property"] == "docker.registry_bind"
    assert problem["message"].startswith("instance group 'g': group-level property 'docker.registry_bind'")


def test_group_level_properties_are_unchecked_when_an_uncovered_job_receives_them(release_specs):
    manifest = {
        "instance_groups": [
            {
                "name": "g",
                "properties": {"anything": 1},
                "jobs": [
                    {"name": "registry", "release": "docker-registry"},
                    {"name": "web", "release": "concourse"},
                ],
            }
        ]
    }
    assert problems(manifest, release_specs) == []


def test_global_properties_are_checked_once(release_specs):
    manifest = {
        "properties": {"nfs": {"server": "x"}},
        "instance_groups": [
            {"name": g, "jobs": [{"name": "registry", "release": "docker-registry"}]} for g in ("a", "b")
        ],
    }
    (problem,) = problems(manifest, release_specs)
    assert problem["message"].startswith("global property 'nfs.server'")


# ------------------------------------------------------------------------------------------------
# Nearest names


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("docker_registry.http.addr", ["docker.registry.bind", "docker.registry.port"]),
        ("docker.registry.address", ["docker.registry.bind"]),
        ("docker.registry.prot", ["docker.registry.port"]),
    ],
)
def test_undeclared_property_names_nearest_declared_one(path, expected):
    names = list(rs.load_release_specs([str(RELEASE_TREE)])["docker-registry"].jobs["registry"].properties)
    assert rs.nearest_names(path, names)[: len(expected)] == expected


def test_nothing_is_suggested_when_nothing_is_close():
    assert rs.nearest_names("zookeeper.tick_time", ["docker.registry.bind", "docker.registry.port"]) == []


# ------------------------------------------------------------------------------------------------
# What each job receives


def test_seed_registry_gets_only_declared_properties_so_it_stays_on_loopback(release_specs):
    received = rs.job_properties(rendered(SEED_GEN2), release_specs)
    registry = received["concourse"]["registry"]
    assert "docker_registry" not in registry
    assert registry["docker"]["registry"]["bind"] == "127.0.0.1"
    assert registry["docker"]["registry"]["port"] == 5000
    assert "web" not in received["concourse"]  # its release is not covered


def test_declared_values_win_over_defaults_and_maps_pass_whole(release_specs):
    properties = {"docker": {"proxy": {"port": 5000, "auth_basic": {"admin": "{PLAIN}pw"}, "bogus": 1}}}
    proxy = rs.job_properties(job(properties), release_specs)["g"]["proxy"]["docker"]["proxy"]
    assert proxy["port"] == 5000
    assert proxy["auth_basic"] == {"admin": "{PLAIN}pw"}
    assert proxy["backend"] == {"hosts": ["127.0.0.1"], "port": 5000}
    assert proxy["address"] == "*"
    assert "bogus" not in proxy


def test_null_in_the_manifest_falls_back_to_the_spec_default(release_specs):
    received = rs.job_properties(job({"docker": {"proxy": {"address": None}}}), release_specs)
    assert received["g"]["proxy"]["docker"]["proxy"]["address"] == "*"


def test_jobs_without_their_own_properties_receive_group_over_global_ones(release_specs):
    manifest = {
        "properties": {"docker": {"registry": {"bind": "0.0.0.0", "port": 6000}}},
        "instance_groups": [
            {
                "name": "g",
                "properties": {"docker": {"registry": {"port": 7000}}},
                "jobs": [{"name": "registry", "release": "docker-registry"}],
            }
        ],
    }
    registry = rs.job_properties(manifest, release_specs)["g"]["registry"]["docker"]["registry"]
    assert (registry["bind"], registry["port"]) == ("0.0.0.0", 7000)
