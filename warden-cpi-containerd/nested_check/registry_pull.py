"""nested-check pull: an image from the registry into the nested containerd (credentials from a
file). The requests and their authentication are registry_api's, the collection's modules' own;
this file sends them with urllib and writes what arrives into an archive containerd imports."""

import http.client
import json
import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request

from nested_check.archives import write_oci_archive
from nested_check.common import ctr
from nested_check.registry_api import RegistryApi, RegistryError, Response, read_body, read_error_body

USER_AGENT = "nested-check"


class ImageRegistry(RegistryApi):
    """registry_api's requests sent with urllib (the image has no Ansible)."""

    def __init__(self, base_url, auth, context=None, timeout=120):
        super().__init__(base_url, auth.get("username") or None, auth.get("password") or None)
        self.context = context
        self.timeout = timeout

    def _open(self, method, url, headers, sink=None):
        if not url.startswith(("http://", "https://")):
            raise RegistryError("unexpected", f"not an HTTP URL: {url}")
        request = urllib.request.Request(url, method=method)  # noqa: S310 (scheme checked)
        request.add_header("User-Agent", USER_AGENT)
        for name, value in headers.items():
            # Credentials stay with the registry: a blob redirected to storage elsewhere gets none.
            add = request.add_unredirected_header if name == "Authorization" else request.add_header
            add(name, value)
        context = self.context if url.startswith("https://") else None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as answer:  # noqa: S310
                return Response(answer.status, answer.headers, read_body(answer, sink), url)
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, error.headers, read_error_body(error), url)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise RegistryError(network_error_kind(reason), f"cannot talk to {url}: {reason}") from None


def network_error_kind(reason):
    if isinstance(reason, ssl.SSLError):
        return "tls"
    if isinstance(reason, ConnectionRefusedError):
        return "refused"
    return "timeout" if isinstance(reason, TimeoutError) else "unexpected"


def save_blob(registry, repository, digest, directory):
    """The blob in a file of directory (streamed; registry_api checks its digest)."""
    path = os.path.join(directory, digest.replace(":", "-"))
    with open(path, "wb") as out:
        registry.blob(repository, digest, out.write)
    return path


def pull(args):
    started = time.monotonic()
    with open(args.auth_file, encoding="utf-8") as auth_file:
        auth = json.load(auth_file)
    work = tempfile.mkdtemp(prefix="nested-check-pull-", dir=args.work_dir)
    registry = None
    try:
        # The auth file may carry the registry's CA too (one file given to the container).
        context = (
            ssl.create_default_context(cafile=args.ca_file, cadata=auth.get("ca_cert") or None)
            if args.scheme == "https"
            else None
        )
        registry = ImageRegistry(f"{args.scheme}://{args.registry}", auth, context)
        response, digest = registry.manifest_response(args.repository, args.tag)
        manifest = json.loads(response.body)
        if "config" not in manifest or "layers" not in manifest:
            raise ValueError(
                f"{args.repository}:{args.tag} is a manifest list or index "
                f"({response.header('Content-Type')}); push a single-platform image (as docker push does)"
            )
        code, out, _err = ctr("content", "list", "--quiet")
        present = set(out.split()) if code == 0 else set()
        layers = manifest["layers"]
        blobs = {
            d["digest"]: save_blob(registry, args.repository, d["digest"], work)
            for d in [manifest["config"], *layers]
        }
        ref = f"{args.registry}/{args.repository}:{args.tag}"
        archive = os.path.join(work, "image.tar")
        descriptor = {
            "mediaType": manifest.get("mediaType") or (response.header("Content-Type") or "").split(";")[0],
            "digest": digest,
            "size": len(response.body),
            "annotations": {"io.containerd.image.name": ref},
        }
        with open(blobs[manifest["config"]["digest"]], "rb") as config:
            platform = {
                key: value for key, value in json.load(config).items() if key in ("os", "architecture")
            }
        if platform:
            descriptor["platform"] = platform
        write_oci_archive(archive, response.body, descriptor, blobs)
        size = sum(os.path.getsize(blobs[layer["digest"]]) for layer in layers)
        code, out, err = ctr("images", "import", "--snapshotter", args.snapshotter, archive, timeout=600)
    except RegistryError as error:
        return {"check": "pull", "passed": False, "error": error.message}
    except (OSError, KeyError, ValueError, ssl.SSLError) as error:
        return {"check": "pull", "passed": False, "error": f"cannot pull: {error}"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "check": "pull",
        "passed": code == 0,
        "ref": ref,
        "digest": digest,
        "auth": registry.auth,
        "layers": len(layers),
        # Layers an earlier run left in a kept root (a layer cache): fetched and verified again,
        # not unpacked again.
        "layers_already_present": sum(layer["digest"] in present for layer in layers),
        "bytes": size,
        "error": "" if code == 0 else err or out,
        "seconds": round(time.monotonic() - started, 2),
    }
