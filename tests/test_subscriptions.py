"""Subscriptions and one-click unsubscribe: tokens, headers, the store, whole runs, commands."""

from __future__ import annotations

import email
import email.policy
import re
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from loopback_smtp import LoopbackSmtp
from one_paper import one_paper_config

from digest.config import Config, load_config
from digest.errors import ProfileNotFound, SubscriptionError
from digest.models import Edition
from digest.pipeline import RunReport, digest_context, run_once
from digest.render import ONE_CLICK, build_email, load_templates
from digest.schedule import describe_status, profile_status
from digest.store import MIGRATIONS, Store
from digest.subscriptions import SECRET_SETTING, recipients, subscribe, unsubscribe
from digest.tokens import make_unsubscribe_token, new_secret, verify_unsubscribe_token

NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
SECRET = b"a secret long enough for these tests"
READERS = ["ada@example.org", "grace@example.org"]


# --- tokens -----------------------------------------------------------------------------------


def test_a_token_names_its_profile_and_address() -> None:
    token = make_unsubscribe_token(SECRET, "astro", "ada@example.org")
    assert verify_unsubscribe_token(SECRET, token) == ("astro", "ada@example.org")
    assert re.fullmatch(r"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", token)
    assert SECRET.decode() not in token


def test_tokens_differ_per_profile_address_and_secret() -> None:
    tokens = {
        make_unsubscribe_token(SECRET, "astro", "ada@example.org"),
        make_unsubscribe_token(SECRET, "astro", "grace@example.org"),
        make_unsubscribe_token(SECRET, "nlp", "ada@example.org"),
        make_unsubscribe_token(new_secret().encode(), "astro", "ada@example.org"),
    }
    assert len(tokens) == 4


def test_a_tampered_token_is_rejected() -> None:
    token = make_unsubscribe_token(SECRET, "astro", "ada@example.org")
    version, payload, signature = token.split(".")
    other = make_unsubscribe_token(SECRET, "astro", "mallory@example.org").split(".")[1]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (f"{version}.{other}.{signature}", f"{version}.{payload}.{flipped}"):
        with pytest.raises(SubscriptionError, match="signature does not match"):
            verify_unsubscribe_token(SECRET, forged)
    with pytest.raises(SubscriptionError, match="signature does not match"):
        verify_unsubscribe_token(b"another secret entirely", token)


@pytest.mark.parametrize("garbage", ["", "v1", "v2.abc.def", "v1..abc", "v1.abc.", "v1.é.x"])
def test_something_that_is_not_a_token_is_rejected(garbage: str) -> None:
    with pytest.raises(SubscriptionError):
        verify_unsubscribe_token(SECRET, garbage)


# --- headers ----------------------------------------------------------------------------------


def message_for(one_click: str) -> EmailMessage:
    config = config_without_files()
    context = replace(digest_context(config, "astro", config.profiles["astro"]),
                      one_click_unsubscribe=one_click)
    edition = Edition(profile="astro", date=date(2026, 11, 20), since=None, papers=(),
                      interests=("Galaxies",))
    return build_email(edition, context, load_templates(), sender="digest@example.org",
                       recipient="ada@example.org", now=NOW, message_id="<1@example.org>")


def config_without_files() -> Config:
    return Config.model_validate({
        "sender": "Digest <digest@example.org>",
        "sources": [{"name": "files", "type": "file", "paths": ["none"]}],
        "profiles": {"astro": {"interests": [{"name": "Galaxies", "keywords": ["galaxy"]}]}},
    })


def test_one_click_headers_only_with_an_https_link() -> None:
    token = make_unsubscribe_token(SECRET, "astro", "a.rather.long.address@example.org")
    link = f"https://digest.example.org/unsubscribe?token={token}"
    mailto = "mailto:digest@example.org?subject=unsubscribe%20astro"
    with_link = message_for(link)
    assert with_link["List-Unsubscribe"] == f"<{link}>, <{mailto}>"
    assert with_link["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" == ONE_CLICK
    # Folded between the URLs, never into RFC 2047 encoded-words that clients would not read.
    raw = with_link.as_bytes()
    assert f"\nList-Unsubscribe: <{link}>,\n <{mailto}>\n".encode() in raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert " ".join(parsed["List-Unsubscribe"].split()) == f"<{link}>, <{mailto}>"
    assert link in with_link.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    without = message_for("")
    assert without["List-Unsubscribe"] == f"<{mailto}>"
    assert without["List-Unsubscribe-Post"] is None


# --- whole runs -------------------------------------------------------------------------------


def astro_config(tmp_path: Path, extra: str = "") -> Config:
    return one_paper_config(tmp_path, READERS, f"""  extra:
    interests: [{{name: Galaxies, keywords: [galaxy]}}]
{extra}""")


def run(config: Config) -> RunReport:
    with Store.open(config.database) as store:
        return run_once(config, store, now=NOW)


def outbox_recipients(config: Config, profile: str = "astro") -> list[str]:
    return sorted(
        str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["To"])
        for path in (config.outbox / profile).glob("*.eml")
    )


