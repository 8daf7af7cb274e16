"""nested-check pull's registry client: registry_api's own (the file the collection's modules
import), sent with urllib; the redirect of a blob to storage elsewhere carries no credentials."""

import hashlib
import http.server
import os
import re
import threading
from typing import ClassVar

import pytest
from ansible_collections.nested.warden.plugins.module_utils import registry_api as modules_registry_api
from nested_check import registry_api
from nested_check.registry_pull import ImageRegistry

LAYER = b"a layer " * 4096
DIGEST = "sha256:" + hashlib.sha256(LAYER).hexdigest()


def test_the_image_and_the_modules_use_one_registry_client():
    assert os.path.samefile(registry_api.__file__, modules_registry_api.__file__)
    assert issubclass(ImageRegistry, registry_api.RegistryApi)


class Storage(http.server.BaseHTTPRequestHandler):
    """A registry that asks for Basic credentials and redirects blobs to /storage/ (as one
    backed by object storage does); it records what each request carried."""

    seen: ClassVar[list] = []

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/storage/"):
            self.answer(200, LAYER)
        elif self.headers.get("Authorization") is None:
            self.answer(401, b"{}", [("WWW-Authenticate", 'Basic realm="registry"')])
        else:
            self.answer(307, b"", [("Location", "/storage/layer")])

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        del args


@pytest.fixture
def storage_registry():
    Storage.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Storage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_redirected_blob_arrives_checked_and_the_credentials_stay_with_the_registry(storage_registry):
    registry = ImageRegistry(storage_registry, {"username": "warden", "password": "Pa55-not-sent-on"})
    chunks = []
    registry.blob("team/app", DIGEST, chunks.append)
    assert b"".join(chunks) == LAYER
    assert registry.auth == "basic"
    assert [(path, auth is not None) for path, auth in Storage.seen] == [
        (f"/v2/team/app/blobs/{DIGEST}", False),
        (f"/v2/team/app/blobs/{DIGEST}", True),
        ("/storage/layer", False),
    ]


def test_a_url_other_than_http_is_refused_before_any_request():
    with pytest.raises(registry_api.RegistryError, match="not an HTTP URL: file:///etc/passwd"):
        ImageRegistry("file://", {})._open("GET", "file:///etc/passwd", {})


def test_nothing_listening_is_refused_by_kind():
    registry = ImageRegistry("http://127.0.0.1:9", {})
    with pytest.raises(
        registry_api.RegistryError, match=re.escape("cannot talk to http://127.0.0.1:9/v2/")
    ) as raised:
        registry.ping()
    assert raised.value.kind == "refused"
