"""The listing parsers against real captured documents (../shared/fixtures) and small inline ones.

Expected values below were read off the fixture files themselves; inline snippets are ours.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.models import Listing, Paper
from digest.sources import (
    detect_format,
    html_to_text,
    parse_arxiv_api,
    parse_arxiv_rss,
    parse_biorxiv_api,
    parse_feed,
    parse_hf_daily,
    parse_jsonl,
    parse_listing,
)

DAY = date(2030, 1, 2)  # fallback date for feeds; never a date found in the fixtures
NEW_AND_CROSS = frozenset({"new", "cross"})

RSS_FULL = "arxiv_rss_new/jmmeus_aioarxiv__all_archives_2024-11-28_full_1504items.xml"
RSS_EMPTY = "arxiv_rss_new/jmmeus_aioarxiv__test_archive_2024-11-28_EMPTY.xml"
RSS_WEEKEND = "arxiv_rss_new/BuiVannn_All-News-AI__cs_CL_2026-08-01_weekend_empty.xml"
RSS_ERROR = "arxiv_rss_new/jmmeus_aioarxiv__ERROR_bad_archive_astroph_2024-11-28.xml"
API_ERROR = "arxiv_api/arxiv.py__ERROR_http400_id_list_abc_2026-04-12.xml"
API_TESTING = "arxiv_api/arxiv.py__all_testing_100_2026-04-12.xml"
HF_25 = "hf_daily_papers/ikevinxie_ai-weekly-radar__daily_papers_25_2026-07-13.json"
HF_5 = "hf_daily_papers/BuiVannn_All-News-AI__daily_papers_5_2026-07-31_pretty.json"
NATURE = "journal_feeds/dakesan_translated_rss__nature_current_rss1.0_2024-07-18.rdf.xml"
BIORXIV_ATOM = "journal_feeds/wduverger_feeds__biorxiv_search_amyloid_atom_2026-01-20.xml"
MEDRXIV = (
    "journal_feeds/fabianofilho_radar-papers-mcp__medrxiv_api_details_2026-09-15_trimmed3.json"
)


def read(folder: Path, name: str) -> bytes:
    return (folder / name).read_bytes()


# --- arXiv RSS --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_rss(shared_fixtures: Path) -> Listing:
    return parse_arxiv_rss(read(shared_fixtures, RSS_FULL))


def test_full_rss_keeps_every_item_without_a_filter(full_rss: Listing) -> None:
    assert len(full_rss.papers) == 1504
    assert full_rss.skipped == 0
    assert full_rss.announced == date(2024, 11, 28)
    types = Counter(paper.announce_type for paper in full_rss.papers)
    assert types == {"new": 926, "replace": 569, "cross": 9}
    assert sum(paper.doi is not None for paper in full_rss.papers) == 111
    assert sum(paper.journal_ref is not None for paper in full_rss.papers) == 97
    primary = Counter(paper.categories[0].split(".")[0] for paper in full_rss.papers)
    assert primary["cs"] == 583 and primary["math"] == 245 and primary["astro-ph"] == 111


def test_full_rss_with_new_and_cross_drops_replacements(shared_fixtures: Path) -> None:
    listing = parse_arxiv_rss(read(shared_fixtures, RSS_FULL), announce_types=NEW_AND_CROSS)
    assert len(listing.papers) == 935
    assert listing.skipped == 569
    assert {paper.announce_type for paper in listing.papers} == {"new", "cross"}


def test_full_rss_first_item_fields(full_rss: Listing) -> None:
    paper = full_rss.papers[0]
    assert paper.arxiv_id == "2411.17700"
    assert paper.version == 1
    assert paper.title.startswith("Exploring the Impact of Generative AI on Cross-Border")
    assert paper.authors == ("Jun Cui",)
    assert paper.categories == ("cs.CY",)
    assert paper.announced == date(2024, 11, 28)  # "Thu, 28 Nov 2024 00:00:00 -0500"
    assert paper.url == "https://arxiv.org/abs/2411.17700"
    assert paper.abstract.startswith("This study investigates the influence of generative")
    assert "Announce Type" not in paper.abstract
    assert paper.doi is None and paper.journal_ref is None


def by_id(listing: Listing, arxiv_id: str) -> Paper:
    return next(paper for paper in listing.papers if paper.arxiv_id == arxiv_id)


def test_full_rss_doi_journal_ref_and_multiple_categories(full_rss: Listing) -> None:
    paper = by_id(full_rss, "2411.17758")
    assert paper.doi == "10.1016/j.segan.2024.101477"
    assert paper.journal_ref is not None
    assert paper.journal_ref.startswith("Sustainable Energy, Grids and Networks, Volume 39")
    assert paper.categories == ("cs.GT", "cs.CR")
    assert paper.authors == ("Kamil Erdayandi", "Mustafa Asan Mustafa")


def test_full_rss_cross_and_replace_items_keep_their_versions(full_rss: Listing) -> None:
    cross = by_id(full_rss, "2202.06515")
    assert (cross.announce_type, cross.version) == ("cross", 3)
    assert cross.categories == ("astro-ph.CO", "astro-ph.GA", "physics.flu-dyn")
    replace = by_id(full_rss, "1401.3665")
    assert (replace.announce_type, replace.version, replace.categories) == (
        "replace",
        4,
        ("math.CO",),
    )


def test_full_rss_author_names_are_cleaned(full_rss: Listing) -> None:
    # dc:creator carries TeX accents ("V\'aclav Vavry\v{c}uk") and affiliations in parentheses.
    assert by_id(full_rss, "2411.17775").authors == ("Václav Vavryčuk",)
    assert "Guðmundur K. Stefánsson" in by_id(full_rss, "2411.18567").authors
    with_affiliations = by_id(full_rss, "2411.17817").authors
    assert with_affiliations[:2] == ("Tianliang Yan", "Yubao Liu")
    assert len(with_affiliations) == 8
    names = [name for paper in full_rss.papers for name in paper.authors]
    assert not [name for name in names if set(name) & set("\\{}()")]


def test_full_rss_repeated_doi_value_gives_one_doi(full_rss: Listing) -> None:
    # The feed writes "10.3847/1538-4357/ad8659 10.3847/1538-4357/ad8659" for this paper.
    assert by_id(full_rss, "2411.17857").doi == "10.3847/1538-4357/ad8659"


@pytest.mark.parametrize(
    ("name", "ids", "categories", "first_authors"),
    [
        (
            "jmamath_distill__cs_AI_2026-04-27_trimmed3.xml",
            ("2604.21935", "2604.21936", "2604.21937"),
            ("cs.AI", "cs.LG"),
            ("Michael Cooper", "Samuel Cooper"),
        ),
        (
            "jmamath_distill__cs_CL_2026-04-27_trimmed3.xml",
            ("2604.22002", "2604.22027", "2604.22038"),
            ("cs.CL",),
            ("Anamta Khan", "Ratna Kandala"),
        ),
        (
            "jmamath_distill__cs_LG_2026-04-27_trimmed3.xml",
            ("2604.21952", "2604.21953", "2604.21956"),
            ("cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"),
            ("Muhammad Shafique", "Abdul Basit"),
        ),
    ],
)
def test_trimmed_single_category_feeds(
    shared_fixtures: Path,
    name: str,
    ids: tuple[str, ...],
    categories: tuple[str, ...],
    first_authors: tuple[str, str],
) -> None:
    listing = parse_arxiv_rss(read(shared_fixtures, f"arxiv_rss_new/{name}"))
    assert tuple(paper.arxiv_id for paper in listing.papers) == ids
    assert listing.announced == date(2026, 4, 27)  # "Mon, 27 Apr 2026 00:00:00 -0400"
    first = listing.papers[0]
    assert first.categories == categories
    assert first.authors[:2] == first_authors
    assert all(paper.announce_type == "new" and paper.version == 1 for paper in listing.papers)


@pytest.mark.parametrize(
    ("name", "announced"), [(RSS_EMPTY, date(2024, 11, 28)), (RSS_WEEKEND, date(2026, 8, 1))]
)
def test_empty_feed_is_an_empty_listing(shared_fixtures: Path, name: str, announced: date) -> None:
    listing = parse_arxiv_rss(read(shared_fixtures, name), announce_types=NEW_AND_CROSS)
    assert listing == Listing("arxiv-rss", (), announced)


def test_error_feed_names_the_bad_category_and_the_valid_ones(shared_fixtures: Path) -> None:
    with pytest.raises(ParseError) as raised:
        parse_arxiv_rss(read(shared_fixtures, RSS_ERROR))
    message = str(raised.value)
    assert "'astroph'" in message
    assert "Valid archive names are: astro-ph, cond-mat, cs" in message


def test_rss_date_is_the_local_date_in_the_stated_offset() -> None:
    feed = _rss_snippet(pub_date="Mon, 02 Jun 2025 23:30:00 -0500")  # already 3 June in UTC
    assert parse_arxiv_rss(feed).announced == date(2025, 6, 2)


def test_broken_rss_names_line_and_column() -> None:
    broken = _rss_snippet().replace(b"</title>\n      <link>", b"\n      <link>", 1)
    with pytest.raises(ParseError, match=r"not well-formed XML: mismatched tag at line \d+"):
        parse_arxiv_rss(broken)


def test_rss_refuses_entity_declarations() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel/></rss>'
    with pytest.raises(ParseError, match="declares entities"):
        parse_arxiv_rss(bomb)


def _rss_snippet(pub_date: str = "Tue, 03 Jun 2025 00:00:00 -0400") -> bytes:
    """A made-up one-item feed in the rss.arxiv.org shape."""
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
     version="2.0">
  <channel>
    <title>cs.XX updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.XX</link>
    <pubDate>{pub_date}</pubDate>
    <item>
      <title>A Made-Up Title</title>
      <link>https://arxiv.org/abs/2506.00001</link>
      <description>arXiv:2506.00001v2 Announce Type: replace
Abstract: Words we wrote for this test.</description>
      <guid isPermaLink="false">oai:arXiv.org:2506.00001v2</guid>
      <category>cs.XX</category>
      <arxiv:announce_type>replace</arxiv:announce_type>
      <dc:creator>Ann Example, Bo Sample and Cy Placeholder</dc:creator>
    </item>
  </channel>
</rss>""".encode()


