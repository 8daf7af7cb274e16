"""The warden CPI's contract as the director uses it: its cpi.json, one JSON request per call
on stdin, one JSON response on stdout (bosh-cpi-go's rpc), and the secrets masked in both.

Matched to cloudfoundry/bosh-warden-cpi-release 75aa1f6007d52d55471b6e4c70dddd2e669309b4:
jobs/warden_cpi/templates/cpi.json.erb renders the config; src/bosh-warden-cpi/action names the
methods and their arguments.
"""

import json
import os
import re
import shutil
import subprocess
import tarfile
import time

from nested_check.common import busybox_rootfs

CPI_PACKAGE = "/var/vcap/packages/warden_cpi"
MASK = "<masked>"
# Keys whose values are secrets wherever they appear (the director's env, the agent's settings).
SECRET_KEY = re.compile(r"password|secret|private_key|token|credentials|access_key", re.IGNORECASE)
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]+):(?P<password>[^@/\s]+)@")
AGENT_SETTINGS = "/var/vcap/bosh/warden-cpi-agent-env.json"
# A dummy mbus: no agent answers it, and its password shows only masked.
DUMMY_MBUS = "nats://nats:nested-check-dummy@127.0.0.1:4222"


def cpi_installed(package=CPI_PACKAGE):
    """(binary, SOURCES text) or (None, the reason there is none)."""
    binary = os.path.join(package, "bin", "cpi")
    if not os.access(binary, os.X_OK):
        return None, (
            "the image has no warden CPI (no /var/vcap/packages/warden_cpi/bin/cpi): set image_build_cpi_dir "
            "to an unpacked bosh-warden-cpi archive of NESTED_WARDEN_TOOLS_DIR and rebuild the image"
        )
    try:
        with open(os.path.join(package, "SOURCES"), encoding="utf-8") as sources:
            return binary, " ".join(sources.read().split())
    except OSError:
        return binary, "sources not recorded"


def cpi_config(work, systemd, connect_address="127.0.0.1:7777"):
    """cpi.json as jobs/warden_cpi/templates/cpi.json.erb renders it, every directory under work.

    expand_stemcell_tarball is false: the stemcell stays a tar that GrootFS (the image plugin of
    this Garden) imports, as the job's property description says for GrootFS."""
    return {
        "start_containers_with_systemd": bool(systemd),
        "Warden": {"ConnectNetwork": "tcp", "ConnectAddress": connect_address},
        "Actions": {
            "StemcellsDir": os.path.join(work, "stemcells"),
            "ExpandStemcellTarball": False,
            "DisksDir": os.path.join(work, "disks"),
            "HostEphemeralBindMountsDir": os.path.join(work, "ephemeral_bind_mounts_dir"),
            "HostPersistentBindMountsDir": os.path.join(work, "persistent_bind_mounts_dir"),
            "GuestEphemeralBindMountPath": "/var/vcap/data",
            "GuestPersistentBindMountsDir": "/warden-cpi-dev",
            "Agent": {
                "Mbus": DUMMY_MBUS,
                "NTP": [],
                "Blobstore": {
                    "Provider": "local",
                    "Options": {"blobstore_path": "/var/vcap/micro_bosh/data/cache"},
                },
            },
        },
    }


def cpi_request(method, arguments, request_id):
    """One call as the director sends it (bosh-cpi-go rpc, api_version 2)."""
    return {
        "method": method,
        "arguments": arguments,
        "context": {"director_uuid": "nested-check-director", "request_id": request_id},
        "api_version": 2,
    }


def director_networks(ip="10.244.0.2"):
    """A manual network as bosh-lite's cloud config gives the director (10.244.0.0/24)."""
    return {
        "default": {
            "type": "manual",
            "ip": ip,
            "netmask": "255.255.255.0",
            "gateway": "10.244.0.1",
            "dns": ["8.8.8.8"],
            "default": ["dns", "gateway"],
            "cloud_properties": {},
        }
    }


def director_env(instance="nested-check-zookeeper"):
    """The env the director sends with create_vm: the VM's groups and its agent's credentials."""
    return {
        "bosh": {
            "group": f"nested-check-director-{instance}",
            "groups": ["nested-check-director", "nested-check", instance],
            "password": "$6$nested-check$dummy-password-hash",
            "mbus": {"cert": {"ca": "dummy-ca", "certificate": "dummy-cert", "private_key": "dummy-key"}},
        }
    }


def mask(value):
    """Secrets replaced by <masked>: values of secret-named keys and passwords in URLs."""
    if isinstance(value, dict):
        return {key: MASK if SECRET_KEY.search(str(key)) else mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(item) for item in value]
    if isinstance(value, str):
        return URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", value)
    return value


def parse_response(stdout):
    """(result, error): error is None, or {"type", "message", "ok_to_retry"} from the CPI, or ours
    when stdout is not one JSON response."""
    try:
        response = json.loads(stdout)
    except ValueError:
        return None, {"type": "nested-check", "message": f"no JSON response: {stdout.strip()[:300]!r}"}
    if not isinstance(response, dict) or "result" not in response:
        return None, {"type": "nested-check", "message": f"not a CPI response: {str(response)[:300]}"}
    return response["result"], response.get("error") or None


