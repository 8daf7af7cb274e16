"""The built-in renderer: yaml.v2 scalars, go-patch ops, ((variables)) and the vars store.

Expected texts and results come from bosh-cli v7 (go-patch v0.2.0, director/template) and were
checked against the real `bosh interpolate` (tests/integration/test_bosh_render_parity.py
compares with its recorded output, and with a live bosh CLI wherever one exists).
"""

import os
import stat

import pytest
from ansible_collections.nested.warden.plugins.module_utils import bosh_manifest as bm
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MANIFEST = """\
name: d
instance_groups:
- name: a
  jobs:
  - {name: j1, release: r}
  - {name: j2, release: r}
- name: b
  jobs: []
list: [1, 2, 3]
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def apply(tmp_path, ops_text, manifest=MANIFEST):
    ops = write(tmp_path, "ops.yml", ops_text)
    return bm.render(write(tmp_path, "m.yml", manifest), ops_files=[ops]).manifest


def apply_error(tmp_path, ops_text, manifest=MANIFEST):
    with pytest.raises(bm.BoshError) as caught:
        apply(tmp_path, ops_text, manifest)
    return str(caught.value).replace(str(tmp_path) + "/", "")


# ------------------------------------------------------------------------------------------------
# YAML as yaml.v2 reads it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("y", True),
        ("N", False),
        ("on", True),
        ("1:30", "1:30"),
        ("08", 8.0),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", 1000),
        ("1e3", 1000.0),
        ("2001-12-14", "2001-12-14"),
        (".5", 0.5),
        ("-0b11", -3),
        ("0b2", "0b2"),
        ("~", None),
        ("'y'", "y"),
    ],
)
def test_plain_scalars_mean_what_they_mean_to_yaml_v2(text, expected):
    value = bm.load_yaml_text(f"x: {text}\n")["x"]
    assert value == expected
    assert type(value) is type(expected)


def test_only_the_first_yaml_document_is_read():
    assert bm.load_yaml_text("a: 1\n---\na: 2\n") == {"a": 1}


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "bad.yml", "a: 1\n b: 2\n")
    with pytest.raises(bm.BoshFileError) as caught:
        bm.load_yaml_file(path, "manifest")
    assert caught.value.line == 2
    assert f"manifest '{path}' line 2" in str(caught.value)
    assert "not valid YAML" in str(caught.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(bm.BoshFileError, match=r"ops file '.*nope.yml': no such file"):
        bm.load_ops_file(str(tmp_path / "nope.yml"))


def test_dumped_strings_that_yaml_v2_would_misread_are_quoted():
    text = bm.dump_yaml({"a": "y", "b": "1", "c": "plain", "d": "2001-12-14"})
    assert bm.load_yaml_text(text) == {"a": "y", "b": "1", "c": "plain", "d": "2001-12-14"}
    assert "c: plain" in text


def test_dumped_keys_are_sorted_like_yaml_v2_with_numbers_first_and_digits_naturally():
    text = bm.dump_yaml({"b10": 1, "b9": 1, "a": 1, 2: 1})
    assert [line.split(":")[0] for line in text.splitlines()] == ["2", "a", "b9", "b10"]


def test_multiline_strings_are_dumped_as_literal_blocks():
    assert bm.dump_yaml({"cert": "line1\nline2\n"}) == "cert: |\n  line1\n  line2\n"


# ------------------------------------------------------------------------------------------------
# Pointers


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/a",
        "/a/0",
        "/a/-",
        "/a/name=x",
        "/a?/b",
        "/a/name=x?/b",
        "/a~1b~0c~7d",
        "/a/0:before",
        "/a/k=v:after",
    ],
)
def test_pointers_print_back_as_written(path):
    assert str(bm.Pointer.parse(path)) == path


def test_optional_marker_is_printed_once_though_it_applies_to_later_tokens():
    pointer = bm.Pointer.parse("/a?/b/c")
    assert [t.optional for t in pointer.tokens[1:]] == [True, True, True]
    assert str(pointer) == "/a?/b/c"


def test_pointer_must_start_with_a_slash():
    with pytest.raises(bm.BoshError, match="Expected to start with '/'"):
        bm.Pointer.parse("a/b")


def test_dash_in_the_middle_of_a_path_is_a_map_key():
    assert isinstance(bm.Pointer.parse("/-/x").tokens[1], bm.KeyToken)


# ------------------------------------------------------------------------------------------------
# Ops files


def test_replace_appends_with_dash_and_selects_array_items_by_any_key(tmp_path):
    doc = apply(
        tmp_path,
        "- {type: replace, path: /list/-, value: 4}\n"
        '- {type: replace, path: "/instance_groups/name=a/jobs/name=j2/properties?/x", value: 1}\n',
    )
    assert doc["list"] == [1, 2, 3, 4]
    assert doc["instance_groups"][0]["jobs"][1] == {"name": "j2", "release": "r", "properties": {"x": 1}}


def test_negative_indexes_count_from_the_end(tmp_path):
    assert apply(tmp_path, "- {type: replace, path: /list/-1, value: x}\n")["list"] == [1, 2, "x"]


def test_before_and_after_modifiers_insert_instead_of_replacing(tmp_path):
    doc = apply(
        tmp_path,
        "- {type: replace, path: /list/0:before, value: a}\n"
        "- {type: replace, path: /list/3:after, value: z}\n",
    )
    assert doc["list"] == ["a", 1, 2, 3, "z"]


def test_optional_segments_create_missing_maps_and_array_items(tmp_path):
    doc = apply(
        tmp_path,
        '- {type: replace, path: "/nope?/x/y", value: 1}\n'
        '- {type: replace, path: "/items?/name=z/v", value: 2}\n'
        '- {type: replace, path: "/instance_groups/name=c?/jobs", value: []}\n',
    )
    assert doc["nope"] == {"x": {"y": 1}}
    assert doc["items"] == [{"name": "z", "v": 2}]
    assert doc["instance_groups"][-1] == {"name": "c", "jobs": []}


def test_escaped_slash_tilde_and_colon_reach_the_key(tmp_path):
    assert apply(tmp_path, '- {type: replace, path: "/a~1b~0c~7d?", value: 1}\n')["a/b~c:d"] == 1


def test_remove_deletes_keys_and_items_and_ignores_missing_optional_ones(tmp_path):
    doc = apply(
        tmp_path,
        "- {type: remove, path: /instance_groups/name=a/jobs/name=j1}\n"
        "- {type: remove, path: /list/1}\n"
        '- {type: remove, path: "/nope?/x"}\n'
        '- {type: remove, path: "/instance_groups/name=zz?"}\n',
    )
    assert doc["instance_groups"][0]["jobs"] == [{"name": "j2", "release": "r"}]
    assert doc["list"] == [1, 3]


def test_selector_matches_strings_only(tmp_path):
    manifest = "items: [{id: 1}, {id: '1'}]\n"
    doc = apply(tmp_path, '- {type: replace, path: "/items/id=1/x?", value: v}\n', manifest)
    assert doc["items"] == [{"id": 1}, {"id": "1", "x": "v"}]


def test_replacing_a_missing_key_needs_the_optional_marker(tmp_path):
    assert apply_error(tmp_path, "- {type: replace, path: /new, value: 1}\n").endswith(
        "Expected to find a map key 'new' for path '/new' (found map keys: 'instance_groups', 'list', 'name')"
    )


def test_test_op_passes_through_or_fails_with_bosh_text(tmp_path):
    assert apply(tmp_path, "- {type: test, path: /name, value: d}\n")["name"] == "d"
    assert apply_error(tmp_path, "- {type: test, path: /name, value: e}\n") == (
        "Error 'operation [0] in ops.yml failed': Found value does not match expected value"
    )


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            "- {type: replace, path: /nope/x, value: 1}",
            "Expected to find a map key 'nope' for path '/nope' "
            "(found map keys: 'instance_groups', 'list', 'name')",
        ),
        (
            "- {type: replace, path: /list/3, value: 1}",
            "Expected to find array index '3' but found array of length '3' for path '/list/3'",
        ),
        (
            "- {type: replace, path: /instance_groups/name=a/jobs/name=j9, value: 1}",
            "Expected to find exactly one matching array item for path "
            "'/instance_groups/name=a/jobs/name=j9' but found 0",
        ),
        (
            "- {type: replace, path: /instance_groups/name=a/jobs/release=r/x, value: 1}",
            "Expected to find exactly one matching array item for path "
            "'/instance_groups/name=a/jobs/release=r' but found 2",
        ),
        (
            "- {type: replace, path: /name/0, value: 1}",
            "Expected to find an array at path '/name/0' but found 'string'",
        ),
        (
            "- {type: replace, path: /list/-/x, value: 1}",
            "Expected to find a map at path '/list/-' but found '[]interface {}'",
        ),
        (
            '- {type: replace, path: "/nope?/0", value: 1}',
            "Expected to find key, matching index or after last index token at path '/nope?/0'",
        ),
        (
            "- {type: remove, path: /instance_groups/name=a/jobs/-}",
            "Expected to not find token 'patch.AfterLastIndexToken' at path '/instance_groups/name=a/jobs/-'",
        ),
        ('- {type: remove, path: ""}', "Cannot remove entire document"),
    ],
)
def test_failing_operations_report_go_patch_texts(tmp_path, ops, message):
    assert apply_error(tmp_path, ops + "\n") == f"Error 'operation [0] in ops.yml failed': {message}"


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ("- {type: replace, path: /x}", "Replace operation [0]: Missing value within"),
        ("- {type: replace, path: /x, value: ~}", "Replace operation [0]: Missing value within"),
        ("- {type: replace, value: 1}", "Replace operation [0]: Missing path within"),
        ("- {type: remove, path: /x, value: 1}", "Remove operation [0]: Cannot specify value within"),
        ("- {type: bogus, path: /x}", "Unknown operation [0] with type 'bogus' within"),
        (
            "- {type: replace, path: x, value: 1}",
            "Replace operation [0]: Invalid path: Expected to start with '/' within",
        ),
        (
            "- {type: replace, path: /list/0:bogus, value: 1}",
            "Replace operation [0]: Invalid path: Expected to find one of the following modifiers: "
            "'prev', 'next', 'before', or 'after' but found 'bogus' within",
        ),
    ],
)
def test_malformed_operations_are_rejected_before_applying_anything(tmp_path, ops, message):
    assert apply_error(tmp_path, ops + "\n").startswith(f"Building ops: {message}\n{{\n")


def test_malformed_operation_is_shown_with_its_value_redacted(tmp_path):
    text = apply_error(tmp_path, "- {type: remove, path: /x, value: secret}\n")
    assert '"Value": "<redacted>"' in text
    assert "secret" not in text
    assert '"Error": "operation [0] in ops.yml failed"' in text


def test_ops_file_that_is_not_a_list_is_a_file_error(tmp_path):
    with pytest.raises(bm.BoshFileError, match="expected a list of operations"):
        apply(tmp_path, "type: replace\n")


# ------------------------------------------------------------------------------------------------
# Variables


def render_text(tmp_path, manifest, **kwargs):
    return bm.render(write(tmp_path, "m.yml", manifest), **kwargs)


def test_whole_value_keeps_the_variable_type_and_inline_values_become_text(tmp_path):
    result = render_text(
        tmp_path,
        "a: ((m))\nb: x-((n))-((s))\nc: ((!s))\nd: ((missing))\n",
        variables={"m": {"k": [1]}, "n": 5, "s": "str"},
    )
    assert result.manifest == {"a": {"k": [1]}, "b": "x-5-str", "c": "str", "d": "((missing))"}
    assert result.unresolved == ["missing"]


def test_dotted_names_reach_into_values_and_numbers_can_be_keys(tmp_path):
    result = render_text(
        tmp_path,
        "a: ((c.certificate))\nb: ((l.0))\nc: ((k.0))\n",
        variables={"c": {"certificate": "C"}, "l": ["x"], "k": {"0": "z"}},
    )
    assert result.manifest == {"a": "C", "b": "x", "c": "z"}


def test_missing_key_behind_a_dotted_name_names_the_variable(tmp_path):
    with pytest.raises(bm.BoshError) as caught:
        render_text(tmp_path, "a: ((x.z))\n", variables={"x": {"y": 1}})
    assert caught.value.multiline() == (
        "Finding variable 'x.z':\n  Expected to find a map key 'z' for path '/z' (found map keys: 'y')"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.5, "'float64' for value '1.5'"),
        (1000000.0, "'float64' for value '1e+06'"),
        (True, "'bool' for value 'true'"),
        ({"b": 1, "a": [1, "x"]}, "'map[interface {}]interface {}' for value 'map[a:[1 x] b:1]'"),
    ],
)
def test_non_text_value_inside_a_string_is_refused_with_go_formatting(tmp_path, value, shown):
    with pytest.raises(bm.BoshError) as caught:
        render_text(tmp_path, "a: pre-((v))\n", variables={"v": value})
    assert str(caught.value) == (
        f"Invalid type {shown} and variable 'v'. Supported types for interpolation within a string are "
        "integers and strings."
    )


def test_spaced_placeholder_is_replaced_only_as_a_whole_value(tmp_path):
    result = render_text(tmp_path, "a: (( v ))\nb: x-(( v ))\n", variables={"v": "s"})
    assert result.manifest == {"a": "s", "b": "x-(( v ))"}


def test_vars_win_over_vars_files_and_later_files_win(tmp_path):
    first = write(tmp_path, "1.yml", "a: file1\nb: file1\nc: file1\n")
    second = write(tmp_path, "2.yml", "b: file2\nc: file2\n")
    result = render_text(
        tmp_path, "x: [((a)), ((b)), ((c))]\n", vars_files=[first, second], variables={"c": "var"}
    )
    assert result.manifest["x"] == ["file1", "file2", "var"]


def test_variables_found_are_removed_from_the_variables_section(tmp_path):
    result = render_text(tmp_path, "a: ((x))\nvariables: [{name: x}, {name: other}]\n", variables={"x": 1})
    assert result.manifest == {"a": 1, "variables": [{"name": "other"}]}


def test_values_of_variables_are_not_interpolated_again(tmp_path):
    assert render_text(tmp_path, "a: ((x))\n", variables={"x": "((y))", "y": 1}).manifest == {"a": "((y))"}


def test_path_returns_one_value_after_interpolation(tmp_path):
    assert render_text(tmp_path, "a: {b: [((x)), 2]}\n", variables={"x": 1}, path="/a/b/0").value == 1


def test_path_to_a_missing_key_fails_with_bosh_text(tmp_path):
    with pytest.raises(
        bm.BoshError, match=r"Expected to find a map key 'c' for path '/a/c' \(found map keys: 'b'\)"
    ):
        render_text(tmp_path, "a: {b: 1}\n", path="/a/c")


# ------------------------------------------------------------------------------------------------
# Vars store


STORE_MANIFEST = """\
password: ((pw))
long: ((long))
ca: ((ca.certificate))
cert: ((cert.certificate))
variables:
- {name: pw, type: password}
- {name: long, type: password, options: {length: 32}}
- {name: ca, type: certificate, options: {is_ca: true, common_name: test-ca}}
- name: cert
  type: certificate
  options: {ca: ca, common_name: ((host)), alternative_names: [((host)), reg.bosh]}