def test_rss_snippet_authors_with_and() -> None:
    paper = parse_arxiv_rss(_rss_snippet()).papers[0]
    assert paper.authors == ("Ann Example", "Bo Sample", "Cy Placeholder")
    assert (paper.arxiv_id, paper.version, paper.abstract) == (
        "2506.00001",
        2,
        "Words we wrote for this test.",
    )


# --- arXiv API --------------------------------------------------------------------------

API_FILES = {
    # name: (entries, first id, first version, first categories (prefix), first published)
    "ScienceGist_paper_metadata__classic_1301.7746_2013-02-02.xml": (
        1, "1301.7746", 1, ("cond-mat.dis-nn", "cond-mat.str-el"), date(2013, 1, 31)),
    "arxiv.py__EMPTY_id_list_0000.0000_2026-04-12.xml": (0, None, None, (), None),
    "arxiv.py__all_testing_100_2026-04-12.xml": (
        100, "2202.12139", 1, ("cs.SE", "cs.LG"), date(2022, 2, 24)),
    "arxiv.py__classic_au_del_maestro_10_2016-10-09.xml": (
        10, "1201.4869", 1, ("cond-mat.mes-hall", "cond-mat.other"), date(2012, 1, 23)),
    "arxiv.py__classic_au_del_maestro_ANDNOT_10_2016-10-09.xml": (
        10, "1201.4869", 1, ("cond-mat.mes-hall", "cond-mat.other"), date(2012, 1, 23)),
    "arxiv.py__classic_au_del_maestro_AND_quantum_criticality_2016-10-09.xml": (
        2, "1111.2011", 2, ("cond-mat.str-el", "cond-mat.stat-mech"), date(2011, 11, 8)),
    "arxiv.py__classic_id_list_1111.2011v2_2016-10-09.xml": (
        1, "1111.2011", 2, ("cond-mat.str-el", "cond-mat.stat-mech"), date(2011, 11, 8)),
    "arxiv.py__id_list_2ids_0808.05394_1707.08567.xml": (
        1, "1707.08567", 1, ("cs.IT",), date(2017, 7, 27)),
    "arxiv.py__oldstyle_id_astro-ph_0601001_2026-05-11.xml": (
        1, "astro-ph/0601001", 1, ("astro-ph",), date(2006, 1, 2)),
    "d00ksky_arXiv_feed__all_AI_25_2026-03-31.xml": (
        25, "2501.02842", 1, ("cs.IR", "cs.LG"), date(2025, 1, 6)),
    "d00ksky_arXiv_feed__all_AI_safety_15_2026-02-19.xml": (
        15, "2503.04743", 1, ("cs.CY", "cs.AI"), date(2025, 2, 5)),
    "d00ksky_arXiv_feed__all_retrieval_15_2026-08-21.xml": (
        15, "2608.20331", 1, ("cs.CL", "cs.AI", "cs.CV"), date(2026, 8, 20)),
    "d00ksky_arXiv_feed__all_war_25_2026-04-13.xml": (
        25, "2303.14486", 2, ("econ.GN",), date(2023, 3, 25)),
    "ikevinxie_ai-weekly-radar__cat_cs.AI_OR_cs.LG_50_2026-07-13.xml": (
        50, "2607.09662", 1, ("q-bio.NC", "cs.AI", "cs.LG"), date(2026, 7, 10)),
    "james-akl_xiv__cat_cs.RO_neural_2_2025-10-17_classic.xml": (
        2, "2510.14968", 1, ("cs.RO", "cs.AI", "cs.CV", "cs.LG", "cs.SY", "eess.SY"),
        date(2025, 10, 16)),
    "meriemnour__all_electron_10_2025-11-21.xml": (
        10, "cond-mat/0011267", 1, ("cond-mat.supr-con", "cond-mat.str-el"), date(2000, 11, 15)),
}  # fmt: skip


