"""Run something that may hang on a thread, with a time limit, for the tests of worker
processes that die: the error must come, not a wait forever."""

from __future__ import annotations

import threading
from collections.abc import Callable


def raised_within(seconds: float, action: Callable[[], object]) -> BaseException | None:
    """What ``action`` raised (None if it returned); an AssertionError if it still runs after
    ``seconds`` (a guard only: the error is expected as soon as a worker is found dead)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            action()
            outcome.append(None)
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"{action} still waits after {seconds} s"
    return outcome[0]
