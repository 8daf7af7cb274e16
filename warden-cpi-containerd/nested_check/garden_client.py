"""A small client of Garden's HTTP API (code.cloudfoundry.org/garden), written from its public
contract: the routes, the JSON bodies, and the process protocol over hijacked connections.

    garden = Garden("tcp:127.0.0.1:7777")          # or "unix:/var/vcap/data/garden/garden.sock"
    garden.ping()
    handle = garden.create({"handle": "h", "rootfs": "raw:///rootfs"})
    result = garden.run(handle, {"path": "/bin/busybox", "args": ["echo", "hi"]})
    result.exit_status, result.stdout
    garden.destroy(handle)

The contract, as gdn serves it:
- Every call is one HTTP/1.1 request on its own connection (the Go client disables keep-alive).
  Bodies are one JSON document followed by a newline (Go's json.Encoder), Content-Type
  application/json when there is a body. Success is any 2xx with a JSON body ({} when empty).
- Errors come as a non-2xx status with {"Type", "Message", "Handle", "ProcessID", "Binary"};
  Type is empty for plain errors, ContainerNotFoundError (404), ProcessNotFoundError (404),
  ExecutableNotFoundError, ServiceUnavailableError, UnrecoverableError.
- POST /containers/:handle/processes (run) answers 201 and then keeps the connection (hijacked):
  the server writes a stream of newline-separated JSON payloads, the first
  {"process_id", "stream_id"}, the last {"process_id", "exit_status"} or {"error"}. The client
  writes payloads on the same connection: stdin data {"process_id", "source": 0, "data"},
  end of stdin {"process_id", "source": 0}, signals {"process_id", "signal"}.
- Output comes on two more connections, GET
  /containers/:handle/processes/:pid/attaches/:stream_id/stdout and .../stderr, opened after the
  first payload: raw bytes until the server closes them when the process has exited.
"""

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field

STDIN = 0


