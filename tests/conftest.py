"""Shared test fixtures. Real components only: loopback servers, temporary SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The real-world fixture folder beside the clone; tests that need it skip without it."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real-world fixtures not found at {SHARED_FIXTURES} (../shared/fixtures)")
    return SHARED_FIXTURES