def test_every_api_fixture_is_listed(shared_fixtures: Path) -> None:
    names = {path.name for path in (shared_fixtures / "arxiv_api").glob("*.xml")}
    assert names == set(API_FILES) | {Path(API_ERROR).name}


@pytest.mark.parametrize("name", sorted(API_FILES))
def test_api_response(shared_fixtures: Path, name: str) -> None:
    count, first_id, version, categories, published = API_FILES[name]
    listing = parse_arxiv_api(read(shared_fixtures, f"arxiv_api/{name}"))
    assert len(listing.papers) == count
    assert listing.format == "arxiv-api" and listing.warnings == ()
    if count:
        first = listing.papers[0]
        assert (first.arxiv_id, first.version, first.announced) == (first_id, version, published)
        assert first.categories[: len(categories)] == categories
        assert first.title and first.abstract and first.authors
        assert first.pdf_link is not None and first.pdf_link.endswith(f"{first_id}v{version}")


def test_api_new_format_doi_journal_ref_comment(shared_fixtures: Path) -> None:
    listing = parse_arxiv_api(read(shared_fixtures, API_TESTING))
    assert sum(paper.doi is not None for paper in listing.papers) == 32
    first = listing.papers[0]
    assert first.doi == "10.1109/icstw55395.2022.00035"  # find_doi lower-cases
    assert first.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert first.comment == "Artificial Intelligence in Software Testing 2022 workshop @ ICST 2022"
    assert first.journal_ref is not None and first.journal_ref.startswith("Artificial Intelligence")
    assert first.pdf_url == "https://arxiv.org/pdf/2202.12139v1"
    old_style = {paper.arxiv_id for paper in listing.papers if "/" in (paper.arxiv_id or "")}
    assert old_style == {"cs/0503050", "hep-ph/0301050", "gr-qc/0103067"}


