"""The Docker Registry HTTP API v2 as nested-warden speaks it, written once for the collection's
modules (plugins/module_utils/registry_api.py is a link to this file) and for nested-check in the
image: the API's media types and scopes, WWW-Authenticate challenges and Link headers, and
RegistryApi, the requests with their authentication (Basic, or the distribution token flow) over
the transport a subclass gives (Ansible's url helpers in the modules, urllib in the image).
Failures are RegistryErrors with one of ERROR_KINDS; credentials never appear in a message.
Standard library only, Python 3.8 and later (what the modules support)."""

import base64
import hashlib
import http.client
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

ERROR_KINDS = ("refused", "timeout", "dns", "tls", "unauthorized", "not_found", "unexpected")
# The manifest request must offer every current format: a registry answers 404 for a manifest
# whose type the client did not accept (OCI images pushed by skopeo or buildah, for instance).
MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
CATALOG_SCOPE = "registry:catalog:*"
EXCERPT_LENGTH = 200
MAX_PAGES = 10000
# Blobs are streamed to their destination in pieces of this size (layers are hundreds of MB).
CHUNK_SIZE = 1 << 20
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
# RFC 7235 wants a token here; servers also send bare URLs, so take anything up to a comma.
_BARE_VALUE = re.compile(r"[^\s,\"]+")
_LINK = re.compile(r"<([^>]*)>([^,]*)")


def config_digest(body):
    """The config digest a single image's manifest names; None for a list or index, or a body
    that is not such a manifest."""
    try:
        config = json.loads(body).get("config")
    except (ValueError, AttributeError):
        return None
    digest = config.get("digest") if isinstance(config, dict) else None
    return digest if isinstance(digest, str) and digest.startswith("sha256:") else None


