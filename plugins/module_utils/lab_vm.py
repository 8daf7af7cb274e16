# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM lab host: one qemu VM booted from a copy-on-write overlay of a base disk, reachable
only through forwards bound to 127.0.0.1, with user-mode networking (restrict=on).

The VM's state lives in one directory: the overlay, qemu's pid file and log, the serial console
log, the lab's SSH key and known_hosts, and spec.json (what the running VM was started with).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import time

from ansible_collections.nested.warden.plugins.module_utils.cli_runner import run_with_timeout

BASE_FILES = ("disk.img", "vmlinuz", "initrd.img", "host_key.pub")
ACCELS = ("auto", "kvm", "tcg")
# Marks of a guest that reached userspace (systemd's banner) and of KVM giving up on it.
USERSPACE_MARK = "Welcome to"
KVM_FAILURES = ("KVM internal error", "emulation failure", "kvm run failed")
MIN_FREE_DISK_MIB = 2048


class LabVmError(Exception):
    """A failure with what to do about it; the message is for the user."""


def spec_of(params, recipe):
    """What the running VM must match to be kept: its settings and the base disk's recipe."""
    keys = ("name", "image_dir", "ssh_port", "host_forwards", "memory", "cpus", "network", "address")
    keys += ("guest_forwards",)
    keys += ("accel", "forward_devices")
    spec = {key: params[key] for key in keys}
    spec["recipe"] = recipe
    return spec


def digest(spec):
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return default


def tail(path, lines=20):
    return read_text(path).splitlines()[-lines:]


def pid_alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    # A zombie has exited: only its parent's wait is missing.
    return "State:\tZ" not in read_text(f"/proc/{pid}/status")


def is_qemu(pid):
    return "qemu" in read_text(f"/proc/{pid}/cmdline").split("\0")[0]


class LabVm:
    """Paths and the running VM of one lab."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.overlay = os.path.join(state_dir, "overlay.qcow2")
        self.pid_file = os.path.join(state_dir, "qemu.pid")
        self.qemu_log = os.path.join(state_dir, "qemu.log")
        self.console_log = os.path.join(state_dir, "console.log")
        self.guestfwd_log = os.path.join(state_dir, "guestfwd.log")
        self.key = os.path.join(state_dir, "id_ed25519")
        self.known_hosts = os.path.join(state_dir, "known_hosts")
        self.spec_file = os.path.join(state_dir, "spec.json")

    def pid(self):
        text = read_text(self.pid_file).strip()
        return int(text) if text.isdigit() else 0

    def running(self):
        pid = self.pid()
        return pid_alive(pid) and is_qemu(pid)

    def recorded_spec(self):
        try:
            return json.loads(read_text(self.spec_file) or "{}")
        except ValueError:
            return {}

    def leftovers(self):
        return [p for p in (self.overlay, self.pid_file, self.spec_file) if os.path.exists(p)]

    def stop(self, grace=20):
        """Stop qemu (SIGTERM, then SIGKILL) and remove the overlay and the run's records."""
        pid = self.pid()
        if pid_alive(pid) and is_qemu(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid):
                    time.sleep(0.1)
        for path in (self.overlay, self.pid_file, self.spec_file):
            if os.path.exists(path):
                os.remove(path)

    def remove(self):
        self.stop()
        if os.path.isdir(self.state_dir):
            shutil.rmtree(self.state_dir)


def check_base(image_dir):
    missing = [name for name in BASE_FILES if not os.path.isfile(os.path.join(image_dir, name))]
    if missing:
        raise LabVmError(
            f"image_dir={image_dir} lacks {', '.join(missing)}: the VM's base disk is built by "
            "'scripts/bootstrap vm' (scripts/vm-image DIR)"
        )
    return read_text(os.path.join(image_dir, "recipe")).strip() or "unrecorded"