def test_api_author_names_served_as_mojibake_are_repaired(shared_fixtures: Path) -> None:
    # The current API serves "JosÃ© RaÃºl Romero": UTF-8 bytes decoded as Latin-1.
    paper = by_id(parse_arxiv_api(read(shared_fixtures, API_TESTING)), "2405.13786")
    assert "José Raúl Romero" in paper.authors
    assert "Aurora Ramírez" in paper.authors


def test_api_classic_format_doi_and_journal_ref(shared_fixtures: Path) -> None:
    name = "arxiv_api/arxiv.py__classic_au_del_maestro_10_2016-10-09.xml"
    paper = parse_arxiv_api(read(shared_fixtures, name)).papers[1]
    assert paper.arxiv_id == "cond-mat/0412498"
    assert paper.doi == "10.1103/physrevb.71.184511"
    assert paper.authors == ("Adrian Del Maestro", "Subir Sachdev")
    assert paper.pdf_url == "http://arxiv.org/pdf/cond-mat/0412498v1"
    assert "\n" not in paper.abstract and "  " not in paper.abstract


def test_api_old_style_id_keeps_journal_ref(shared_fixtures: Path) -> None:
    name = "arxiv_api/arxiv.py__oldstyle_id_astro-ph_0601001_2026-05-11.xml"
    paper = parse_arxiv_api(read(shared_fixtures, name)).papers[0]
    assert paper.key == "arxiv:astro-ph/0601001"
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    assert paper.authors[0] == "Andrew Gould"