"""


def test_declared_variables_are_generated_into_a_0600_store_and_reused(tmp_path):
    store = tmp_path / "store.yml"
    result = render_text(tmp_path, STORE_MANIFEST, vars_store=str(store), variables={"host": "10.0.0.5"})
    assert result.generated == ["pw", "long", "ca", "cert"]
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    saved = bm.load_yaml_file(str(store), "store")
    assert set(saved) == {"pw", "long", "ca", "cert"}
    assert len(saved["pw"]) == 20
    assert saved["pw"].isalnum()
    assert saved["pw"] == saved["pw"].lower()
    assert len(saved["long"]) == 32
    assert result.manifest["password"] == saved["pw"]
    assert "variables" in result.manifest
    assert result.manifest["variables"] == []

    again = render_text(tmp_path, STORE_MANIFEST, vars_store=str(store), variables={"host": "10.0.0.5"})
    assert again.generated == []
    assert again.manifest["password"] == saved["pw"]


def test_generated_certificate_is_signed_by_its_ca_with_the_requested_names(tmp_path):
    store = tmp_path / "store.yml"
    render_text(tmp_path, STORE_MANIFEST, vars_store=str(store), variables={"host": "10.0.0.5"})
    saved = bm.load_yaml_file(str(store), "store")
    ca = x509.load_pem_x509_certificate(saved["ca"]["certificate"].encode())
    cert = x509.load_pem_x509_certificate(saved["cert"]["certificate"].encode())
    assert saved["cert"]["ca"] == saved["ca"]["certificate"]
    assert saved["cert"]["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "10.0.0.5"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Cloud Foundry"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert names.get_values_for_type(x509.DNSName) == ["reg.bosh"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_options_with_missing_variables_leave_the_variable_ungenerated(tmp_path):
    store = tmp_path / "store.yml"
    result = render_text(tmp_path, STORE_MANIFEST, vars_store=str(store))
    assert "cert" not in result.generated
    assert result.manifest["cert"] == "((cert.certificate))"
    assert result.manifest["variables"] == [
        {
            "name": "cert",
            "type": "certificate",
            "options": {"ca": "ca", "common_name": "((host))", "alternative_names": ["((host))", "reg.bosh"]},
        }
    ]


def test_ssh_and_rsa_keys_have_bosh_shapes(tmp_path):
    store = tmp_path / "store.yml"
    render_text(tmp_path, "variables: [{name: s, type: ssh}, {name: r, type: rsa}]\n", vars_store=str(store))
    saved = bm.load_yaml_file(str(store), "store")
    assert set(saved["s"]) == {"private_key", "public_key", "public_key_fingerprint"}
    assert saved["s"]["public_key"].startswith("ssh-rsa ")
    assert saved["s"]["public_key"].endswith("\n")
    assert len(saved["s"]["public_key_fingerprint"].split(":")) == 16
    assert saved["r"]["public_key"].startswith("-----BEGIN PUBLIC KEY-----")


def test_unsupported_variable_type_fails_with_bosh_wording(tmp_path):
    with pytest.raises(bm.BoshError) as caught:
        render_text(tmp_path, "variables: [{name: u, type: user}]\n", vars_store=str(tmp_path / "s.yml"))
    assert caught.value.multiline() == (
        "Getting all variables from variable definitions sections:\n"
        "  Generating variable 'u':\n"
        "    Unsupported value type: user"
    )


def test_static_values_are_used_before_the_store_generates(tmp_path):
    store = tmp_path / "store.yml"
    result = render_text(
        tmp_path,
        "a: ((pw))\nvariables: [{name: pw, type: password}]\n",
        vars_store=str(store),
        variables={"pw": "given"},
    )
    assert result.manifest["a"] == "given"
    assert not store.exists()


def test_check_mode_store_generates_in_memory_and_leaves_the_file_alone(tmp_path):
    store = tmp_path / "store.yml"
    store.write_text("other: kept\n")
    result = render_text(
        tmp_path,
        "a: ((pw))\nvariables: [{name: pw, type: password}]\n",
        vars_store=str(store),
        save_store=False,
    )
    assert result.generated == ["pw"]
    assert result.store_values["pw"] == result.manifest["a"]
    assert store.read_text() == "other: kept\n"