def vm_cid_of(result):
    """create_vm answers the cid (api_version 1) or [cid, networks] (api_version 2)."""
    return result[0] if isinstance(result, list) else result


def last_log_error(stderr):
    """The CPI logs at debug level on stderr; keep its last ERROR line for the report."""
    errors = [line for line in stderr.splitlines() if " ERROR - " in line]
    return mask(errors[-1].split(" ERROR - ", 1)[1]) if errors else ""


class CpiCaller:
    """Calls the CPI once per request and keeps every call: request and response masked, seconds."""

    def __init__(self, binary, config_path, timeout=300.0, runner=subprocess.run, keep_stdout=False):
        self.binary = binary
        self.config_path = config_path
        self.timeout = timeout
        self.runner = runner
        self.keep_stdout = keep_stdout  # the CPI's own answer, as recorded for the tests' fixtures
        self.calls = []

    def call(self, method, arguments=(), label=""):
        request = cpi_request(method, list(arguments), f"nested-check-{len(self.calls) + 1}")
        started = time.monotonic()
        try:
            done = self.runner(
                [self.binary, "-configPath", self.config_path],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
            stdout, stderr, code = done.stdout or "", done.stderr or "", done.returncode
        except subprocess.TimeoutExpired:
            stdout, stderr, code = "", f"no response within {self.timeout}s", -1
        seconds = round(time.monotonic() - started, 2)
        result, error = parse_response(stdout)
        if error is None and code != 0:
            error = {"type": "nested-check", "message": f"exit {code}: {last_log_error(stderr)}"}
        record = {
            "method": method,
            "label": label or method,
            "outcome": "failed" if error else "succeeded",
            "seconds": seconds,
            "request": mask(request),
            "response": mask({"result": result, "error": error}),
        }
        if error:
            record["log_error"] = last_log_error(stderr)
        if self.keep_stdout:
            record["stdout"] = mask(stdout)
        self.calls.append(record)
        return result, error


STEMCELL_APPLETS = (
    "sh", "cat", "cp", "mv", "ln", "rm", "rmdir", "mkdir", "touch", "chmod", "chown", "mount", "umount",
    "sed", "grep", "awk", "cut", "tr", "head", "tail", "find", "xargs", "env", "ls", "stat", "sleep",
    "sync", "true", "false", "id", "dirname", "basename", "which",
)  # fmt: skip


def make_stemcell(work, name="nested-check-stemcell", version="0.1"):
    """A stemcell-shaped tarball from what the image has, and the director's view of it.

    The root filesystem holds busybox (with the applets the CPI's agent start script calls) and
    bash with its libraries (the CPI starts the agent with /bin/bash -c). image is its tgz,
    stemcell.MF names the warden formats; the director unpacks the tarball and hands the CPI the
    path of image, so both are returned: (stemcell tarball, image path)."""
    rootfs = busybox_rootfs(
        os.path.join(work, "stemcell-rootfs"),
        directories=("sbin", "var/vcap/bosh/bin", "lib64"),
        # The shell tools the CPI's scripts call in the VM (cp for the agent env, mount for disks),
        # and the common ones a stemcell has.
        applets=STEMCELL_APPLETS,
        users=(("root", 0), ("vcap", 1000)),
    )
    copy_with_libraries(shutil.which("bash") or "/bin/bash", rootfs)
    # Garden streams files in (the CPI's agent settings) with nstar, which runs the image's GNU tar
    # inside the container: its libraries must be there, as on a real stemcell.
    copy_with_libraries(shutil.which("tar") or "/bin/tar", rootfs)
    unpacked = os.path.join(work, "stemcell")
    os.makedirs(unpacked, exist_ok=True)
    image = os.path.join(unpacked, "image")
    with tarfile.open(image, "w:gz") as tar:
        tar.add(rootfs, arcname=".")
    with open(os.path.join(unpacked, "stemcell.MF"), "w", encoding="utf-8") as manifest:
        manifest.write(stemcell_manifest(name, version))
    tarball = os.path.join(work, f"{name}-{version}.tgz")
    with tarfile.open(tarball, "w:gz") as tar:
        for member in ("stemcell.MF", "image"):
            tar.add(os.path.join(unpacked, member), arcname=member)
    shutil.rmtree(rootfs)
    return tarball, image


def stemcell_manifest(name, version):
    """stemcell.MF as bosh-linux-stemcell-builder writes it for the warden CPI (YAML; JSON is YAML)."""
    return json.dumps(
        {
            "name": name,
            "version": version,
            "api_version": 3,
            "bosh_protocol": "1",
            "operating_system": "debian-nested-check",
            "stemcell_formats": ["warden-tar", "general-tar"],
            "cloud_properties": {"name": name, "version": version, "infrastructure": "warden"},
        },
        indent=2,
    )


def copy_with_libraries(binary, rootfs):
    """binary into rootfs/bin with the shared libraries ldd names, at the same paths."""
    shutil.copy2(binary, os.path.join(rootfs, "bin", os.path.basename(binary)))
    done = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False)
    for path in re.findall(r"(/\S+\.so[.\d]*)", done.stdout):
        target = os.path.join(rootfs, path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(path), target)