def test_api_error_entry_raises_with_the_api_message(shared_fixtures: Path) -> None:
    with pytest.raises(ParseError, match="incorrect id format for abc"):
        parse_arxiv_api(read(shared_fixtures, API_ERROR))


@pytest.mark.parametrize(
    "recording", ["id_0000.0000", "id_0808.05394", "id_abc", "id_astro-ph", "q_testing"]
)
def test_recorded_bodies_parse_like_the_extracted_files(
    shared_fixtures: Path, recording: str
) -> None:
    folder = shared_fixtures / "arxiv_api"
    (path,) = (folder / "arxiv.py_recordings").glob(f"{recording}_*.json")
    body = json.loads(path.read_text())["body"].encode()
    extracted = {
        "id_0000.0000": "arxiv.py__EMPTY_id_list_0000.0000_2026-04-12.xml",
        "id_0808.05394": "arxiv.py__id_list_2ids_0808.05394_1707.08567.xml",
        "id_abc": Path(API_ERROR).name,
        "id_astro-ph": "arxiv.py__oldstyle_id_astro-ph_0601001_2026-05-11.xml",
        "q_testing": Path(API_TESTING).name,
    }[recording]
    assert detect_format(body) == "arxiv-api"
    assert _outcome(body) == _outcome((folder / extracted).read_bytes())


def _outcome(data: bytes) -> Listing | str:
    try:
        return parse_arxiv_api(data)
    except ParseError as exc:
        return str(exc)


def test_broken_api_response_names_line() -> None:
    broken = b'<feed xmlns="http://www.w3.org/2005/Atom">\n<entry>\n<id>x</entry>\n</feed>'
    with pytest.raises(ParseError, match="mismatched tag at line 3, column"):
        parse_arxiv_api(broken)


# --- Hugging Face Daily Papers ----------------------------------------------------------


def test_hf_daily_25(shared_fixtures: Path) -> None:
    listing = parse_hf_daily(read(shared_fixtures, HF_25))
    assert len(listing.papers) == 25
    first = listing.papers[0]
    assert (first.arxiv_id, first.upvotes, first.announced) == ("2607.07673", 0, date(2026, 7, 13))
    assert first.title.startswith("MedPMC: A Systematic Framework")
    assert first.authors[:2] == ("Hyunjae Kim", "Dain Kim") and len(first.authors) == 28
    days = Counter(paper.announced for paper in listing.papers)
    assert days == {date(2026, 7, 13): 14, date(2026, 7, 10): 11}
    assert listing.announced is None  # two submission days in one response
    top = max(listing.papers, key=lambda paper: paper.upvotes or 0)
    assert (top.arxiv_id, top.upvotes) == ("2601.16211", 48)


