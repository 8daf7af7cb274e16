"""Image archives that `ctr images import` reads, and the workload's tiny busybox image."""

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile

TINY_IMAGE = "/usr/local/share/nested-check/tiny-image.tar"
TINY_REF = "localhost/nested-check/tiny:latest"


def write_docker_archive(path, ref, config, layer_files):
    """A `docker save` archive that `ctr images import` reads, from layer files (tar or tar.gz)."""
    with tarfile.open(path, "w") as archive:
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        info = tarfile.TarInfo(config_name)
        info.size = len(config)
        archive.addfile(info, io.BytesIO(config))
        layer_names = []
        for layer_file in layer_files:
            plain = layer_file + ".tar"
            hashed = hashlib.sha256()
            with open(layer_file, "rb") as probe:
                compressed = probe.read(2) == b"\x1f\x8b"
            opener = gzip.open if compressed else open
            with opener(layer_file, "rb") as source, open(plain, "wb") as out:
                for chunk in iter(lambda source=source: source.read(1 << 20), b""):
                    hashed.update(chunk)
                    out.write(chunk)
            name = hashed.hexdigest() + "/layer.tar"
            archive.add(plain, arcname=name)
            os.unlink(plain)
            layer_names.append(name)
        manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": layer_names}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))


def write_oci_archive(path, manifest, descriptor, blobs):
    """An OCI image layout archive that `ctr images import` reads: the manifest and the blobs as
    the registry served them (compressed layers stay compressed; containerd unpacks them once)."""
    with tarfile.open(path, "w") as archive:

        def add_bytes(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        add_bytes("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add_bytes(f"blobs/sha256/{descriptor['digest'].split(':', 1)[1]}", manifest)
        for blob_digest, blob_path in blobs.items():
            archive.add(blob_path, arcname=f"blobs/sha256/{blob_digest.split(':', 1)[1]}")
        add_bytes("index.json", json.dumps({"schemaVersion": 2, "manifests": [descriptor]}).encode())


def tiny_image(args):
    """A one-layer image holding a static busybox, written as a `docker save` archive."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    work = tempfile.mkdtemp(prefix="nested-check-tiny-")
    try:
        layer_path = os.path.join(work, "layer")
        with tarfile.open(layer_path, mode="w") as layer:
            layer.add(busybox, arcname="bin/busybox")
        with open(layer_path, "rb") as layer:
            diff_id = "sha256:" + hashlib.sha256(layer.read()).hexdigest()
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/bin/busybox", "sh"]},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            }
        ).encode()
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        write_docker_archive(args.output, TINY_REF, config, [layer_path])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "check": "tiny-image",
        "passed": True,
        "output": args.output,
        "ref": TINY_REF,
        "bytes": os.path.getsize(args.output),
    }
