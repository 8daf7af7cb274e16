"""nested-check pull: an image from the registry into the nested containerd (credentials from a file)."""

import hashlib
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
from nested_check.registry_auth import RegistryAuth

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


def fetch_blob(base, digest, session, directory):
    """Stream one blob to a file, checking that it is what its digest says."""
    path = os.path.join(directory, digest.replace(":", "-"))
    hashed = hashlib.sha256()
    with session.open(f"{base}/blobs/{digest}", timeout=120) as response, open(path, "wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            hashed.update(chunk)
            out.write(chunk)
    if f"sha256:{hashed.hexdigest()}" != digest:
        raise ValueError(f"blob {digest} arrived as sha256:{hashed.hexdigest()}")
    return path


def pull(args):
    started = time.monotonic()
    with open(args.auth_file, encoding="utf-8") as auth_file:
        auth = json.load(auth_file)
    base = f"{args.scheme}://{args.registry}/v2/{args.repository}"
    work = tempfile.mkdtemp(prefix="nested-check-pull-", dir=args.work_dir)
    try:
        # The auth file may carry the registry's CA too (one file given to the container).
        context = (
            ssl.create_default_context(cafile=args.ca_file, cadata=auth.get("ca_cert") or None)
            if args.scheme == "https"
            else None
        )
        session = RegistryAuth(auth, context)
        with session.open(f"{base}/manifests/{args.tag}", MANIFEST_TYPES) as response:
            body, headers = response.read(), response.headers
        manifest = json.loads(body)
        arrived = "sha256:" + hashlib.sha256(body).hexdigest()
        digest = headers.get("Docker-Content-Digest") or arrived
        if arrived != digest:
            raise ValueError(f"manifest arrived as {arrived}, the registry says {digest}")
        descriptors = [manifest["config"], *manifest["layers"]]
        code, out, _err = ctr("content", "list", "--quiet")
        present = set(out.split()) if code == 0 else set()
        blobs = {d["digest"]: fetch_blob(base, d["digest"], session, work) for d in descriptors}
        ref = f"{args.registry}/{args.repository}:{args.tag}"
        archive = os.path.join(work, "image.tar")
        descriptor = {
            "mediaType": manifest.get("mediaType") or headers.get("Content-Type", "").split(";")[0],
            "digest": digest,
            "size": len(body),
            "annotations": {"io.containerd.image.name": ref},
        }
        with open(blobs[manifest["config"]["digest"]], "rb") as config:
            platform = {
                key: value for key, value in json.load(config).items() if key in ("os", "architecture")
            }
        if platform:
            descriptor["platform"] = platform
        write_oci_archive(archive, body, descriptor, blobs)
        size = sum(os.path.getsize(blobs[layer["digest"]]) for layer in manifest["layers"])
        layers = manifest["layers"]
        code, out, err = ctr("images", "import", "--snapshotter", args.snapshotter, archive, timeout=600)
    except urllib.error.HTTPError as error:
        return {"check": "pull", "passed": False, "error": f"registry answered {error.code} {error.reason}"}
    except (urllib.error.URLError, OSError, KeyError, ValueError, ssl.SSLError) as error:
        return {"check": "pull", "passed": False, "error": f"cannot pull: {error}"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "check": "pull",
        "passed": code == 0,
        "ref": ref,
        "digest": digest,
        "auth": session.scheme,
        "layers": len(layers),
        # Layers an earlier run left in a kept root (a layer cache): fetched and verified again,
        # not unpacked again.
        "layers_already_present": sum(layer["digest"] in present for layer in layers),
        "bytes": size,
        "error": "" if code == 0 else err or out,
        "seconds": round(time.monotonic() - started, 2),
    }