def test_hf_daily_pretty_printed(shared_fixtures: Path) -> None:
    listing = parse_hf_daily(read(shared_fixtures, HF_5))
    assert listing.announced == date(2026, 7, 31)
    assert [(p.arxiv_id, p.upvotes) for p in listing.papers] == [
        ("2607.23193", 3),
        ("2607.27958", 11),
        ("2607.28582", 17),
        ("2607.28308", 2),
        ("2607.16922", 0),
    ]
    assert listing.papers[1].title.startswith("Σ-Mem:")
    assert listing.papers[0].authors[0] == "Jinsen Su"
    assert listing.papers[0].hf_url == "https://huggingface.co/papers/2607.23193"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[{]", "not valid JSON"),
        (b'{"error": "Invalid date"}', "expected a JSON list of items, got a dict saying 'Invalid"),
        (b'[{"title": "no paper"}]', "item 1: expected an object with a 'paper' object"),
        (b'[{"paper": {"id": "2501.00001", "title": "T"}}]', "neither submittedOnDailyAt"),
        (
            b'[{"paper": {"id": "2501.00001", "title": "T", "publishedAt": "2025-01-01",'
            b' "upvotes": "many"}}]',
            "paper.upvotes is not a whole number",
        ),
    ],
)
def test_hf_daily_errors_are_specific(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_hf_daily(data)


# --- journal feeds and bioRxiv / medRxiv ------------------------------------------------


def test_nature_rss10_feed(shared_fixtures: Path) -> None:
    listing = parse_feed(read(shared_fixtures, NATURE), fallback_date=DAY)
    assert len(listing.papers) == 75 and listing.warnings == ()
    first = listing.papers[0]
    assert first.title == "Catalysis of an SN2 pathway by geometric preorganization"  # <sub>N</sub>
    assert first.doi == "10.1038/s41586-024-07811-4"
    assert first.authors == ("Gabriel J. Lovinger", "Marcus H. Sak", "Eric N. Jacobsen")
    assert first.announced == date(2024, 7, 18)
    assert first.url == "https://www.nature.com/articles/s41586-024-07811-4"
    assert first.abstract == ""  # only a citation line and the title again
    news = listing.papers[1]
    assert news.abstract.startswith("Inhibiting a protein associated with chronic inflammation")
    assert news.authors == ("Helena Kudiabor",)
    days = Counter(paper.announced for paper in listing.papers)
    assert days[date(2024, 7, 17)] == 38 and DAY not in days
    assert all(paper.doi and paper.doi.startswith("10.1038/") for paper in listing.papers)


def test_biorxiv_search_atom_feed(shared_fixtures: Path) -> None:
    listing = parse_feed(read(shared_fixtures, BIORXIV_ATOM), fallback_date=DAY)
    assert len(listing.papers) == 75
    assert listing.announced == date(2026, 1, 20)
    first = listing.papers[0]
    assert first.title.startswith("Fibrin Selective Alteplase with Improved Thrombolysis")
    assert (first.doi, first.version) == ("10.64898/2026.01.19.700241", 1)  # URL ends in v1
    assert first.announced == date(2026, 1, 20)
    third = listing.papers[2]
    assert (third.doi, third.version) == ("10.1101/2025.09.29.678242", 2)
    assert Counter(p.doi.split("/")[0] for p in listing.papers if p.doi) == {
        "10.64898": 54,
        "10.1101": 21,
    }
    assert not any("<" in paper.abstract for paper in listing.papers)


def test_medrxiv_details_api(shared_fixtures: Path) -> None:
    listing = parse_biorxiv_api(read(shared_fixtures, MEDRXIV))
    assert len(listing.papers) == 3
    assert listing.announced == date(2026, 9, 15)
    first = listing.papers[0]
    assert first.doi == "10.64898/2026.09.13.26362948"
    assert first.url == "https://www.medrxiv.org/content/10.64898/2026.09.13.26362948"
    assert first.authors == ("P. Kumar", "A. Aurange", "S. Keshari", "S. Nalwad")
    assert first.categories == ("nephrology",)
    assert (first.announced, first.version) == (date(2026, 9, 15), 1)
    assert listing.papers[1].abstract.startswith("Background: The modified Blalock")


def test_biorxiv_empty_collection_and_missing_fields() -> None:
    empty = b'{"messages": [{"status": "no posts found"}], "collection": []}'
    assert parse_biorxiv_api(empty).warnings == ("bioRxiv API says: no posts found",)
    record = {"title": "T", "date": "2025-01-01", "server": "biorxiv"}
    with pytest.raises(ParseError, match="record 1: 'doi' is missing"):
        parse_biorxiv_api(json.dumps({"collection": [record]}).encode())
    with pytest.raises(ParseError, match="'collection' is missing"):
        parse_biorxiv_api(b'{"messages": []}')


# --- generic feeds: hostile and broken input (inline samples written for these tests) ----

HOSTILE_RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Test journal</title>
<pubDate>Wed, 04 Jun 2025 08:00:00 +0000</pubDate>
<item>
  <title>&lt;script&gt;alert("x")&lt;/script&gt;Safe &amp;amp; &lt;b&gt;sound&lt;/b&gt;</title>
  <link>https://example.org/a1</link>
  <description>&lt;p&gt;First&lt;/p&gt;&lt;p&gt;second &lt;img src=x onerror=alert(1)&gt;&lt;/p&gt;
  </description>
</item>
<item>
  <title>Bounds for a&lt;b and b&gt;c</title>
  <link>https://arxiv.org/abs/2506.01234v3</link>
  <author>someone@example.org (Dee Writer)</author>
</item>
</channel></rss>"""


def test_hostile_html_in_a_title_does_not_survive_as_markup() -> None:
    listing = parse_feed(HOSTILE_RSS, fallback_date=DAY)
    hostile, plain = listing.papers
    assert hostile.title == "Safe & sound"
    assert hostile.abstract == "First second"
    assert "<" not in hostile.title + hostile.abstract
    assert hostile.announced == date(2025, 6, 4)  # channel date
    assert plain.title == "Bounds for a<b and b>c"  # plain text that merely contains "<"
    assert (plain.arxiv_id, plain.version) == ("2506.01234", 3)


def test_atom_plain_text_title_keeps_its_angle_brackets() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title type="text">Training &lt;think&gt; tokens when a&lt;b</title><id>urn:x:3</id>
    <updated>2025-06-02T10:00:00Z</updated></entry></feed>"""
    assert parse_feed(atom, fallback_date=DAY).papers[0].title == "Training <think> tokens when a<b"


def test_control_characters_are_dropped() -> None:
    data = (b'{"id": "2611.00001", "title": "Nul\\u0000 and escape\\u001b[31m", '
            b'"published": "2026-11-20"}\n')
    assert parse_jsonl(data).papers[0].title == "Nul and escape[31m"


def test_html_to_text() -> None:
    assert html_to_text("<p>a</p><p>b&nbsp;&amp; c</p>") == "a b & c"
    assert html_to_text("S<sub>N</sub>2 <style>p{}</style><script>x()</script>ok") == "SN2 ok"
    assert html_to_text("&lt;script&gt;") == "<script>"  # text, escaped again when rendered


def test_feed_dates_fall_back_to_the_given_day() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title>Undated</title><id>urn:x:1</id>
    <link rel="related" href="https://doi.org/10.1234/ABC.5"/></entry></feed>"""
    (paper,) = parse_feed(atom, fallback_date=DAY).papers
    assert (paper.announced, paper.doi) == (DAY, "10.1234/abc.5")


def test_entry_date_is_read_in_its_own_offset() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title>Late</title><id>urn:x:2</id><published>2025-06-02T23:30:00-05:00</published>
    </entry></feed>"""
    assert parse_feed(atom, fallback_date=DAY).papers[0].announced == date(2025, 6, 2)


def test_broken_feed_with_entries_warns() -> None:
    broken = b"""<rss version="2.0"><channel><title>t</title>
<item><title>Kept</title><link>https://example.org/k</link></item>
<item><title>Cut off</channel></rss>"""
    listing = parse_feed(broken, fallback_date=DAY)
    assert listing.papers[0].title == "Kept"
    assert len(listing.warnings) == 1
    assert "not well-formed" in listing.warnings[0] and "line 3" in listing.warnings[0]


def test_broken_feed_without_entries_raises() -> None:
    with pytest.raises(ParseError, match=r"not well-formed.*line 1, column"):
        parse_feed(b"<rss><channel><title>t</titl></channel></rss>", fallback_date=DAY)


def test_feed_bytes_are_never_opened_as_a_file_name(tmp_path: Path) -> None:
    # feedparser.parse(bytes) would read a local file whose name equals the bytes.
    path = tmp_path / "feed.xml"
    path.write_bytes(HOSTILE_RSS)
    with pytest.raises(ParseError):
        parse_feed(str(path).encode(), fallback_date=DAY)


# --- JSON Lines -------------------------------------------------------------------------


def test_jsonl_records() -> None:
    lines = [
        {"id": "arXiv:2411.00001v2", "title": "One", "abstract": "A.", "authors": ["A B"],
         "categories": ["cs.LG", "stat.ML"], "published": "2024-11-05"},
        {"id": "https://arxiv.org/abs/2411.00002", "title": "Two", "summary": "S.",
         "authors": "C D, E F and G H", "published": "2024-11-05T23:30:00-05:00"},
        {"id": "doi:10.5555/XYZ.1", "title": "Three", "authors": "Smith, J.; Doe, K.",
         "categories": "q-bio.NC", "published": "2024-11-04T12:00:00Z"},
        {"id": "internal-77", "title": "Four <i>fancy</i>", "published": "2024-11-03",
         "url": "https://example.org/p/77"},
    ]  # fmt: skip
    data = "\n".join(json.dumps(line) for line in lines).encode() + b"\n\n"
    one, two, three, four = parse_jsonl(data).papers
    assert (one.arxiv_id, one.version, one.categories) == ("2411.00001", 2, ("cs.LG", "stat.ML"))
    assert (two.arxiv_id, two.abstract, two.announced) == ("2411.00002", "S.", date(2024, 11, 5))
    assert two.authors == ("C D", "E F", "G H")
    assert (three.doi, three.key, three.authors) == (
        "10.5555/xyz.1",
        "doi:10.5555/xyz.1",
        ("Smith, J.", "Doe, K."),
    )
    # JSON Lines fields are plain text: markup-like text is kept, and escaped when rendered.
    assert (four.key, four.title, four.url) == (
        "title:four i fancy i",
        "Four <i>fancy</i>",
        "https://example.org/p/77",
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "x", "published": "2024-01-01"', "line 3: not valid JSON"),
        ('{"published": "2024-01-01"}', "line 3: 'title' is missing"),
        ('{"title": "x"}', "line 3: 'published' is missing"),
        ('{"title": "x", "published": "yesterday"}', "line 3: 'published' is not an ISO date"),
        ('{"title": "x", "published": "2024-01-01", "authors": 5}', "line 3: 'authors' must be"),
        ('["not", "an", "object"]', "line 3: expected a JSON object"),
    ],
)
def test_jsonl_errors_name_the_line_and_field(line: str, message: str) -> None:
    good = '{"title": "ok", "published": "2024-01-01"}'
    with pytest.raises(ParseError, match=message):
        parse_jsonl(f"{good}\n\n{line}\n{good}\n".encode())


