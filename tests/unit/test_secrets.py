"""The one secret-name rule (module_utils/secrets.py) and everything that applies it: the modules'
vars, fly's diff masking and the report's outputs."""

import pytest
from ansible_collections.nested.warden.plugins.filter.stages import report_summary, stage_result
from ansible_collections.nested.warden.plugins.module_utils import fly_output
from ansible_collections.nested.warden.plugins.module_utils.secrets import (
    REDACTED,
    is_secret_name,
    mask_secrets,
    secret_values,
)

SECRET_NAMES = [
    "password", "admin_password", "DB_PASSWORD", "dbpassword", "passphrase", "key_passphrase", "passwd",
    "db_pass", "pass", "secret", "client_secret", "BOSH_CLIENT_SECRET", "token", "github_token",
    "webhook_token", "credential", "credentials", "ssh_key", "access_key", "aws_secret_access_key",
    "private_key", "public_key", "key", "api-key", "private", "'private_key'",
]  # fmt: skip
NOT_SECRET_NAMES = [
    "bypass", "compass", "monkey", "keyboard", "keys", "ca", "ca_cert", "certificate", "host", "version",
    "username", "passed", "tokens_issued", "private_network", "secretary", "", "port",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_names_that_hold_secrets(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_names_that_do_not_hold_secrets(name):
    assert not is_secret_name(name)


def test_the_fly_diff_masks_by_the_same_rule():
    secret = [f"- {name}: old-value" for name in SECRET_NAMES]
    plain = [f"+ {name}: new-value" for name in NOT_SECRET_NAMES if name]
    masked = fly_output.mask_diff(secret + plain, keys=set())
    assert masked == [f"- {name}: {REDACTED}" for name in SECRET_NAMES] + plain


def test_module_vars_are_masked_by_the_same_rule():
    variables = {name: f"value-{number}" for number, name in enumerate(SECRET_NAMES + NOT_SECRET_NAMES)}
    assert sorted(secret_values(variables)) == sorted(variables[name] for name in SECRET_NAMES)


def test_mask_secrets_masks_whole_values_at_any_depth_and_keeps_the_rest():
    outputs = {
        "registry": {"host_port": "10.0.0.5:5000", "password": "pw", "tls": {"private_key": {"pem": "K"}}},
        "logins": [{"username": "admin", "token": "t"}],
        "empty_secret": "",
        "digest": "sha256:abc",
    }
    assert mask_secrets(outputs) == {
        "registry": {"host_port": "10.0.0.5:5000", "password": REDACTED, "tls": {"private_key": REDACTED}},
        "logins": [{"username": "admin", "token": REDACTED}],
        "empty_secret": "",
        "digest": "sha256:abc",
    }


def test_the_report_shows_no_stage_output_under_a_secret_name():
    result = stage_result(
        "passed", outputs={"registry_password": "pw-1", "registry": {"ssh_key": "k", "port": 5000}}
    )
    summary = report_summary({"registry_fix": result}, ["registry_fix"])
    assert summary["stages"][0]["outputs"] == {
        "registry_password": REDACTED,
        "registry": {"ssh_key": REDACTED, "port": 5000},
    }
    assert "pw-1" not in repr(summary)
