"""Errors whose messages tell the user what to check; the CLI prints them without a traceback."""

from __future__ import annotations


class DigestError(Exception):
    """Base class for every error the CLI turns into a one-line message and a non-zero exit."""


class ConfigError(DigestError):
    """The configuration file cannot be used; ``problems`` lists every finding, one per line."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{path}: {count} {noun}:\n{lines}")


class SourceError(DigestError):
    """A listing source could not be fetched or understood."""


class FetchError(SourceError):
    """Downloading a listing failed (network, HTTP status, timeout, size limit)."""


class ParseError(SourceError):
    """Bytes were downloaded but are not a listing we can read."""


class ApiRefusal(ParseError):
    """The arXiv API answered with an error entry: it cannot use the query or an id in it."""


class PaperNotFound(DigestError):
    """An arXiv id that neither the store nor arXiv knows."""


class StoreError(DigestError):
    """The database cannot be opened or is from a newer version of the program."""


class StoreLocked(StoreError):
    """Another digest process holds the run lock; ``digest serve`` waits, ``digest run`` stops."""


class DeliveryError(DigestError):
    """A digest could not be written to the outbox or handed to the SMTP server."""


class ProfileNotFound(DigestError):
    """A command named a profile the configuration does not define."""


class SubscriptionError(DigestError):
    """An address or unsubscribe token cannot be used (malformed, tampered, unknown profile)."""


class RankingError(DigestError):
    """Ranking could not finish: a worker process died (ranking profiles, or counting the
    corpus's words for the fit)."""