def check_network(params):
    """The user-mode network, the VM's address and the forwarded guest addresses fit together."""
    try:
        network = ipaddress.ip_network(params["network"])
    except ValueError as exc:
        raise LabVmError(
            f"network={params['network']!r} is not an IPv4 network in CIDR notation: {exc}"
        ) from None
    if network.version != 4 or network.prefixlen > 28:
        raise LabVmError(f"network={network}: give an IPv4 network of /28 or larger (qemu's user networking)")
    hosts = list(network.hosts())
    reserved = {"gateway (qemu)": hosts[1], "DNS (qemu)": hosts[2]}
    try:
        address = ipaddress.ip_address(params["address"])
    except ValueError:
        raise LabVmError(f"address={params['address']!r} is not an IPv4 address") from None
    if address not in network:
        raise LabVmError(f"address={address} is outside network={network}: give the VM an address inside it")
    forwards = params["guest_forwards"]
    taken = dict(reserved)
    for index, forward in enumerate(forwards):
        where = f"guest_forwards[{index}]"
        try:
            target = ipaddress.ip_address(forward["address"])
        except ValueError:
            raise LabVmError(f"{where}.address={forward['address']!r} is not an IPv4 address") from None
        if target not in network:
            raise LabVmError(
                f"{where}.address={target} is outside network={network}: the guest reaches a forwarded "
                "address only inside its own network; give the lab's network to both"
            )
        if not 0 < forward["port"] < 65536:
            raise LabVmError(f"{where}.port={forward['port']}: give a TCP port (1-65535)")
        taken[f"{where}.address"] = target
    for name, reserved_address in taken.items():
        if reserved_address == address:
            raise LabVmError(f"address={address} is also the {name}: give the VM another address")
    for name, reserved_address in reserved.items():
        if any(ipaddress.ip_address(f["address"]) == reserved_address for f in forwards):
            raise LabVmError(f"a guest forward uses {reserved_address}, the {name}: choose another address")
    return network, hosts, address


def forward_devices(forwards, ip="ip"):
    """The local network device of each forwarded address. A forward must land on a network of
    this machine (a directly connected route, such as the lab's Docker bridge): an address reached
    through a gateway would send the guest's traffic off this machine."""
    devices = {}
    for forward in forwards:
        address = forward["address"]
        code, out, err = run([ip, "-o", "-4", "route", "get", address], timeout=10)
        words = out.split()
        device = words[words.index("dev") + 1] if code == 0 and "dev" in words[:-1] else ""
        if code != 0 or not device or " via " in f" {out} " or device == "lo":
            route = (out or err).strip().splitlines()[0] if (out or err).strip() else "no route"
            raise LabVmError(
                f"guest forward {address}:{forward['port']} is not on a network of this machine "
                f"(route: {route}); the VM may reach only the lab's own containers: bring the lab's "
                "network and containers up first (the lab stage does so before its VMs)"
            )
        devices[address] = device
    return devices


def require_free_ports(params):
    for port, option in check_ports(params).items():
        if not port_free(port):
            raise LabVmError(
                f"127.0.0.1:{port} ({option}) is in use by another program: give {option} a free port"
            )


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(params):
    """The SSH port and the host forwards: valid, distinct, guest_port filled in. Returns the ports
    the VM listens on at 127.0.0.1, each with the option that names it."""
    seen = {params["ssh_port"]: "ssh_port"}
    for index, forward in enumerate(params["host_forwards"]):
        where = f"host_forwards[{index}]"
        forward["guest_port"] = forward.get("guest_port") or forward["port"]
        if forward["port"] in seen:
            raise LabVmError(
                f"{where}.port={forward['port']} is also {seen[forward['port']]}: give each its own port"
            )
        seen[forward["port"]] = f"{where}.port"
        if forward["guest_port"] == 22:
            raise LabVmError(f"{where}.guest_port=22 is the guest's SSH, forwarded by ssh_port already")
    for port, option in list(seen.items()) + [
        (f["guest_port"], f"host_forwards[{i}].guest_port") for i, f in enumerate(params["host_forwards"])
    ]:
        if not 1 <= port <= 65535:
            raise LabVmError(f"{option}={port}: give a TCP port (1-65535)")
    return seen