class GardenError(Exception):
    """Garden answered with an error (status and Garden's error type kept), or not at all."""

    def __init__(self, message, status=None, error_type="", handle=""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.handle = handle


@dataclass
class ProcessResult:
    process_id: str
    exit_status: int | None
    stdout: str
    stderr: str
    error: str = ""
    payloads: list = field(default_factory=list)


class Recorder:
    """Keeps every byte sent and received, per connection, for golden transcripts."""

    def __init__(self):
        self.connections = []
        self._lock = threading.Lock()

    def open(self, label):
        entry = {"label": label, "sent": bytearray(), "received": bytearray()}
        with self._lock:
            self.connections.append(entry)
        return entry


class _Connection:
    def __init__(self, sock, record):
        self.sock = sock
        self.record = record
        self.buffer = b""

    def send(self, data):
        if self.record is not None:
            self.record["sent"] += data
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if self.record is not None:
            self.record["received"] += chunk
        self.buffer += chunk
        return bool(chunk)

    def read_until(self, marker):
        while marker not in self.buffer:
            if not self._fill():
                raise GardenError(f"connection closed before {marker!r} (got {self.buffer[:200]!r})")
        head, _marker, self.buffer = self.buffer.partition(marker)
        return head

    def read_exactly(self, size):
        while len(self.buffer) < size:
            if not self._fill():
                raise GardenError(f"connection closed after {len(self.buffer)} of {size} body bytes")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_to_end(self):
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data

    def read_line(self):
        """One newline-terminated payload; None at the end of the stream."""
        while b"\n" not in self.buffer:
            if not self._fill():
                rest, self.buffer = self.buffer, b""
                return rest or None
        line, _newline, self.buffer = self.buffer.partition(b"\n")
        return line

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


def _error_from(status, body):
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "Message" in document:
        return GardenError(
            document["Message"],
            status=status,
            error_type=document.get("Type", ""),
            handle=document.get("Handle", ""),
        )
    return GardenError(f"Garden answered {status}: {body.decode(errors='replace')[:500]}", status=status)


class Garden:
    def __init__(self, address, timeout=60.0, recorder=None):
        network, _colon, rest = address.partition(":")
        if network not in ("tcp", "unix") or not rest:
            raise ValueError(f"Garden address must be tcp:HOST:PORT or unix:PATH, not {address!r}")
        self.network = network
        if network == "tcp":
            host, _colon, port = rest.rpartition(":")
            self.target = (host, int(port))
        else:
            self.target = rest
        self.timeout = timeout
        self.recorder = recorder

    # --- transport ---------------------------------------------------------------------------

    def _dial(self, label, timeout=None):
        family = socket.AF_INET if self.network == "tcp" else socket.AF_UNIX
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout or self.timeout)
        try:
            sock.connect(self.target)
        except OSError as error:
            sock.close()
            raise GardenError(f"cannot connect to Garden at {self.network}:{self.target}: {error}") from error
        record = self.recorder.open(label) if self.recorder else None
        return _Connection(sock, record)

    @staticmethod
    def _request_bytes(method, path, body):
        lines = [f"{method} {path} HTTP/1.1", "Host: api", "User-Agent: nested-check-garden-client"]
        payload = b""
        if body is not None:
            payload = (json.dumps(body, separators=(",", ":")) + "\n").encode()
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(payload)}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload

    @staticmethod
    def _read_head(conn):
        head = conn.read_until(b"\r\n\r\n").decode("iso-8859-1")
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise GardenError(f"not an HTTP response: {status_line!r}")
        headers = {}
        for line in header_lines:
            name, _colon, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    @staticmethod
    def _read_body(conn, headers):
        if "content-length" in headers:
            return conn.read_exactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(conn.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    conn.read_until(b"\r\n")
                    return body
                body += conn.read_exactly(size)
                conn.read_until(b"\r\n")
        return conn.read_to_end()

    def _call(self, method, path, body=None, label=None, timeout=None):
        conn = self._dial(label or f"{method} {path}", timeout)
        try:
            conn.send(self._request_bytes(method, path, body))
            status, headers = self._read_head(conn)
            data = self._read_body(conn, headers)
        except TimeoutError as error:
            raise GardenError(f"{method} {path}: no answer within {timeout or self.timeout}s") from error
        except OSError as error:
            raise GardenError(f"{method} {path}: {error}") from error
        finally:
            conn.close()
        if not 200 <= status <= 299:
            raise _error_from(status, data)
        try:
            return json.loads(data) if data.strip() else {}
        except ValueError as error:
            raise GardenError(f"{method} {path}: not JSON: {data[:200]!r}", status=status) from error

    # --- API -----------------------------------------------------------------------------------

    def ping(self, timeout=None):
        self._call("GET", "/ping", label="ping", timeout=timeout)

    def capacity(self):
        return self._call("GET", "/capacity", label="capacity")

    def list(self):
        answer = self._call("GET", "/containers", label="list")
        return answer.get("Handles") or answer.get("handles") or []

    def create(self, spec):
        # gdn answers {"Handle": ...} (its Go client decodes field names case-insensitively).
        answer = self._call("POST", "/containers", spec, label="create")
        handle = answer.get("Handle") or answer.get("handle")
        if not handle:
            raise GardenError(f"create: Garden answered without a handle: {answer}")
        return handle

    def info(self, handle):
        return self._call("GET", f"/containers/{handle}/info", label="info")

    def destroy(self, handle):
        self._call("DELETE", f"/containers/{handle}", label="destroy")

    def run(self, handle, spec, stdin=b"", timeout=None):
        """Run a process and wait for it: stdout, stderr and exit status.

        stdin (bytes) is sent and then closed; None leaves stdin open, as the Go client does
        when no stdin is given.
        """
        timeout = timeout or self.timeout
        control = self._dial("run", timeout)
        try:
            control.send(self._request_bytes("POST", f"/containers/{handle}/processes", spec))
            status, headers = self._read_head(control)
            if not 200 <= status <= 299:
                raise _error_from(status, self._read_body(control, headers))
            first = control.read_line()
            if first is None:
                raise GardenError("run: the connection closed before the process id")
            hello = json.loads(first)
            if "error" in hello:
                raise GardenError(f"run: {hello['error']}")
            process_id, stream_id = hello["process_id"], hello["stream_id"]
            outputs = {}
            attaches = f"/containers/{handle}/processes/{process_id}/attaches/{stream_id}"
            readers = [
                self._attach(f"{attaches}/{name}", name, outputs, timeout) for name in ("stdout", "stderr")
            ]
            if stdin is not None:
                if stdin:
                    data = {"process_id": process_id, "source": STDIN, "data": stdin.decode()}
                    control.send((json.dumps(data, separators=(",", ":")) + "\n").encode())
                end = {"process_id": process_id, "source": STDIN}
                control.send((json.dumps(end, separators=(",", ":")) + "\n").encode())
            payloads, exit_status, error = self._wait_for_exit(control, hello)
            for reader in readers:
                reader.join(timeout)
        except TimeoutError as error:
            raise GardenError(f"run: no exit status within {timeout}s") from error
        except OSError as error:
            raise GardenError(f"run: {error}") from error
        finally:
            control.close()
        return ProcessResult(
            process_id=process_id,
            exit_status=exit_status,
            stdout=outputs.get("stdout", b"").decode(errors="replace"),
            stderr=outputs.get("stderr", b"").decode(errors="replace"),
            error=error,
            payloads=payloads,
        )

    @staticmethod
    def _wait_for_exit(control, hello):
        """Payloads until the exit status or an error; the output streams run meanwhile."""
        payloads, exit_status, error = [hello], None, ""
        while True:
            line = control.read_line()
            if line is None:
                return payloads, exit_status, "the connection closed before an exit status"
            if not line.strip():
                continue
            payload = json.loads(line)
            payloads.append(payload)
            if payload.get("error") is not None:
                return payloads, exit_status, payload["error"]
            if payload.get("exit_status") is not None:
                return payloads, payload["exit_status"], error

    def _attach(self, path, name, outputs, timeout):
        conn = self._dial(name, timeout)
        conn.send(self._request_bytes("GET", path, None))
        status, headers = self._read_head(conn)
        if not 200 <= status <= 299:
            body = self._read_body(conn, headers)
            conn.close()
            raise _error_from(status, body)

        def pump():
            try:
                outputs[name] = conn.read_to_end()
            except OSError:
                outputs[name] = conn.buffer
            finally:
                conn.close()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        return reader


def wait_for_ping(garden, timeout, alive=lambda: True, interval=0.25):
    """Ping until Garden answers; returns (answered, seconds, last error)."""
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < timeout:
        if not alive():
            return False, time.monotonic() - started, last or "Garden exited"
        try:
            garden.ping(timeout=2)
            return True, time.monotonic() - started, ""
        except GardenError as error:
            last = str(error)
        time.sleep(interval)
    return False, time.monotonic() - started, last
