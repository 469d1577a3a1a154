"""Paper digest: personal daily digests of new papers, as email and RSS/Atom feeds."""

__version__ = "0.1.0"
