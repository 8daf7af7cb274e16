"""The input digest that lets the concourse stage skip an unchanged render."""

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.filter.files import (
    COLLECTION_ROOT,
    collection_files_digest,
    files_digest,
)


def test_digest_changes_with_content_names_and_new_files_but_not_bytecode(tmp_path):
    spec = tmp_path / "release" / "jobs" / "registry"
    spec.mkdir(parents=True)
    (spec / "spec").write_text("properties: {}\n")
    manifest = tmp_path / "manifest.yml"
    manifest.write_text("name: concourse\n")
    paths = [str(manifest), str(tmp_path / "release"), str(tmp_path / "store.yml")]
    first = files_digest(paths)
    assert files_digest(paths) == first
    (spec / "__init__.pyc").write_bytes(b"\0")
    assert files_digest(paths) == first
    (spec / "spec").write_text("properties: {a: 1}\n")
    second = files_digest(paths)
    assert second != first
    (tmp_path / "store.yml").write_text("password: x\n")
    assert files_digest(paths) != second


def test_paths_must_be_a_list():
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        files_digest("/etc/hostname")


def test_relative_names_keep_the_digest_of_a_moved_tree_but_not_of_a_renamed_file(tmp_path):
    for place in ("a", "b"):
        (tmp_path / place / "sub").mkdir(parents=True)
        (tmp_path / place / "sub" / "Dockerfile").write_text("FROM scratch\n")
    here, there = str(tmp_path / "a"), str(tmp_path / "b")
    assert files_digest([here], relative_to=here) == files_digest([there], relative_to=there)
    assert files_digest([here]) != files_digest([there])
    (tmp_path / "b" / "sub" / "Dockerfile").rename(tmp_path / "b" / "sub" / "Containerfile")
    assert files_digest([here], relative_to=here) != files_digest([there], relative_to=there)


def test_collection_code_is_digested_from_inside_the_collection_wherever_it_is():
    code = ["plugins/modules/bosh_deploy.py", "plugins/module_utils"]
    digest = collection_files_digest(code)
    assert digest == files_digest([f"{COLLECTION_ROOT}/{path}" for path in code], relative_to=COLLECTION_ROOT)
    assert (Path(COLLECTION_ROOT) / "galaxy.yml").is_file()


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside", "plugins/../../outside"])
def test_collection_paths_stay_inside_the_collection(path):
    with pytest.raises(AnsibleFilterError, match="not a path inside the collection"):
        collection_files_digest([path])
