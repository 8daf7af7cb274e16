"""Docker Registry HTTP API v2 client built on Ansible's url utilities.

Every failure becomes a RegistryError with one of ERROR_KINDS and a message that says what went
wrong, where, and how to fix it; roles branch on the kind. Credentials never appear in messages.
What the client reads (names, challenges, links, CA files, network errors) is in
registry_protocol.
"""

import hashlib
import http.client
import ssl
import urllib.error
from urllib.parse import urlencode, urljoin, urlsplit

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import Request, basic_auth_header, make_context
from ansible_collections.nested.warden.plugins.module_utils.registry_protocol import (
    CATALOG_SCOPE,
    EXCERPT_LENGTH,
    MANIFEST_MEDIA_TYPES,
    MAX_PAGES,
    USER_AGENT,
    RegistryError,
    Response,
    body_excerpt,
    classify_network_error,
    config_digest,
    is_loopback_host,
    load_ca,
    load_ca_cert,
    next_link,
    normalize_url,
    parse_challenges,
)


class RegistryClient:
    """Talks to one registry; remembers how it asked to authenticate."""

    def __init__(
        self,
        url,
        *,
        username=None,
        password=None,
        validate_certs=True,
        ca_path=None,
        ca_cert=None,
        timeout=10,
        use_proxy=True,
    ):
        self.base_url = normalize_url(url)
        self.username = username
        self.password = password
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.ca_cert = ca_cert
        self.timeout = timeout
        self.use_proxy = use_proxy
        if ca_path:
            load_ca(ca_path)
        if ca_cert:
            load_ca_cert(ca_cert)
        self.auth = "none"
        self.ping_status = None
        self._tls_context = None
        self._plain_context = None
        self._basic = None
        self._tokens = {}
        # netrc would add credentials the task never named; redirects keep GET and HEAD only.
        self._request = Request(
            use_proxy=use_proxy,
            timeout=timeout,
            http_agent=USER_AGENT,
            use_netrc=False,
            follow_redirects="safe",
        )

    @property
    def sends_credentials_in_clear(self):
        parts = urlsplit(self.base_url)
        return bool(self.username) and parts.scheme == "http" and not is_loopback_host(parts.hostname)

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

    def manifest(self, repository, reference):
        """GET the manifest (a few KB): its digest, media type, size and, for a single image's
        manifest, the digest of its config (the image ID an engine with the classic image store
        gives the image)."""
        path = f"v2/{repository}/manifests/{reference}"
        scope = f"repository:{repository}:pull"
        accept = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        response = self._call("GET", path, scope, accept)
        if response.status == 404:
            raise RegistryError(
                "not_found", f"tag {reference!r} not found in repository {repository!r} at {self.base_url}"
            )
        self._expect_ok(response)
        # Some registries and proxies omit the header: the digest is the hash of the body.
        body_digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
        digest = response.header("Docker-Content-Digest") or body_digest
        media_type = (response.header("Content-Type") or "").split(";")[0].strip() or None
        return {
            "digest": digest,
            "media_type": media_type,
            "size": len(response.body),
            "config_digest": config_digest(response.body),
        }

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

    def _call(self, method, path, scope=None, headers=None):
        """One API request; on a 401 answer the challenge once and repeat it."""
        url = self._url(path)
        response = self._open(method, url, self._auth_headers(scope, headers))
        if response.status == 401:
            try:
                self._answer(response, scope)
            except RegistryError as error:
                error.status = error.status or 401  # what the registry answered before the token server
                raise
            response = self._open(method, url, self._auth_headers(scope, headers))
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

    def _basic_credentials(self):
        return to_native(basic_auth_header(self.username, self.password or ""))

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
            self._basic = self._basic_credentials()
        else:
            offered = ", ".join(response.header_values("WWW-Authenticate")) or "no WWW-Authenticate header"
            raise RegistryError(
                "unauthorized",
                f"{response.url} answered HTTP 401 with {offered[:EXCERPT_LENGTH]!r}; "
                "this module answers Basic and Bearer challenges only",
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
            headers["Authorization"] = self._basic_credentials()
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

    def _context(self, url):
        """A TLS context made once per client.

        Request.open makes a new one for every request that brings none, http:// included, and
        that reads the whole system CA store (about 20 ms each time).
        """
        if not url.startswith("https:"):
            if self._plain_context is None:
                self._plain_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # never used for http://
            return self._plain_context
        if self._tls_context is None:
            if self.ca_cert:
                # Only this CA, as with ca_path (make_context would add the system's CAs to cadata).
                self._tls_context = ssl.create_default_context(cadata=self.ca_cert)
                if not self.validate_certs:
                    self._tls_context.check_hostname = False
                    self._tls_context.verify_mode = ssl.CERT_NONE
            else:
                self._tls_context = make_context(cafile=self.ca_path, validate_certs=self.validate_certs)
        return self._tls_context

    def without_credentials(self):
        """The same client (URL, TLS, timeout, proxy) asking without credentials."""
        return RegistryClient(
            self.base_url,
            validate_certs=self.validate_certs,
            ca_path=self.ca_path,
            ca_cert=self.ca_cert,
            timeout=self.timeout,
            use_proxy=self.use_proxy,
        )

    def _open(self, method, url, headers):
        context = self._context(url)
        try:
            with self._request.open(
                method, url, headers=headers, context=context, unredirected_headers=["Authorization"]
            ) as answer:
                return Response(answer.status, answer.headers, answer.read(), url)
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, _read_error_body(error), url)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise classify_network_error(
                error, url, self.timeout, self.ca_path, "ca_cert" if self.ca_cert else None
            ) from None
        except ValueError as error:  # a URL the registry sent (a token realm, a Link) that cannot be used
            raise RegistryError("unexpected", f"cannot request {url}: {error}") from None