class RegistryError(Exception):
    """A classified failure: kind is one of ERROR_KINDS."""

    def __init__(self, kind, message, status=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status

    def as_dict(self):
        return {"kind": self.kind, "message": self.message}


@dataclass
class Challenge:
    """One challenge of a WWW-Authenticate header: scheme (lower case) and its parameters."""

    scheme: str
    params: dict = field(default_factory=dict)


def parse_challenges(header_values):
    """Parse WWW-Authenticate values (RFC 7235) into Challenges.

    One value may hold several challenges ('Basic realm="a", Bearer realm="b"') and quoted
    values may hold commas (a Bearer scope such as "repository:app:pull,push").
    """
    challenges = []
    for value in header_values:
        position = 0
        while position < len(value):
            if value[position] in " \t,":
                position += 1
                continue
            name = _TOKEN.match(value, position)
            if not name:
                position += 1  # not a token: skip it rather than give up on the rest
                continue
            position = name.end()
            after_name = _skip_spaces(value, position)
            is_parameter = after_name < len(value) and value[after_name] == "=" and challenges
            if not is_parameter:
                challenges.append(Challenge(name.group().lower()))
                continue
            position = _skip_spaces(value, after_name + 1)
            quoted = _QUOTED.match(value, position)
            if quoted:
                parameter = re.sub(r"\\(.)", r"\1", quoted.group(1))
                position = quoted.end()
            else:
                bare = _BARE_VALUE.match(value, position)
                parameter = bare.group() if bare else ""
                position = bare.end() if bare else position
            challenges[-1].params[name.group().lower()] = parameter
    return challenges


def _skip_spaces(text, position):
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def next_link(header_value, current_url):
    """The absolute URL of the Link header's rel="next" target, or None.

    The registry sends it relative ('</v2/_catalog?last=b&n=1>; rel="next"').
    """
    for target, params in _LINK.findall(header_value or ""):
        relations = re.search(r'rel\s*=\s*"?([^";]*)"?', params)
        if relations and "next" in relations.group(1).lower().split():
            return urljoin(current_url, target.strip())
    return None


def body_excerpt(body):
    """A short, single-line excerpt of a response body, preferring the registry's error codes."""
    try:
        errors = json.loads(body).get("errors") or []
        described = "; ".join(f"{error.get('code')}: {error.get('message')}" for error in errors)
        if described:
            return described[:EXCERPT_LENGTH]
    except (ValueError, AttributeError, TypeError):
        pass
    text = " ".join(body.decode("utf-8", "replace").split())
    if not text:
        return "(empty body)"
    return text[:EXCERPT_LENGTH] + ("..." if len(text) > EXCERPT_LENGTH else "")


class Response:
    def __init__(self, status, headers, body, url):
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def header_values(self, name):
        return (self.headers.get_all(name) or []) if self.headers is not None else []

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise RegistryError(
                "unexpected",
                f"{self.url} answered HTTP {self.status} with a body that is not JSON: "
                f"{body_excerpt(self.body)}",
            ) from None


def basic_authorization(username, password):
    """The Authorization header's value for Basic credentials."""
    pair = f"{username}:{password or ''}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def read_body(answer, sink=None):
    """The body of an HTTP answer (http.client's); with a sink and a 200 answer, the body goes to
    sink(chunk) piece by piece instead and b"" is returned."""
    if sink is None or answer.status != 200:
        return answer.read()
    for chunk in iter(lambda: answer.read(CHUNK_SIZE), b""):
        sink(chunk)
    return b""


def read_error_body(error):
    """The start of an HTTP error answer's body (an excerpt is all a message needs), or b"" when
    the connection broke while reading it."""
    try:
        return error.read(64 * 1024)
    except (OSError, http.client.HTTPException):
        return b""


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryApi:
    """Requests to one registry's /v2/ API, authenticated as the registry asks; remembers how.

    A subclass sends them: _open(method, url, headers, sink=None) returns a Response (any HTTP
    status) or raises RegistryError for a failure below HTTP. base_url has no trailing slash.
    """

    def __init__(self, base_url, username=None, password=None):
        self.base_url = base_url
        self.username = username
        self.password = password
        self.auth = "none"
        self.ping_status = None
        self._basic = None
        self._tokens = {}

    def _open(self, method, url, headers, sink=None):
        raise NotImplementedError

    def ping(self):
        """GET /v2/: the API version the registry reports, after any authentication."""
        try:
            response = self._call("GET", "v2/")
        except RegistryError as error:
            self.ping_status = error.status
            raise
        self.ping_status = response.status
        if response.status == 404:
            raise RegistryError(
                "unexpected",
                f"{response.url} answered HTTP 404: no Docker Registry v2 API there; check the "
                "host, port and any path in url",
            )
        self._expect_ok(response)
        return response.header("Docker-Distribution-API-Version")

    def catalog(self, page_size):
        return self._paginate(f"v2/_catalog?n={page_size}", "repositories", CATALOG_SCOPE, "the catalog")

    def tags(self, repository, page_size):
        # Sorted: the registry lists tags in storage order, which differs between runs and hosts.
        return sorted(
            self._paginate(
                f"v2/{repository}/tags/list?n={page_size}",
                "tags",
                f"repository:{repository}:pull",
                f"repository {repository!r}",
            )
        )

    def manifest_response(self, repository, reference):
        """GET the manifest: (the Response, its digest), the digest checked against the body."""
        response = self._call(
            "GET",
            f"v2/{repository}/manifests/{reference}",
            f"repository:{repository}:pull",
            {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)},
        )
        if response.status == 404:
            raise RegistryError(
                "not_found", f"tag {reference!r} not found in repository {repository!r} at {self.base_url}"
            )
        self._expect_ok(response)
        # Some registries and proxies omit the header: the digest is the hash of the body.
        arrived = sha256_digest(response.body)
        digest = response.header("Docker-Content-Digest") or arrived
        if digest.startswith("sha256:") and digest != arrived:
            raise RegistryError(
                "unexpected",
                f"the manifest of {repository}:{reference} arrived as {arrived}, the registry says {digest}: "
                "a proxy between here and the registry may have changed it",
            )
        return response, digest

    def manifest(self, repository, reference):
        """The manifest (a few KB) in short: its digest, media type, size and, for a single
        image's manifest, the digest of its config (the image ID an engine with the classic image
        store gives the image)."""
        response, digest = self.manifest_response(repository, reference)
        return {
            "digest": digest,
            "media_type": (response.header("Content-Type") or "").split(";")[0].strip() or None,
            "size": len(response.body),
            "config_digest": config_digest(response.body),
        }

    def blob(self, repository, digest, sink):
        """Stream a blob to sink(chunk), checking that it is what its digest says."""
        hashed = hashlib.sha256()

        def write(chunk):
            hashed.update(chunk)
            sink(chunk)

        response = self._call(
            "GET", f"v2/{repository}/blobs/{digest}", f"repository:{repository}:pull", sink=write
        )
        if response.status == 404:
            raise RegistryError(
                "not_found", f"blob {digest} not found in repository {repository!r} at {self.base_url}"
            )
        self._expect_ok(response)
        if digest.startswith("sha256:") and f"sha256:{hashed.hexdigest()}" != digest:
            raise RegistryError(
                "unexpected", f"blob {digest} of {repository!r} arrived as sha256:{hashed.hexdigest()}"
            )

    def _paginate(self, path, key, scope, what):
        url = self._url(path)
        items = []
        seen = set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise RegistryError("unexpected", f"pagination of {what} at {self.base_url} loops at {url}")
            seen.add(url)
            response = self._call("GET", url, scope)
            if response.status == 404:
                raise RegistryError(
                    "not_found",
                    f"{what} not found at {self.base_url} ({body_excerpt(response.body)}); "
                    "catalog: true lists the repositories that exist",
                )
            self._expect_ok(response)
            page = response.json()
            # A repository whose tags were all deleted answers "tags": null.
            if not isinstance(page, dict) or not isinstance(page.get(key) or [], list):
                raise RegistryError(
                    "unexpected",
                    f"{url} answered {body_excerpt(response.body)}: expected a JSON object with a list "
                    f"under {key!r}; is url a Docker registry?",
                )
            items.extend(page.get(key) or [])
            url = next_link(response.header("Link"), url)
        return items

    def _url(self, path):
        return urljoin(self.base_url + "/", path)

    def _call(self, method, path, scope=None, headers=None, sink=None):
        """One API request; on a 401 answer the challenge once and repeat it (a token that
        expired during a long pull is renewed the same way)."""
        url = self._url(path)
        response = self._open(method, url, self._auth_headers(scope, headers), sink)
        if response.status == 401:
            try:
                self._answer(response, scope)
            except RegistryError as error:
                error.status = error.status or 401  # what the registry answered before the token server
                raise
            response = self._open(method, url, self._auth_headers(scope, headers), sink)
            if response.status == 401:
                raise RegistryError("unauthorized", self._rejected(response, scope), status=401)
        if response.status == 403:
            raise RegistryError(
                "unauthorized",
                f"{method} {url} answered HTTP 403: the credentials of {self._who()} were accepted but lack "
                f"access{' to ' + scope if scope else ''}; grant that user access on the registry",
                status=403,
            )
        return response

    def _who(self):
        return f"user {self.username!r}" if self.username else "an anonymous client"

    def _rejected(self, response, scope):
        if not self.username:
            return (
                f"{response.url} requires authentication and no credentials were given: "
                "set username and password"
            )
        if self.auth == "bearer":
            # The token server accepted the credentials; the registry refused the token it issued.
            challenges = parse_challenges(response.header_values("WWW-Authenticate"))
            reason = next((c.params["error"] for c in challenges if c.params.get("error")), "token refused")
            for_scope = f" for scope {scope}" if scope else ""
            return (
                f"{response.url} refused the token issued to {self._who()}{for_scope} ({reason}, HTTP 401): "
                "grant that access on the token server, or check that the registry's auth.token issuer, "
                "service and rootcertbundle match the token server"
            )
        return (
            f"{response.url} rejected the credentials of user {self.username!r} (HTTP 401): "
            "check username and password (the password is not shown)"
        )

    def _auth_headers(self, scope, headers):
        merged = dict(headers or {})
        if self._basic:
            merged["Authorization"] = self._basic
        elif scope in self._tokens:
            merged["Authorization"] = f"Bearer {self._tokens[scope]}"
        return merged

    def _answer(self, response, scope):
        challenges = parse_challenges(response.header_values("WWW-Authenticate"))
        schemes = {challenge.scheme: challenge for challenge in challenges}
        if "bearer" in schemes:
            self.auth = "bearer"
            self._tokens[scope] = self._fetch_token(schemes["bearer"].params, scope)
        elif "basic" in schemes:
            self.auth = "basic"
            if not self.username:
                raise RegistryError("unauthorized", self._rejected(response, scope), status=401)
            self._basic = basic_authorization(self.username, self.password)
        else:
            offered = ", ".join(response.header_values("WWW-Authenticate")) or "no WWW-Authenticate header"
            raise RegistryError(
                "unauthorized",
                f"{response.url} answered HTTP 401 with {offered[:EXCERPT_LENGTH]!r}; "
                "nested-warden answers Basic and Bearer challenges only",
            )

    def _fetch_token(self, params, scope):
        """The distribution token flow: GET realm?service=...&scope=... with Basic credentials."""
        realm = params.get("realm")
        if not realm or urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(
                "unexpected",
                f"{self.base_url} sent a Bearer challenge without a usable realm "
                f"({realm!r}); the registry's auth.token.realm setting must be an http(s) URL",
            )
        query = [("service", params["service"])] if params.get("service") else []
        # The challenge names the scope the registry wants; it may hold several, space separated.
        for wanted in (params.get("scope") or scope or "").split():
            query.append(("scope", wanted))
        token_url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}" if query else realm
        headers = {}
        if self.username:
            headers["Authorization"] = basic_authorization(self.username, self.password)
        response = self._open("GET", token_url, headers)
        if response.status in (401, 403):
            raise RegistryError(
                "unauthorized",
                f"token server {realm} rejected the credentials of {self._who()} (HTTP {response.status}): "
                "check username and password (the password is not shown)",
            )
        if response.status != 200:
            raise RegistryError(
                "unexpected",
                f"token server {realm} answered HTTP {response.status}: {body_excerpt(response.body)}",
            )
        answer = response.json()
        token = (answer.get("token") or answer.get("access_token")) if isinstance(answer, dict) else None
        if not token:
            raise RegistryError("unexpected", f"token server {realm} answered without a token")
        return token

    def _expect_ok(self, response):
        if response.status == 200:
            return
        hint = ""
        if response.status == 400 and b"HTTPS server" in response.body:
            hint = "; the server speaks HTTPS: use https:// in url"
        raise RegistryError(
            "unexpected",
            f"{response.url} answered HTTP {response.status}: {body_excerpt(response.body)}{hint}",
        )
