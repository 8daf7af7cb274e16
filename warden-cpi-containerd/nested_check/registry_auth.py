"""How nested-check's pull authenticates to a registry: Basic first (one request where the
registry takes it), then the distribution token flow when the registry answers 401 with a Bearer
challenge (GET realm?service=&scope= with the same credentials, then `Authorization: Bearer`).
The credentials come from the auth file and never appear in a message."""

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request

CHALLENGE_PARAM = re.compile(r'([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


def parse_challenge(header):
    """(scheme in lower case, {param: value}) of one WWW-Authenticate challenge."""
    scheme, _space, rest = (header or "").strip().partition(" ")
    params = {}
    for match in CHALLENGE_PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    return scheme.lower(), params


def basic_authorization(auth):
    pair = f"{auth.get('username') or ''}:{auth.get('password') or ''}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def http_url(url):
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    return url


class RegistryAuth:
    """Opens registry URLs with the auth file's credentials ({"username", "password"})."""

    def __init__(self, auth, context=None):
        self.auth = auth
        self.context = context
        self.scheme = "basic" if auth.get("username") else "anonymous"
        self.authorization = basic_authorization(auth) if auth.get("username") else None

    def open(self, url, accept=None, timeout=60):
        try:
            return self._open(url, accept, timeout)
        except urllib.error.HTTPError as error:
            scheme, params = parse_challenge(error.headers.get("WWW-Authenticate") if error.headers else "")
            if error.code != 401 or scheme != "bearer":
                raise
            error.close()
        # A new token for every 401: the first, and one that expired during a long pull.
        self.authorization = "Bearer " + self.token(params, timeout)
        self.scheme = "bearer"
        return self._open(url, accept, timeout)

    def _open(self, url, accept, timeout):
        request = urllib.request.Request(http_url(url))  # noqa: S310 (scheme checked)
        if accept:
            request.add_header("Accept", accept)
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        context = self.context if url.startswith("https://") else None
        return urllib.request.urlopen(request, timeout=timeout, context=context)  # noqa: S310

    def token(self, challenge, timeout):
        realm = challenge.get("realm")
        if not realm:
            raise ValueError("the registry asked for a token without naming its token server (no realm)")
        query = {key: challenge[key] for key in ("service", "scope") if challenge.get(key)}
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query) if query else realm
        request = urllib.request.Request(http_url(url))  # noqa: S310 (scheme checked)
        if self.auth.get("username"):
            request.add_header("Authorization", basic_authorization(self.auth))
        context = self.context if url.startswith("https://") else None
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
                document = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise ValueError(
                f"token server {realm} answered {error.code} {error.reason}"
                + (": check the username and password (not shown)" if error.code in (401, 403) else "")
            ) from None
        token = document.get("token") or document.get("access_token") if isinstance(document, dict) else None
        if not token:
            raise ValueError(f"token server {realm} returned no token")
        return token
