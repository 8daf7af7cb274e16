"""The registry client of the modules: registry_api's requests and authentication sent with
Ansible's url utilities (proxies, TLS with ca_path or ca_cert, safe redirects), the options
checked first (registry_protocol), and the checks registry_check runs.

Every failure becomes a RegistryError with one of ERROR_KINDS and a message that says what went
wrong, where, and how to fix it; roles branch on the kind. Credentials never appear in messages.
"""

import http.client
import ssl
import urllib.error
from urllib.parse import urlsplit

from ansible.module_utils.urls import Request, make_context
from ansible_collections.nested.warden.plugins.module_utils.registry_api import (
    RegistryApi,
    RegistryError,
    Response,
    read_body,
    read_error_body,
)
from ansible_collections.nested.warden.plugins.module_utils.registry_protocol import (
    USER_AGENT,
    classify_network_error,
    is_loopback_host,
    load_ca,
    load_ca_cert,
    normalize_url,
)


class RegistryClient(RegistryApi):
    """Talks to one registry from a module or plugin; remembers how it asked to authenticate."""

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
        super().__init__(normalize_url(url), username, password)
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.ca_cert = ca_cert
        self.timeout = timeout
        self.use_proxy = use_proxy
        if ca_path:
            load_ca(ca_path)
        if ca_cert:
            load_ca_cert(ca_cert)
        self._tls_context = None
        self._plain_context = None
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

    def _open(self, method, url, headers, sink=None):
        context = self._context(url)
        try:
            with self._request.open(
                method, url, headers=headers, context=context, unredirected_headers=["Authorization"]
            ) as answer:
                return Response(answer.status, answer.headers, read_body(answer, sink), url)
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, read_error_body(error), url)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise classify_network_error(
                error, url, self.timeout, self.ca_path, "ca_cert" if self.ca_cert else None
            ) from None
        except ValueError as error:  # a URL the registry sent (a token realm, a Link) that cannot be used
            raise RegistryError("unexpected", f"cannot request {url}: {error}") from None


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
