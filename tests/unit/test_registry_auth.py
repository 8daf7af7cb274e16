"""nested-check pull's WWW-Authenticate reading (the challenge decides Basic or the token flow)."""

import pytest
from nested_check.registry_auth import RegistryAuth, basic_authorization, parse_challenge

BEARER = 'Bearer realm="https://auth.test/token",service="registry.test",scope="repository:a/b:pull"'
# Servers also send bare values, and escaped quotes inside quoted ones.
BARE = 'bearer realm=http://127.0.0.1:5001/token, service="a \\"b\\""'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (BEARER, ("bearer", {"realm": "https://auth.test/token", "service": "registry.test",
                             "scope": "repository:a/b:pull"})),
        ('Basic realm="Registry Realm"', ("basic", {"realm": "Registry Realm"})),
        (BARE, ("bearer", {"realm": "http://127.0.0.1:5001/token", "service": 'a "b"'})),
        ("", ("", {})),
    ],
    ids=["bearer", "basic", "bare-and-escaped", "none"],
)  # fmt: skip
def test_challenges_are_read_into_scheme_and_parameters(header, expected):
    assert parse_challenge(header) == expected


def test_basic_credentials_are_sent_first_and_none_without_a_username():
    assert RegistryAuth({"username": "u", "password": "p"}).authorization == basic_authorization(
        {"username": "u", "password": "p"}
    )
    assert basic_authorization({"username": "u", "password": "p"}) == "Basic dTpw"
    anonymous = RegistryAuth({"username": "", "password": ""})
    assert (anonymous.authorization, anonymous.scheme) == (None, "anonymous")


def test_a_token_server_url_other_than_http_is_refused():
    with pytest.raises(ValueError, match="not an HTTP URL: file:///etc/passwd"):
        RegistryAuth({}).token({"realm": "file:///etc/passwd"}, timeout=1)