def test_jsonl_export_from_labelled_set(shared_fixtures: Path) -> None:
    name = "labeled/datawraith_arxiv_frontpage/downloads/2025-04-11.jsonl"
    listing = parse_jsonl(read(shared_fixtures, name))
    assert len(listing.papers) == 690  # records carry "created" and an arxiv.org url, no id
    first = listing.papers[0]
    assert (first.arxiv_id, first.announced) == ("2504.06268", date(2025, 4, 11))
    assert first.authors[0] == "Ranjeet Kumar Singh"


# --- format detection -------------------------------------------------------------------

DETECTED = {
    "arxiv_rss_new": "arxiv-rss",
    "arxiv_api": "arxiv-api",
    "hf_daily_papers": "hf-daily",
    "journal_feeds": None,  # per file below
}
JOURNAL_FORMATS = {
    Path(NATURE).name: "feed",
    Path(BIORXIV_ATOM).name: "feed",
    Path(MEDRXIV).name: "biorxiv-api",
}


def _fixture_files(root: Path) -> list[Path]:
    return sorted(
        path for folder in DETECTED for path in (root / folder).iterdir() if path.is_file()
    )


def test_detect_format_on_every_fixture(shared_fixtures: Path) -> None:
    files = _fixture_files(shared_fixtures)
    assert len(files) == 7 + 17 + 2 + 3
    for path in files:
        expected = DETECTED[path.parent.name] or JOURNAL_FORMATS[path.name]
        assert detect_format(path.read_bytes()) == expected, path.name


