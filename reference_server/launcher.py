"""Start the reference server as a subprocess on 127.0.0.1 and wait until it accepts connections.

    with start_server(tmp_path, {"T1": "alice", "T2": "bob"}, faults=["title_dropped"]) as server:
        httpx.get(server.base_url + "/storage/images", headers={"Authorization": "Bearer T1"})

    # Another correct server: "20 MB" read as 20,000,000 bytes (reference_server/choices.py).
    with start_server(tmp_path, tokens, choices=["decimal_megabyte"]) as server:
        ...

`tokens` map bearer token -> user name, as ServerConfig.tokens does; they reach the child in
STRETCH_REF_TOKENS (never on its command line).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

logger = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(r"^reference server listening on (http://\S+)$")
_STDERR_TAIL = 4000
# Straight to 127.0.0.1: an HTTP(S)_PROXY in the environment must never see this traffic.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RunningServer:
    """A started reference server; stop() it, or use it as a context manager."""

    def __init__(self, process: subprocess.Popen[str], origin: str, stderr: IO[bytes]):
        self.process = process
        self.origin = origin
        self._stderr = stderr

    @property
    def base_url(self) -> str:
        """The API base, like the production `https://api.stretch.com/api/v1`."""
        return f"{self.origin}/api/v1"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stats(self) -> dict[str, Any]:
        """The server's busy time: {"busy_seconds": float, "requests": int}."""
        with _DIRECT.open(f"{self.origin}/__reference/stats", timeout=10) as answer:
            return json.load(answer)

    def stop(self, grace: float = 5.0) -> None:
        """Terminate, then kill after `grace` seconds; calling it again does nothing."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                logger.warning("reference server %d ignored SIGTERM; killing it", self.pid)
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self._stderr.close()

    def stderr_tail(self) -> str:
        return _tail(self._stderr)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(
    data_dir: Path,
    tokens: Mapping[str, str],
    faults: Iterable[str] = (),
    port: int = 0,
    timeout: float = 10,
    choices: Iterable[str] = (),
) -> RunningServer:
    """Run `python -m reference_server` and return once it prints its listening line."""
    command = [sys.executable, "-m", "reference_server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--data-dir", str(data_dir)]
    for fault in faults:
        command += ["--fault", fault]
    for choice in choices:
        command += ["--choice", choice]
    stderr = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        env=_child_env(tokens),
        text=True,
    )
    try:
        origin = _wait_for_listening(process, timeout)
    except (TimeoutError, EOFError):
        _abandon(process)
        tail = _tail(stderr)
        stderr.close()
        raise RuntimeError(
            f"reference server did not start within {timeout} s "
            f"(exit code {process.returncode}); stderr tail:\n{tail}"
        ) from None
    return RunningServer(process, origin, stderr)


def _child_env(tokens: Mapping[str, str]) -> dict[str, str]:
    for token, user in tokens.items():
        if not token or not user or "," in token + user or "=" in user:
            raise ValueError("tokens must map token -> user, without ',' (or '=' in a user)")
    env = dict(os.environ)
    env["STRETCH_REF_TOKENS"] = ",".join(f"{user}={token}" for token, user in tokens.items())
    paths = [str(_PROJECT_ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    return env


def _wait_for_listening(process: subprocess.Popen[str], timeout: float) -> str:
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            raise EOFError
        found = _LISTENING.match(line.strip())
        if found:
            return found.group(1)


def _pump(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    """Read the child's stdout to its end, so a full pipe can never block it."""
    if stream is None:
        return
    try:
        for line in stream:
            lines.put(line)
    except ValueError:
        pass  # the pipe was closed by stop()
    lines.put(None)


def _abandon(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def _tail(stderr: IO[bytes]) -> str:
    if stderr.closed:
        return ""
    stderr.seek(0, os.SEEK_END)
    size = stderr.tell()
    stderr.seek(max(0, size - _STDERR_TAIL))
    return stderr.read().decode("utf-8", "replace")
