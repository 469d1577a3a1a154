"""A store-ready setup with one invented paper and an "astro" profile that matches it.

The delivery and subscription tests need a run that makes exactly one edition for a known
set of readers; what differs between them (an SMTP section, more profiles) comes as YAML
appended after the astro profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from digest.config import Config, load_config


def one_paper_config(tmp_path: Path, readers: Sequence[str], tail: str = "") -> Config:
    (tmp_path / "listings").mkdir(exist_ok=True)
    (tmp_path / "listings" / "day.jsonl").write_text(
        '{"id": "2611.00001", "title": "Bars in barred galaxies", '
        '"abstract": "Galaxy bars and their dynamics.", "published": "2026-11-20"}\n'
    )
    path = tmp_path / "config.yaml"
    path.write_text(f"""
sender: "Digest <digest@example.org>"
sources: [{{name: files, type: file, paths: ["listings/*.jsonl"]}}]
profiles:
  astro:
    interests: [{{name: Galaxies, keywords: [galaxy]}}]
    subscribers: [{", ".join(readers)}]
{tail}
""")
    return load_config(path)
