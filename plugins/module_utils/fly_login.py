"""Logging in without the password on fly's command line: the password grant fly itself uses,
asked of Concourse's token endpoint (client `fly`); the token goes to `fly login` on stdin."""

from __future__ import annotations

import json
from urllib.error import HTTPError
from urllib.parse import urlencode

from ansible_collections.nested.warden.plugins.module_utils.fly_output import FlyError

# fly's own OAuth client and scopes for the password grant (fly/commands/login.go).
TOKEN_PATH = "/sky/issuer/token"  # noqa: S105 -- a URL path
FLY_CLIENT_ID = "fly"
FLY_CLIENT_SECRET = "Zmx5"  # noqa: S105 -- public, compiled into every fly
TOKEN_SCOPES = "openid profile email federated:id groups"  # noqa: S105


class LoginRejected(FlyError):
    pass


def fetch_token(opener, api_url, username, password, *, ca_cert=None, insecure=False, timeout=30):
    """(token_type, access_token) from Concourse's token endpoint, the password grant fly uses.

    opener: ansible.module_utils.urls.open_url or a stand-in with the same signature.
    """
    url = api_url.rstrip("/") + TOKEN_PATH
    body = urlencode(
        {"grant_type": "password", "username": username, "password": password, "scope": TOKEN_SCOPES}
    )
    try:
        response = opener(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            url_username=FLY_CLIENT_ID,
            url_password=FLY_CLIENT_SECRET,
            force_basic_auth=True,
            validate_certs=not insecure,
            ca_path=ca_cert,
            timeout=timeout,
        )
        document = json.loads(response.read().decode("utf-8"))
    except HTTPError as err:
        reason = _oauth_error(err)
        if err.code in (400, 401, 403):
            raise LoginRejected(
                f"Concourse at {api_url} rejected the login of user '{username}': {reason}",
                kind="login_rejected",
            ) from None
        raise FlyError(
            f"Concourse at {api_url} answered {err.code} to the token request: {reason}", kind="login_failed"
        ) from None
    except ValueError as err:
        raise FlyError(
            f"Concourse at {api_url} answered the token request with something that is not JSON: {err}",
            kind="login_failed",
        ) from None
    except Exception as err:  # URLError, SSL and socket errors all mean "cannot reach"
        reason = getattr(err, "reason", None) or err
        hint = (
            " (check ca_cert, or set insecure for a self-signed certificate)"
            if "certificate" in str(reason).lower()
            else ""
        )
        raise FlyError(f"Concourse at {api_url} is unreachable: {reason}{hint}", kind="unreachable") from None
    token = document.get("access_token") if isinstance(document, dict) else None
    if not token:
        raise FlyError(f"Concourse at {api_url} returned no access token", kind="login_failed")
    return (document.get("token_type") or "bearer"), token


def _oauth_error(err):
    try:
        document = json.loads(err.read().decode("utf-8"))
    except Exception:  # any unreadable body: fall back to the status line
        document = None
    if isinstance(document, dict) and (document.get("error") or document.get("error_description")):
        return document.get("error_description") or document.get("error")
    return f"HTTP {err.code} {getattr(err, 'reason', '')}".strip()
