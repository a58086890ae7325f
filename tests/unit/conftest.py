"""Unit tests: no shared data, no server, no other process (see ``tests/conftest.py``).

A unit test that opens a socket or starts a process fails here, saying where such a test
belongs; the shared data is kept out of its reach by ``.ci/run``, which runs this folder with
``KCAST_SHARED_DATA`` pointing at an empty folder.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

MOVE = "a unit test {what}: move it to tests/integration/ (see tests/conftest.py)"


def _no_socket(self: socket.socket, address: object) -> None:
    raise OSError(MOVE.format(what=f"opens no socket (tried {address!r})"))


class _NoProcess(subprocess.Popen):
    def __init__(self, args, *more, **kw) -> None:
        raise OSError(MOVE.format(what=f"starts no process (tried {args!r})"))


@pytest.fixture(autouse=True)
def _unit_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _no_socket)
    monkeypatch.setattr(socket.socket, "bind", _no_socket)
    monkeypatch.setattr(subprocess, "Popen", _NoProcess)
