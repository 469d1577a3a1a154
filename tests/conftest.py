"""Shared test fixtures. Real components only: loopback servers, temporary SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback_http import LoopbackServer
from loopback_smtp import LoopbackSmtp

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The real-world fixture folder beside the clone; tests that need it skip without it."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real-world fixtures not found at {SHARED_FIXTURES} (../shared/fixtures)")
    return SHARED_FIXTURES


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A started loopback HTTP server (see tests/loopback_http.py), stopped after the test."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[LoopbackSmtp]:
    """A started aiosmtpd server on 127.0.0.1 (see tests/loopback_smtp.py)."""
    with LoopbackSmtp() as server:
        yield server
