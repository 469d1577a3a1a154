"""The ``digest`` command as a user runs it: a real subprocess, real files, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from loopback_http import LoopbackServer

REPO = Path(__file__).resolve().parent.parent
RSS_FULL = "arxiv_rss_new/jmmeus_aioarxiv__all_archives_2024-11-28_full_1504items.xml"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"


def digest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120, check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = digest("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "ingest", "rank", "preview", "check", "feedback"):
        assert command in result.stdout


def test_check_reports_misspelt_key_with_line_and_suggestion(tmp_path: Path) -> None:
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    (tmp_path / "config.yaml").write_text(text.replace("max_papers:", "max_paper:"))
    result = digest("check", cwd=tmp_path)
    assert result.returncode == 1
    no_traceback(result)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "max_papers:" in t)
    assert (f"config.yaml:{line}: profiles.nlp.max_paper: unknown key 'max_paper'; "
            "did you mean 'max_papers'?") in result.stderr


def test_check_accepts_the_shipped_configs() -> None:
    # config.yaml has a seed paper; --offline keeps its lookup (and the network) out of tests.
    assert digest("check", "--offline", cwd=REPO).returncode == 0
    assert digest("-c", "examples/offline.yaml", "check", cwd=REPO).returncode == 0


def feed_config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""
sources:
  - {source}
profiles:
  astro:
    interests: [{{name: Galaxies, keywords: [galaxy, "dark matter"]}}]
    subscribers: [me@example.org]
""", encoding="utf-8")
    return path


def test_full_arxiv_feed_gives_exactly_its_new_and_cross_papers(
    tmp_path: Path, shared_fixtures: Path
) -> None:
    feed = shared_fixtures / RSS_FULL
    expected = {
        item.findtext("guid").removeprefix("oai:arXiv.org:").rsplit("v", 1)[0]  # type: ignore[union-attr]
        for item in ET.parse(feed).getroot().iter("item")
        if item.findtext(f"{ARXIV_NS}announce_type") in ("new", "cross")
    }
    assert len(expected) == 935
    feed_config(tmp_path, f'{{name: all, type: file, paths: ["{feed}"]}}')
    assert digest("ingest", cwd=tmp_path).returncode == 0
    result = digest("rank", "astro", "--limit", "0", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ranked = json.loads(result.stdout)
    assert ranked["profile"] == "astro" and ranked["date"] == "2024-11-28"
    assert {paper["id"] for paper in ranked["papers"]} == expected
    assert len(ranked["papers"]) == 935
    top = ranked["papers"][0]
    assert top["score"] > 0 and top["reasons"] and {"id", "title", "score"} <= top.keys()
    assert all(paper["reasons"] for paper in ranked["papers"])
    scores = [paper["score"] for paper in ranked["papers"]]
    assert scores == sorted(scores, reverse=True)
    same_date = digest("rank", "astro", "--date", "2024-11-28", "--json", "--limit", "0",
                       cwd=tmp_path)
    assert json.loads(same_date.stdout) == ranked


def test_run_twice_then_preview(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "listings", tmp_path / "listings")
    feed_config(tmp_path, '{name: files, type: file, paths: ["listings/*.jsonl"]}')
    first = digest("run", cwd=tmp_path)
    second = digest("run", cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "1 sent" in first.stdout and "ranking 1 profile(s) ..." in first.stderr
    assert "0 sent" in second.stdout and "nothing announced since the last edition" in second.stdout
    assert "ranking" not in second.stderr  # nothing new to rank: not even the word weights
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 1
    preview = digest("preview", "astro", cwd=tmp_path)
    path = Path(preview.stdout.strip())
    assert preview.returncode == 0 and path.is_file()
    assert "<html" in path.read_text(encoding="utf-8")


def test_rank_and_preview_name_seeds_that_do_not_count_yet(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "listings", tmp_path / "listings")
    path = feed_config(tmp_path, '{name: files, type: file, paths: ["listings/*.jsonl"]}')
    path.write_text(path.read_text(encoding="utf-8").replace(
        '"dark matter"]}', '"dark matter"], seeds: ["2411.99999"]}'), encoding="utf-8")
    assert digest("ingest", cwd=tmp_path).returncode == 0
    for command in (("rank", "astro", "--json"), ("preview", "astro")):
        result = digest(*command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert ("1 seed paper(s) of astro are not in the store and do not count yet: "
                "2411.99999") in result.stderr
    assert json.loads(digest("rank", "astro", "--json", cwd=tmp_path).stdout)["papers"]


def test_rank_names_keywords_that_no_stored_paper_uses(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "listings", tmp_path / "listings")
    path = feed_config(tmp_path, '{name: files, type: file, paths: ["listings/*.jsonl"]}')
    path.write_text(path.read_text(encoding="utf-8").replace(
        '"dark matter"]', '"dark matter", "Galaxy zoos", "quokka*"]'), encoding="utf-8")
    empty = digest("rank", "astro", cwd=tmp_path)  # an empty store: nothing to say yet
    assert empty.returncode == 0 and "note:" not in empty.stderr, empty.stderr
    assert digest("ingest", cwd=tmp_path).returncode == 0
    result = digest("rank", "astro", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("note: no stored paper uses “zoo”, so the keyword “Galaxy zoos” adds to no "
            "paper's score. Keywords match whole words: “math” does not find “mathematical”, "
            "“math*” does.") in result.stderr
    assert ("note: no stored paper uses a word that begins with “quokka”, so the keyword “quokka*” "
            "adds to no paper's score.\n") in result.stderr
    assert "“galaxy”" not in result.stderr and "dark" not in result.stderr


def test_unknown_profile_is_a_clear_error(tmp_path: Path) -> None:
    feed_config(tmp_path, '{name: files, type: file, paths: ["*.jsonl"]}')
    result = digest("rank", "astr", cwd=tmp_path)
    assert result.returncode == 1
    no_traceback(result)
    assert "no profile named 'astr'" in result.stderr and "astro" in result.stderr


def test_unreachable_source_fails_with_its_name(tmp_path: Path,
                                                http_server: LoopbackServer) -> None:
    url = http_server.url("/missing.xml")
    feed_config(tmp_path, f'{{name: journal, type: feed, url: "{url}"}}')
    result = digest("ingest", cwd=tmp_path)
    assert result.returncode == 1
    no_traceback(result)
    assert "journal: FAILED: GET " in result.stderr and "HTTP 404" in result.stderr


def test_missing_config_says_what_to_do(tmp_path: Path) -> None:
    result = digest("run", cwd=tmp_path)
    assert result.returncode == 1
    no_traceback(result)
    assert "config.yaml" in result.stderr and "file not found" in result.stderr
