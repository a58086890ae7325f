"""A real BigQuery emulator (bqemulator) on 127.0.0.1, started and stopped by the tests.

``scripts/setup-bqemulator.sh`` installs it under ``~/.cache/kcast-ci/bqemu`` (its own venv,
DuckDB's extensions pre-placed, so it starts with no network). Use::

    with BigQueryEmulator() as emu:
        url = emu.new_dataset("e2e")           # bigquery://kcast-test/e2e, freshly created
        monkeypatch.setenv("KCAST_BIGQUERY_ENDPOINT", emu.endpoint)

Set ``KCAST_BQEMU`` to another ``bqemulator`` executable to use it instead (its DuckDB extensions
must then be in ``$HOME/.duckdb/extensions``, or in ``home/`` two folders above its ``bin/``).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "scripts" / "setup-bqemulator.sh"
PROJECT = "kcast-test"


class EmulatorUnavailable(RuntimeError):
    """The emulator is not installed and could not be installed, or did not start."""


def emulator_executable() -> Path:
    """The bqemulator executable; runs the (idempotent) setup script when needed."""
    given = os.environ.get("KCAST_BQEMU")
    if given:
        return Path(given)
    done = subprocess.run(
        ["bash", str(SETUP), "--print"], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        raise EmulatorUnavailable(f"{SETUP} failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class BigQueryEmulator:
    """One emulator process on free loopback ports, in memory (--ephemeral)."""

    def __init__(self, log_path: Path | None = None, start_timeout: float = 60.0) -> None:
        self.executable = emulator_executable()
        self.port = free_port()
        self.grpc_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.project = PROJECT
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None

    def start(self) -> BigQueryEmulator:
        env = dict(os.environ)
        home = self.executable.parents[2] / "home"  # bqemu/home: DuckDB's extensions
        if home.is_dir():
            env["HOME"] = str(home)
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        t0 = time.monotonic()
        atexit.register(self.stop)  # also when the test run is interrupted
        self._proc = subprocess.Popen(
            [
                str(self.executable),
                "start",
                "--rest-host",
                "127.0.0.1",
                "--rest-port",
                str(self.port),
                "--grpc-host",
                "127.0.0.1",
                "--grpc-port",
                str(self.grpc_port),
                "--project",
                self.project,
                "--ephemeral",
                "--log-format",
                "console",
                "--log-level",
                "warning",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        while time.monotonic() - t0 < self.start_timeout:
            if self._proc.poll() is not None:
                raise EmulatorUnavailable(
                    f"the emulator exited with {self._proc.returncode} (log: {self.log_path})"
                )
            if self.ready():
                self.startup_seconds = time.monotonic() - t0
                return self
            time.sleep(0.1)
        self.stop()
        raise EmulatorUnavailable(f"the emulator was not ready in {self.start_timeout} s")

    def ready(self) -> bool:
        """True when ``/readyz`` answers 200 (DuckDB and the catalog answer)."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/readyz", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def client(self):
        """A google-cloud-bigquery client for the emulator (anonymous credentials)."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )

    def new_dataset(self, name: str) -> str:
        """Create an empty dataset (dropping one of that name); return its bigquery:// URL."""
        client = self.client()
        ref = f"{self.project}.{name}"
        client.delete_dataset(ref, delete_contents=True, not_found_ok=True)
        client.create_dataset(ref)
        return f"bigquery://{self.project}/{name}"

    def stop(self) -> None:
        """Stop the process this object started (by its pid), waiting for it to exit."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def __enter__(self) -> BigQueryEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
