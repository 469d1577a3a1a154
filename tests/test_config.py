"""Config loading: every problem reported with file, line, field path and a suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import FileSource, load_config
from digest.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

VALID = """\
database: state/digest.sqlite
sources:
  - name: local
    type: file
    paths: ["listings/*.jsonl"]
profiles:
  nlp:
    interests:
      - name: RAG
        keywords: [retrieval]
        seeds: [2401.10000]
        weight: 0.5
    subscribers: [Ada@Example.org]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_valid_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))
    assert config.database == tmp_path / "state" / "digest.sqlite"
    source = config.sources[0]
    assert isinstance(source, FileSource)
    assert source.paths == [str(tmp_path / "listings" / "*.jsonl")]
    assert source.announce_types == ["new", "cross"]


def test_unquoted_arxiv_id_keeps_its_trailing_zeros(tmp_path: Path) -> None:
    interest = load_config(write(tmp_path, VALID)).profiles["nlp"].interests[0]
    assert interest.seeds == ["2401.10000"]
    assert interest.weight == 0.5


def test_addresses_are_normalised(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, VALID)).profiles["nlp"].subscribers == ["ada@example.org"]


def test_misspelt_key_names_line_field_and_suggestion(tmp_path: Path) -> None:
    text = VALID.replace("keywords: [retrieval]", "keywrods: [retrieval]")
    found = problems(tmp_path, text)
    assert any(
        p.endswith(":10: profiles.nlp.interests[0].keywrods: unknown key 'keywrods'; "
                   "did you mean 'keywords'?")
        for p in found
    ), found


def test_every_problem_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = (
        VALID.replace("type: file", "type: flie")
        .replace("weight: 0.5", "weight: -1")
        .replace("[Ada@Example.org]", "[not-an-address]")
        + "max_paper: 3\n"
    )
    found = problems(tmp_path, text)
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines)
    joined = "\n".join(found)
    assert ":4: sources[0].type: unknown source type; use one of arxiv-rss" in joined
    assert ":12: profiles.nlp.interests[0].weight:" in joined
    assert ":13: profiles.nlp.subscribers: 'not-an-address'" in joined
    assert ":14: max_paper: unknown key 'max_paper'" in joined


def test_unknown_key_in_a_source_suggests_that_sources_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, VALID.replace("paths:", "path:"))
    assert any("sources[0].path: unknown key 'path'; did you mean 'paths'?" in p for p in found)


def test_seed_that_is_not_an_arxiv_id(tmp_path: Path) -> None:
    found = problems(tmp_path, VALID.replace("[2401.10000]", "[my-favourite-paper]"))
    assert any("seeds: 'my-favourite-paper' is not an arXiv id" in p for p in found)


def test_duplicate_key_is_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    found = problems(tmp_path, VALID.replace("    subscribers:", "    feed: true\n    feed: false\n"
                                                               "    subscribers:"))
    assert any(":14: duplicate key 'feed'" in p for p in found)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    found = problems(tmp_path, VALID.replace("keywords: [retrieval]", "keywords: [retrieval"))
    assert len(found) == 1 and "YAML syntax error" in found[0]


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_smtp_method_needs_smtp_section(tmp_path: Path) -> None:
    found = problems(tmp_path, VALID + "delivery:\n  method: smtp\n")
    assert any("method 'smtp' needs an 'smtp:' section" in p for p in found)


@pytest.mark.parametrize("name", ["config.yaml", "examples/offline.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    config = load_config(REPO / name)
    assert config.profiles


def test_yaml_words_that_look_like_booleans_or_numbers_stay_text(tmp_path: Path) -> None:
    text = VALID.replace("keywords: [retrieval]", "keywords: [NO, on, 2024]")
    interest = load_config(write(tmp_path, text + "    feed: no\n")).profiles["nlp"]
    assert interest.interests[0].keywords == ["NO", "on", "2024"]
    assert interest.feed is False


def test_home_folder_and_localhost_addresses(tmp_path: Path) -> None:
    text = VALID.replace("state/digest.sqlite", "~/digest.sqlite").replace(
        "[Ada@Example.org]", "[me@localhost]")
    config = load_config(write(tmp_path, text + 'sender: "Digest <digest@localhost>"\n'))
    assert config.database == Path.home() / "digest.sqlite"
    assert config.profiles["nlp"].subscribers == ["me@localhost"]


def test_sender_and_templates_dir_are_checked(tmp_path: Path) -> None:
    assert any(":14: sender: 'digest'" in p for p in problems(tmp_path, VALID + "sender: digest\n"))
    found = problems(tmp_path, VALID + "templates_dir: nowhere\n")
    assert any(":14: templates_dir:" in p and "is not a folder" in p for p in found)


def test_odd_yaml_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    for text in (VALID + "database2: !env DB_PATH\n", VALID + "? [a, b]\n: 1\n"):
        assert len(problems(tmp_path, text)) >= 1


def test_duplicate_source_names_are_an_error(tmp_path: Path) -> None:
    text = VALID.replace("sources:\n", "sources:\n  - {name: local, type: feed, url: 'http://x'}\n")
    assert any("source names must be unique: local" in p for p in problems(tmp_path, text))


def test_a_star_that_does_not_end_a_word_is_refused_with_the_right_form(tmp_path: Path) -> None:
    text = VALID.replace("keywords: [retrieval]", 'keywords: [retrieval, "*augmented"]')
    text = text.replace("    subscribers:", '    exclude: ["sur*vey"]\n    subscribers:')
    found = problems(tmp_path, text)
    assert any(p.endswith(":10: profiles.nlp.interests[0].keywords: '*augmented': a '*' can "
                          "only end a word, as in 'learn*' (every word that begins with "
                          "'learn')") for p in found), found
    assert any(":13: profiles.nlp.exclude: 'sur*vey'" in p for p in found), found


def test_wildcards_and_stars_as_punctuation_are_accepted(tmp_path: Path) -> None:
    text = VALID.replace("keywords: [retrieval]",
                         'keywords: ["retriev*", "A* search", "C*-algebra"]')
    interest = load_config(write(tmp_path, text)).profiles["nlp"].interests[0]
    assert interest.keywords == ["retriev*", "A* search", "C*-algebra"]