def test_recipients_are_the_config_plus_subscribed_minus_unsubscribed(tmp_path: Path) -> None:
    config = astro_config(tmp_path)
    profile = config.profiles["astro"]
    with Store.open(config.database) as store:
        subscribe(config, store, " Lin@Example.org ", "astro", now=NOW)
        unsubscribe(config, store, "grace@example.org", "astro", now=NOW)
        assert recipients(store, "astro", profile) == ["ada@example.org", "lin@example.org"]
        subscribe(config, store, "grace@example.org", "astro", now=NOW)
        assert recipients(store, "astro", profile) == [*READERS, "lin@example.org"]
        assert recipients(store, "extra", config.profiles["extra"]) == []


def test_an_unsubscribed_address_gets_nothing_even_if_the_config_lists_it(
    tmp_path: Path,
) -> None:
    config = astro_config(tmp_path)
    with Store.open(config.database) as store:
        unsubscribe(config, store, "grace@example.org", None, now=NOW)
        subscribe(config, store, "lin@example.org", "extra", now=NOW)
    report = run(config)
    assert report.ok
    assert outbox_recipients(config) == ["ada@example.org"]
    assert outbox_recipients(config, "extra") == ["lin@example.org"]


def test_unsubscribing_cancels_messages_still_pending(
    tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    config = astro_config(tmp_path, f"""
delivery:
  method: smtp
  smtp: {{host: 127.0.0.1, port: {smtp_server.port}, security: none, retries: 0}}
""")
    smtp_server.handler.fail("RCPT", "451 4.3.0 later", times=2)
    first = run(config).profiles[0]
    assert (first.sent, first.pending) == (0, 2)
    with Store.open(config.database) as store:
        _, profiles, cancelled = unsubscribe(config, store, "grace@EXAMPLE.org", "astro",
                                             now=NOW)
        assert (profiles, cancelled) == (["astro"], 1)
        assert {d.recipient: d.status for d in store.deliveries("astro")} == {
            "ada@example.org": "pending", "grace@example.org": "cancelled"}
    second = run(config).profiles[0]
    assert (second.sent, second.pending) == (1, 0)
    assert [m.recipients for m in smtp_server.delivered] == [("ada@example.org",)]
    with Store.open(config.database) as store:
        [status, _extra] = profile_status(config, store, NOW)
    assert "all editions: 1 sent, 0 pending, 0 failed, 1 cancelled" in describe_status(
        status, config)


def test_pending_messages_of_an_address_that_left_are_not_sent(tmp_path: Path) -> None:
    """An unsubscription recorded while the edition was being planned still counts."""
    config = astro_config(tmp_path)
    with Store.open(config.database) as store:
        store.record_edition("astro", date(2026, 11, 19), since=None, papers=[],
                             recipients=READERS, now=NOW)
        store.subscribe("astro", "grace@example.org", now=NOW)
        store.unsubscribe(["astro"], "ada@example.org", now=NOW)
    run(config)
    with Store.open(config.database) as store:
        statuses = {(d.edition.isoformat(), d.recipient): d.status
                    for d in store.deliveries("astro")}
    assert statuses[("2026-11-19", "ada@example.org")] == "cancelled"
    assert statuses[("2026-11-19", "grace@example.org")] == "sent"
    assert ("2026-11-20", "ada@example.org") not in statuses


def test_a_database_from_before_subscriptions_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite"
    before = [step.__name__ for step in MIGRATIONS].index("_subscriptions_and_settings")
    with sqlite3.connect(path) as db:  # built as the release before subscriptions left it
        for step in MIGRATIONS[:before]:
            step(db)
        db.execute(f"PRAGMA user_version = {before}")
        db.executemany(
            "INSERT INTO deliveries (profile, edition, recipient, status, created_at) "
            "VALUES ('astro', '2026-11-19', ?, 'pending', '2026-11-19T06:30:00+00:00')",
            [(reader,) for reader in READERS],
        )
    with Store.open(path) as store:
        assert store.unsubscribe(["astro"], "ada@example.org", now=NOW) == 1
        assert store.delivery_counts("astro") == {"cancelled": 1, "pending": 1}


def test_an_address_is_one_reader_whatever_its_case(tmp_path: Path) -> None:
    """Listed twice in two cases, one email; unsubscribed in another case, none."""
    config = one_paper_config(tmp_path, ["Ada@Example.org", "ada@example.org",
                                         "Grace@example.org"])
    assert config.profiles["astro"].subscribers == READERS
    with Store.open(config.database) as store:
        unsubscribe(config, store, "GRACE@EXAMPLE.ORG", "astro", now=NOW)
        subscribe(config, store, "Lin@example.org", "astro", now=NOW)
        subscribe(config, store, "lin@example.org", "astro", now=NOW)
    assert run(config).ok
    assert outbox_recipients(config) == ["ada@example.org", "lin@example.org"]


def test_addresses_stored_in_two_cases_are_merged_on_upgrade(tmp_path: Path) -> None:
    """A database from when ``Ada@`` and ``ada@`` were two readers: the latest subscription
    state holds, and of two messages of one edition the one already sent is kept."""
    path = tmp_path / "digest.sqlite"
    before = [step.__name__ for step in MIGRATIONS].index("_addresses_in_lower_case")
    with sqlite3.connect(path) as db:
        for step in MIGRATIONS[:before]:
            step(db)
        db.execute(f"PRAGMA user_version = {before}")
        db.executemany(
            "INSERT INTO subscriptions (profile, address, subscribed, updated_at) "
            "VALUES ('astro', ?, ?, ?)",
            [("Grace@example.org", 1, "2026-11-01T00:00:00+00:00"),
             ("grace@example.org", 0, "2026-11-02T00:00:00+00:00"),
             ("Lin@Example.org", 1, "2026-11-03T00:00:00+00:00")],
        )
        db.executemany(
            "INSERT INTO deliveries (profile, edition, recipient, status, created_at) "
            "VALUES ('astro', ?, ?, ?, '2026-11-19T06:30:00+00:00')",
            [("2026-11-19", "ada@example.org", "pending"),
             ("2026-11-19", "Ada@example.org", "sent"),
             ("2026-11-20", "Ada@example.org", "pending"),
             ("2026-11-20", "Örn@example.org", "cancelled"),  # beyond ASCII, as Python
             ("2026-11-20", "örn@example.org", "pending")],  # lower-cases it
        )
        db.executemany(
            "INSERT INTO notices (profile, day, recipient, status, created_at) "
            "VALUES ('astro', '2026-11-21', ?, ?, '2026-11-21T06:30:00+00:00')",
            [("Grace@example.org", "sent"), ("grace@example.org", "pending")],
        )
    with Store.open(path) as store:
        assert store.subscriptions("astro") == {"grace@example.org": False,
                                                "lin@example.org": True}
        assert sorted((d.edition.isoformat(), d.recipient, d.status)
                      for d in store.deliveries("astro")) == [
            ("2026-11-19", "ada@example.org", "sent"),
            ("2026-11-20", "ada@example.org", "pending"),
            ("2026-11-20", "örn@example.org", "pending")]
        assert store.pending_notices("astro", date(2026, 11, 21)) == []  # the sent one kept


def test_bad_addresses_and_unknown_profiles_are_clear_errors(tmp_path: Path) -> None:
    config = astro_config(tmp_path)
    with Store.open(config.database) as store:
        with pytest.raises(SubscriptionError, match="not a usable email address: 'ada@'"):
            subscribe(config, store, "ada@", "astro", now=NOW)
        with pytest.raises(ProfileNotFound, match="no profile named 'astr'"):
            unsubscribe(config, store, "ada@example.org", "astr", now=NOW)
        assert store.subscriptions("astro") == {}


def one_click_link(config: Config, recipient: str) -> str:
    path = next((config.outbox / "astro").glob(f"*{recipient.split('@')[0]}*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]


def test_with_a_base_url_each_message_carries_its_own_signed_link(tmp_path: Path) -> None:
    config = astro_config(tmp_path, "base_url: https://digest.example.org/papers/")
    run(config)
    with Store.open(config.database) as store:
        secret = store.setting(SECRET_SETTING, default=lambda: "unused").encode()
    for reader in READERS:
        link = urlsplit(one_click_link(config, reader))
        assert (link.scheme, link.netloc, link.path) == (
            "https", "digest.example.org", "/papers/unsubscribe")
        [token] = parse_qs(link.query)["token"]
        assert verify_unsubscribe_token(secret, token) == ("astro", reader)


def test_no_new_papers_notes_go_to_the_recipients_with_their_own_links(
    tmp_path: Path,
) -> None:
    astro_config(tmp_path, "base_url: https://digest.example.org")
    path = tmp_path / "config.yaml"
    path.write_text(path.read_text().replace("  extra:", "    notify_empty: true\n  extra:"))
    config = load_config(path)
    run(config)  # the edition of 2026-11-20
    with Store.open(config.database) as store:
        unsubscribe(config, store, "grace@example.org", "astro", now=NOW)
        subscribe(config, store, "lin@example.org", "astro", now=NOW)
        report = run_once(config, store, now=NOW + timedelta(days=1))  # nothing new
        secret = store.setting(SECRET_SETTING, default=lambda: "unused").encode()
    assert report.profiles[0].notices == 2
    notes = {path.name: email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
             for path in (config.outbox / "astro").glob("*no-papers*.eml")}
    assert sorted(notes) == ["2026-11-22-no-papers--ada_at_example.org.eml",
                             "2026-11-22-no-papers--lin_at_example.org.eml"]
    for note in notes.values():
        assert note["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = re.findall(r"<([^>]+)>", str(note["List-Unsubscribe"]))[0]
        [token] = parse_qs(urlsplit(link).query)["token"]
        assert verify_unsubscribe_token(secret, token) == ("astro", str(note["To"]))


def test_the_secret_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = astro_config(tmp_path, "base_url: https://digest.example.org\n"
                                    "unsubscribe_secret_env: DIGEST_TEST_SECRET")
    monkeypatch.delenv("DIGEST_TEST_SECRET", raising=False)
    unset = run(config).profiles
    assert unset[0].pending == 2 and "DIGEST_TEST_SECRET" in unset[0].failed[0]
    assert "is not set" in unset[0].failed[0]
    monkeypatch.setenv("DIGEST_TEST_SECRET", SECRET.decode())
    assert run(config).profiles[0].sent == 2  # the edition waited, pending
    token = parse_qs(urlsplit(one_click_link(config, "ada@example.org")).query)["token"][0]
    assert verify_unsubscribe_token(SECRET, token) == ("astro", "ada@example.org")
    with Store.open(config.database) as store:
        assert store.setting(SECRET_SETTING, default=lambda: "none stored") == "none stored"


# --- commands ---------------------------------------------------------------------------------


def digest(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "-c", str(config.database.parent / "config.yaml"),
         *args], capture_output=True, text=True, timeout=60, check=False,
    )


def test_subscribe_unsubscribe_and_list_from_the_command_line(tmp_path: Path) -> None:
    config = astro_config(tmp_path)
    added = digest(config, "subscribe", "lin@example.org", "--profile", "extra")
    assert (added.returncode, added.stdout) == (0, "subscribed lin@example.org to extra\n")
    left = digest(config, "unsubscribe", "grace@example.org")
    assert left.returncode == 0
    assert left.stdout == ("unsubscribed grace@example.org from astro, extra; "
                           "0 pending messages cancelled\n")
    listed = digest(config, "subscribers", "astro")
    assert listed.stdout.splitlines() == [
        "ada@example.org\tconfig\tsubscribed",
        "grace@example.org\tconfig+command\tunsubscribed",
    ]


@pytest.mark.parametrize(("args", "error"), [
    (("subscribe", "not-an-address", "--profile", "astro"),
     "Error: not a usable email address: 'not-an-address': "),
    (("subscribe", "lin@example.org", "--profile", "astronomy"),
     "Error: no profile named 'astronomy' in the config (profiles: astro, extra)"),
    (("unsubscribe", "lin.example.org", "--profile", "astro"),
     "Error: not a usable email address: 'lin.example.org': "),
    (("subscribers", "nope"), "Error: no profile named 'nope'"),
])
def test_command_line_mistakes_are_one_line_errors(
    tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    config = astro_config(tmp_path)
    result = digest(config, *args)
    assert result.returncode == 1
    assert result.stderr.startswith(error) and result.stderr.count("\n") == 1
    with Store.open(config.database) as store:
        assert store.subscriptions("astro") == {}