def _read_error_body(error):
    try:
        return error.read(64 * 1024)
    except (OSError, http.client.HTTPException):
        return b""


def anonymous_access(client):
    """Whether the registry refuses GET /v2/ without credentials: {refused, status, error}."""
    anonymous = client.without_credentials()
    try:
        anonymous.ping()
    except RegistryError as error:
        return {
            "refused": error.kind == "unauthorized",
            "status": anonymous.ping_status,
            "error": error.as_dict(),
        }
    return {"refused": False, "status": anonymous.ping_status, "error": None}


def check_registry(client, *, catalog=False, page_size=100, repository=None, tag=None, anonymous=False):
    """Run the requested checks; never raises RegistryError, reports it under 'error' instead.

    reachable means GET /v2/ answered 200 with the given credentials; facts gathered before a
    failure stay in the result. With anonymous, 'anonymous' says whether the registry refuses a
    request without credentials (asked once the registry was reachable).
    """
    facts = {
        "url": client.base_url,
        "reachable": False,
        "status": None,
        "api_version": None,
        "auth": None,
        "error": None,
    }
    try:
        facts["api_version"] = client.ping()
        facts["reachable"] = True
        if catalog:
            facts["catalog"] = client.catalog(page_size)
        if repository:
            facts["tags"] = client.tags(repository, page_size)
        if repository and tag:
            try:
                facts["manifest"] = client.manifest(repository, tag)
            except RegistryError as error:
                if error.kind == "not_found" and facts["tags"]:
                    shown = ", ".join(facts["tags"][:10]) + (", ..." if len(facts["tags"]) > 10 else "")
                    error.message += f" (tags there: {shown})"
                raise
    except RegistryError as error:
        facts["error"] = error.as_dict()
    if anonymous and facts["reachable"]:
        facts["anonymous"] = anonymous_access(client)
    facts["status"] = client.ping_status
    # Without any HTTP answer nothing is known about the registry's authentication.
    facts["auth"] = client.auth if client.ping_status is not None else None
    return facts