def check_resources(params, state_dir):
    if params["memory"] < 1024 or params["cpus"] < 1:
        raise LabVmError(
            f"memory={params['memory']} MiB, cpus={params['cpus']}: the VM needs 1024 MiB and 1 CPU at least"
        )
    available = 0
    for line in read_text("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) // 1024
    if available and available < params["memory"] + 256:
        raise LabVmError(
            f"memory={params['memory']} MiB, but this machine has {available} MiB available: "
            "lower lab_vm_memory or free memory"
        )
    parent = state_dir
    while not os.path.isdir(parent):
        parent = os.path.dirname(parent) or "/"
    stat = os.statvfs(parent)
    free = stat.f_bavail * stat.f_frsize // (1024 * 1024)
    if free < MIN_FREE_DISK_MIB:
        raise LabVmError(
            f"{parent} has {free} MiB free; the VM's overlay needs {MIN_FREE_DISK_MIB} MiB at least: "
            "free disk space"
        )


def kvm_usable():
    """Why KVM can or cannot be tried here."""
    if not os.path.exists("/dev/kvm"):
        return False, "/dev/kvm does not exist"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is not readable and writable by this user"
    return True, "/dev/kvm is usable"


def qemu_argv(params, vm, hosts, accel, authorized_key):
    network = params["network"]
    netdev = [
        "user,id=lab",
        "restrict=on",
        f"net={network}",
        f"host={hosts[1]}",
        f"dns={hosts[2]}",
        f"dhcpstart={params['address']}",
        f"hostfwd=tcp:127.0.0.1:{params['ssh_port']}-:22",
    ]
    netdev += [f"hostfwd=tcp:127.0.0.1:{f['port']}-:{f['guest_port']}" for f in params["host_forwards"]]
    for forward in params["guest_forwards"]:
        target = f"{forward['address']}:{forward['port']}"
        # Bound to the lab's device: should the lab network go, the connection fails instead of
        # leaving through a gateway (",," is a comma inside qemu's option string).
        device = params["forward_devices"][forward["address"]]
        # qemu hands the connection to socat as its stderr too: its messages go to a log instead.
        socat = f"{params['socat']} -lf {vm.guestfwd_log} - TCP:{target},,so-bindtodevice={device}"
        netdev.append(f"guestfwd=tcp:{target}-cmd:{socat}")
    key = base64.b64encode(authorized_key.encode()).decode()
    accel_option = "kvm" if accel == "kvm" else "tcg,thread=multi"
    return [
        params["qemu"],
        "-name", params["name"],
        "-machine", "q35", "-accel", accel_option,
        "-cpu", "host" if accel == "kvm" else "max",
        "-smp", str(params["cpus"]), "-m", str(params["memory"]),
        "-nodefaults", "-display", "none", "-no-reboot",
        "-kernel", os.path.join(params["image_dir"], "vmlinuz"),
        "-initrd", os.path.join(params["image_dir"], "initrd.img"),
        "-append", f"root=/dev/vda rw console=ttyS0 panic=-1 nested_warden.authorized_key={key}",
        "-drive", f"file={vm.overlay},format=qcow2,if=virtio,discard=unmap",
        "-netdev", ",".join(netdev),
        "-device", "virtio-net-pci,netdev=lab",
        "-serial", f"file:{vm.console_log}",
        "-pidfile", vm.pid_file,
    ]  # fmt: skip


def run(argv, timeout=60):
    """(rc, stdout, stderr) of argv in the C locale, stopped (its process group too) after timeout."""
    result = run_with_timeout(argv, {"LC_ALL": "C", "LANG": "C"}, None, timeout)
    return result.rc, result.stdout, f"timed out after {timeout}s" if result.timed_out else result.stderr


def ensure_key(vm):
    if not os.path.exists(vm.key):
        argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nested-warden-lab", "-f", vm.key]
        code, _out, err = run(argv)
        if code != 0:
            raise LabVmError(f"ssh-keygen could not make the lab's key {vm.key}: {err.strip()}")
    return read_text(vm.key + ".pub").strip()


def start_qemu(params, vm, hosts, accel, authorized_key):
    for path in (vm.console_log, vm.qemu_log):
        if os.path.exists(path):
            os.remove(path)
    code, _out, err = run(
        [params["qemu_img"], "create", "-q", "-f", "qcow2", "-F", "raw",
         "-b", os.path.join(params["image_dir"], "disk.img"), vm.overlay]
    )  # fmt: skip
    if code != 0:
        raise LabVmError(f"qemu-img could not create the overlay {vm.overlay}: {err.strip()}")
    argv = qemu_argv(params, vm, hosts, accel, authorized_key)
    with open(vm.qemu_log, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process


def wait_kvm_userspace(process, vm, limit):
    """True when the guest reached userspace under KVM within limit seconds; else the reason."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False, f"qemu exited ({process.returncode}) under KVM: {' | '.join(tail(vm.qemu_log, 3))}"
        failure = next((mark for mark in KVM_FAILURES if mark in read_text(vm.qemu_log)), None)
        if failure:
            return False, f"KVM stopped the guest ({failure}): {' | '.join(tail(vm.qemu_log, 3))}"
        if USERSPACE_MARK in read_text(vm.console_log):
            return True, ""
        time.sleep(0.5)
    return False, f"the guest did not reach userspace under KVM within {limit}s"


def ssh_argv(params, vm, *command):
    return [
        "ssh", "-i", vm.key, "-p", str(params["ssh_port"]),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
        "-o", f"UserKnownHostsFile={vm.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "LogLevel=ERROR", "root@127.0.0.1", *command,
    ]  # fmt: skip


def ssh_banner(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
            conn.settimeout(3)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def wait_ready(params, vm, process, started):
    """Wait until SSH lets the lab in and the guest's Docker engine answers."""
    deadline = started + params["boot_timeout"]
    stage = "SSH"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LabVmError(
                f"qemu exited ({process.returncode}) before the VM was ready: "
                f"{' | '.join(tail(vm.qemu_log, 5))}; "
                f"console: {' | '.join(tail(vm.console_log, 10))}"
            )
        if ssh_banner(params["ssh_port"]):
            stage = "Docker"
            argv = ssh_argv(params, vm, "docker", "info", "--format", "{{.ServerVersion}}")
            code, _out, _err = run(argv, timeout=30)
            if code == 0:
                return round(time.monotonic() - started, 1)
        time.sleep(1)
    raise LabVmError(
        f"the VM did not answer {stage} within {params['boot_timeout']}s (boot_timeout); last console lines: "
        + " | ".join(tail(vm.console_log, 15))
    )


def guest_facts(params, vm):
    """What the guest is: the facts a report names."""
    script = (
        "uname -r; stat -fc %T /sys/fs/cgroup; "
        "cat /sys/module/apparmor/parameters/enabled 2>/dev/null || echo N; "
        "grep ^CapBnd /proc/self/status | cut -f2; docker version --format '{{.Server.Version}}'"
    )
    code, out, err = run(ssh_argv(params, vm, script), timeout=60)
    if code != 0:
        raise LabVmError(f"the VM answered SSH but not the facts probe: {err.strip()}")
    lines = out.splitlines() + [""] * 5
    return {
        "kernel": lines[0],
        "cgroup": "v2" if lines[1] == "cgroup2fs" else "v1",
        "apparmor": lines[2].strip() == "Y",
        "cap_bounding_set": lines[3],
        "docker": lines[4],
    }


def probe_key(qemu):
    """What a KVM verdict holds for: this kernel, this CPU, this qemu."""
    cpu = next(
        (line for line in read_text("/proc/cpuinfo").splitlines() if line.startswith("model name")), ""
    )
    try:
        qemu_stamp = str(os.stat(qemu).st_mtime_ns)
    except OSError:
        qemu_stamp = ""
    return hashlib.sha256("\n".join([os.uname().release, cpu, qemu, qemu_stamp]).encode()).hexdigest()[:16]


def cached_kvm_failure(path, key):
    try:
        record = json.loads(read_text(path) or "{}")
    except ValueError:
        return ""
    return record.get("reason", "") if record.get("key") == key else ""


def boot(params, vm, network_hosts, authorized_key):
    """Boot the VM: KVM where a probe boot reaches userspace in time, TCG otherwise. A failed
    probe is remembered for this kernel, CPU and qemu (image_dir/kvm-probe.json)."""
    accel, reason = params["accel"], ""
    probe_file = os.path.join(params["image_dir"], "kvm-probe.json")
    key = probe_key(params["qemu"])
    if accel == "auto":
        usable, why = kvm_usable()
        accel, reason = ("kvm", why) if usable else ("tcg", why)
        earlier = cached_kvm_failure(probe_file, key) if usable else ""
        if earlier:
            accel = "tcg"
            reason = f"{earlier} (remembered in {probe_file}; delete it to probe again)"
    started = time.monotonic()
    process = start_qemu(params, vm, network_hosts, accel, authorized_key)
    if accel == "kvm" and params["accel"] == "auto":
        ok, why = wait_kvm_userspace(process, vm, params["kvm_probe_timeout"])
        if ok:
            reason = f"a probe boot under KVM reached userspace in {time.monotonic() - started:.1f}s"
        else:
            if process.poll() is None:
                process.kill()
                process.wait()
            vm.stop()
            accel, reason = "tcg", f"KVM was tried and given up: {why}"
            with open(probe_file, "w", encoding="utf-8") as record:
                json.dump(
                    {
                        "key": key,
                        "reason": reason,
                        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    },
                    record,
                )
            started = time.monotonic()
            process = start_qemu(params, vm, network_hosts, accel, authorized_key)
    elif params["accel"] != "auto":
        reason = f"accel={accel} was asked for"
    try:
        seconds = wait_ready(params, vm, process, started)
    except LabVmError:
        vm.stop()
        raise
    return accel, reason, seconds


def ensure_present(params, check_mode):
    """The VM running with params; returns the result dict (changed, action, facts...)."""
    vm = LabVm(params["state_dir"])
    recipe = check_base(params["image_dir"])
    network_hosts = check_network(params)[1]
    check_ports(params)
    for tool in ("qemu", "qemu_img", "socat", "ip"):
        if not params[tool]:
            name = tool.replace("_", "-")
            raise LabVmError(f"{name} was not found: install it (scripts/bootstrap packages)")
    params["forward_devices"] = forward_devices(params["guest_forwards"], params["ip"])
    spec = spec_of(params, recipe)
    recorded = vm.recorded_spec()
    running = vm.running()
    if running and recorded.get("digest") == digest(spec):
        return dict(recorded.get("result", {}), changed=False, action="running")
    action = "recreated" if running else ("recovered" if vm.leftovers() else "started")
    # A VM to be recreated holds the port and the memory itself until it is stopped.
    if not running:
        check_resources(params, params["state_dir"])
        require_free_ports(params)
    if check_mode:
        return {"changed": True, "action": action}
    os.makedirs(params["state_dir"], mode=0o700, exist_ok=True)
    vm.stop()
    if running:
        require_free_ports(params)
    authorized_key = ensure_key(vm)
    with open(vm.known_hosts, "w", encoding="utf-8") as handle:
        host_key = read_text(os.path.join(params["image_dir"], "host_key.pub")).split()
        handle.write(f"[127.0.0.1]:{params['ssh_port']} {host_key[0]} {host_key[1]}\n")
    accel, reason, seconds = boot(params, vm, network_hosts, authorized_key)
    facts = guest_facts(params, vm)
    result = {
        "changed": True,
        "action": action,
        "pid": vm.pid(),
        "accel": accel,
        "accel_reason": reason,
        "seconds_to_ready": seconds,
        "ssh_port": params["ssh_port"],
        "host_forwards": [f"127.0.0.1:{f['port']} -> {f['guest_port']}" for f in params["host_forwards"]],
        "ssh_key": vm.key,
        "known_hosts": vm.known_hosts,
        "console_log": vm.console_log,
        "recipe": recipe,
        "guest": facts,
    }
    with open(vm.spec_file, "w", encoding="utf-8") as handle:
        json.dump({"digest": digest(spec), "spec": spec, "result": result}, handle)
    return result


def ensure_absent(params, check_mode):
    vm = LabVm(params["state_dir"])
    present = vm.running() or os.path.isdir(params["state_dir"])
    if check_mode or not present:
        return {"changed": present, "action": "removed" if present else "absent"}
    vm.remove()
    return {"changed": True, "action": "removed"}