def test_parse_listing_dispatches_on_every_fixture(shared_fixtures: Path) -> None:
    errors = {Path(RSS_ERROR).name, Path(API_ERROR).name}
    for path in _fixture_files(shared_fixtures):
        if path.name in errors:
            continue
        listing = parse_listing(path.read_bytes(), announce_types=NEW_AND_CROSS, fallback_date=DAY)
        assert listing.format == detect_format(path.read_bytes())
    full = parse_listing(
        read(shared_fixtures, RSS_FULL), announce_types=NEW_AND_CROSS, fallback_date=DAY
    )
    assert len(full.papers) == 935


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"title": "t", "published": "2024-01-01"}\n{"title": "u"}', "jsonl"),
        (b'{"title": "t", "published": "2024-01-01"}', "jsonl"),
        (b"[]", "hf-daily"),
        (b'\xef\xbb\xbf<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"></rdf:RDF>', "feed"),
    ],
)
def test_detect_format_inline(data: bytes, expected: str) -> None:
    assert detect_format(data) == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>Rate limited</body></html>", "HTML page"),
        (b"hello", "neither XML nor JSON"),
        (b'{"error": "Invalid date"}', "JSON of an unknown shape"),
        (b"<note><to>x</to></note>", "XML without an RSS"),
    ],
)
def test_detect_format_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=f"not a listing we can read: .*{reason}"):
        detect_format(data)


def test_parse_listing_rejects_unknown_format() -> None:
    with pytest.raises(ParseError, match="unknown listing format 'csv'"):
        parse_listing(b"", fmt="csv", fallback_date=DAY)
