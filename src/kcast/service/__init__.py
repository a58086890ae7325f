"""The prediction worker (HTTP): every active system behind a circuit breaker.

Run it with ``kcast serve``; check a running one with ``kcast validate --service-url URL``.
"""

from __future__ import annotations

from kcast.service.app import BackgroundServer, create_app

__all__ = ["BackgroundServer", "create_app"]
