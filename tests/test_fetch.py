"""HttpClient against a real loopback server; time is faked, so only the timeout test waits."""

from __future__ import annotations

import gzip
import random
import socket
from typing import Any

import pytest
from loopback_http import LoopbackServer, Response

import digest
from digest.errors import FetchError
from digest.fetch import DEFAULT_USER_AGENT, FetchResult, HttpClient, HttpStatusError, Validators

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
LAST_MODIFIED = "Tue, 04 Jun 2024 08:00:00 GMT"
ATOM_ERROR = (
    b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'>"
    b"<entry><summary>incorrect id format for 1234.x</summary></entry></feed>"
)


class FakeTime:
    """A clock that moves only when slept on, recording every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(fake_time: FakeTime, **options: Any) -> HttpClient:
    settings: dict[str, Any] = {
        "user_agent": "paper-digest-tests/1 (+https://example.org)",
        "min_interval": {},
        "sleep": fake_time.sleep,
        "clock": fake_time.clock,
        "rng": random.Random(7),
    }
    return HttpClient(**(settings | options))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_200_returns_body_and_validators(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/feed.xml", FEED, etag='"v1"', last_modified=LAST_MODIFIED)
    url = http_server.url("/feed.xml")

    result = make_client(fake_time).get(url)

    assert result == FetchResult(url, 200, FEED, Validators('"v1"', LAST_MODIFIED))


def test_second_request_with_validators_gets_304(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED, etag='"v1"', last_modified=LAST_MODIFIED)
    client = make_client(fake_time)
    first = client.get(http_server.url("/feed.xml"))

    second = client.get(http_server.url("/feed.xml"), validators=first.validators)

    assert (second.status, second.body, second.validators) == (304, None, first.validators)
    sent = http_server.requests[-1].headers
    assert (sent["If-None-Match"], sent["If-Modified-Since"]) == ('"v1"', LAST_MODIFIED)


def test_last_modified_alone_gives_304(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/feed.xml", FEED, last_modified=LAST_MODIFIED)

    result = make_client(fake_time).get(
        http_server.url("/feed.xml"), validators=Validators(last_modified=LAST_MODIFIED)
    )

    assert (result.status, result.body) == (304, None)


def test_changed_etag_gives_200(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/feed.xml", FEED, etag='"v2"')

    result = make_client(fake_time).get(
        http_server.url("/feed.xml"), validators=Validators(etag='"v1"')
    )

    assert (result.status, result.body, result.validators.etag) == (200, FEED, '"v2"')


def test_gzip_is_requested_and_decompressed(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED, gzip=True)

    result = make_client(fake_time).get(http_server.url("/feed.xml"))

    assert result.body == FEED
    assert http_server.requests[0].headers["Accept-Encoding"] == "gzip"


def test_params_are_added_to_the_query(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/api/query", FEED)

    make_client(fake_time).get(
        http_server.url("/api/query?a=1"), params={"search_query": "cat:cs.LG", "start": "0"}
    )

    assert http_server.requests[0].path == "/api/query?a=1&search_query=cat%3Acs.LG&start=0"


def test_redirect_is_followed(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/new.xml", FEED)
    http_server.script("/old.xml", [Response(301, {"Location": http_server.url("/new.xml")})])

    result = make_client(fake_time).get(http_server.url("/old.xml"))

    assert (result.url, result.body) == (http_server.url("/new.xml"), FEED)


def test_user_agent_reaches_the_server(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/feed.xml", FEED)

    make_client(fake_time, user_agent=DEFAULT_USER_AGENT).get(http_server.url("/feed.xml"))

    assert http_server.requests[0].headers["User-Agent"] == f"paper-digest/{digest.__version__}"


def test_429_waits_for_retry_after_seconds(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED)
    http_server.script("/feed.xml", [Response(429, {"Retry-After": "7"})])

    result = make_client(fake_time).get(http_server.url("/feed.xml"))

    assert (result.body, fake_time.sleeps, len(http_server.requests)) == (FEED, [7.0], 2)


def test_retry_after_date_is_measured_against_the_response_date(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED)
    headers = {"Date": LAST_MODIFIED, "Retry-After": "Tue, 04 Jun 2024 08:00:05 GMT"}
    http_server.script("/feed.xml", [Response(503, headers)])

    make_client(fake_time).get(http_server.url("/feed.xml"))

    assert fake_time.sleeps == [5.0]


def test_retry_after_is_capped_at_max_backoff(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED)
    http_server.script("/feed.xml", [Response(429, {"Retry-After": "3600"})])

    make_client(fake_time, max_backoff=60.0).get(http_server.url("/feed.xml"))

    assert fake_time.sleeps == [60.0]


def test_429_then_500_then_the_file(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/feed.xml", FEED)
    http_server.script("/feed.xml", [Response(429, {"Retry-After": "0"}), Response(500)])

    result = make_client(fake_time, backoff=2.0).get(http_server.url("/feed.xml"))

    assert result.body == FEED
    assert len(http_server.requests) == 3
    [backoff] = fake_time.sleeps  # Retry-After: 0 means no wait at all
    assert 4.0 <= backoff <= 6.0  # second retry: 2 * 2**1, plus up to half of that as jitter


def test_server_errors_back_off_exponentially(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED)
    http_server.script("/feed.xml", [Response(500), Response(502)])

    result = make_client(fake_time, backoff=2.0).get(http_server.url("/feed.xml"))

    assert result.body == FEED
    first, second = fake_time.sleeps
    assert 2.0 <= first <= 3.0
    assert 4.0 <= second <= 6.0


def test_persistent_500_fails_naming_url_and_attempts(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.script("/feed.xml", [Response(500, body=b"oops")] * 10)
    url = http_server.url("/feed.xml")

    with pytest.raises(HttpStatusError) as caught:
        make_client(fake_time, retries=3).get(url)

    assert str(caught.value) == (
        f"GET {url}: HTTP 500 Internal Server Error; gave up after 4 attempts"
    )
    assert (caught.value.status, caught.value.body) == (500, b"oops")
    assert len(http_server.requests) == 4
    assert len(fake_time.sleeps) == 3


def test_404_fails_at_once(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    url = http_server.url("/missing.xml")

    with pytest.raises(HttpStatusError, match=r"HTTP 404 Not Found$") as caught:
        make_client(fake_time).get(url)

    assert str(caught.value).startswith(f"GET {url}: ")
    assert (caught.value.status, len(http_server.requests), fake_time.sleeps) == (404, 1, [])


def test_400_exposes_the_atom_error_body(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    headers = {"Content-Type": "application/atom+xml"}
    http_server.script("/api/query", [Response(400, headers, ATOM_ERROR)])

    with pytest.raises(HttpStatusError) as caught:
        make_client(fake_time).get(http_server.url("/api/query"), params={"id_list": "1234.x"})

    assert (caught.value.status, caught.value.body) == (400, ATOM_ERROR)


def test_gzip_error_body_is_decompressed(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    headers = {"Content-Encoding": "gzip"}
    http_server.script("/api/query", [Response(400, headers, gzip.compress(ATOM_ERROR))])

    with pytest.raises(HttpStatusError) as caught:
        make_client(fake_time).get(http_server.url("/api/query"))

    assert caught.value.body == ATOM_ERROR


def test_slow_server_times_out(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.script("/slow.xml", [Response(200, body=FEED, delay=1.0)] * 2)
    url = http_server.url("/slow.xml")

    with pytest.raises(FetchError) as caught:
        make_client(fake_time, timeout=0.2, retries=1).get(url)

    assert str(caught.value) == f"GET {url}: timed out after 0.2 s; gave up after 2 attempts"


def test_connection_refused(fake_time: FakeTime) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"

    with pytest.raises(FetchError) as caught:
        make_client(fake_time, retries=2).get(url)

    assert str(caught.value) == f"GET {url}: connection refused; gave up after 3 attempts"
    assert len(fake_time.sleeps) == 2


def test_declared_size_over_max_bytes_is_refused(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/big.xml", b"x" * 5000)

    with pytest.raises(FetchError, match=r"larger than the 1,000-byte limit.*http\.max_mb"):
        make_client(fake_time, max_bytes=1000).get(http_server.url("/big.xml"))

    assert len(http_server.requests) == 1  # a size problem is not retried


def test_undeclared_size_over_max_bytes_is_cut_off(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    # No Content-Length: the body ends when the connection closes, so it must be counted.
    http_server.script("/big.xml", [Response(200, body=b"x" * 200_000)])

    with pytest.raises(FetchError, match=r"larger than the 100,000-byte limit"):
        make_client(fake_time, max_bytes=100_000).get(http_server.url("/big.xml"))


def test_gzip_bomb_is_cut_off(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/bomb.xml", b"\0" * 1_000_000, gzip=True)  # ~1 KB on the wire

    with pytest.raises(FetchError, match=r"larger than the 100,000-byte limit"):
        make_client(fake_time, max_bytes=100_000).get(http_server.url("/bomb.xml"))


def test_throttled_host_waits_the_remaining_interval(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED)
    client = make_client(fake_time, min_interval={"127.0.0.1": 3.0})

    client.get(http_server.url("/feed.xml"))
    fake_time.now += 1.0
    client.get(http_server.url("/feed.xml"))

    assert fake_time.sleeps == [2.0]


def test_retries_of_a_throttled_host_are_spaced_too(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.serve("/feed.xml", FEED)
    http_server.script("/feed.xml", [Response(503, {"Retry-After": "1"})])
    client = make_client(fake_time, min_interval={"127.0.0.1": 3.0})

    client.get(http_server.url("/feed.xml"))

    assert fake_time.sleeps == [1.0, 2.0]  # Retry-After, then the rest of the interval


def test_other_hosts_are_not_throttled(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/feed.xml", FEED)
    client = make_client(fake_time, min_interval={"arxiv.org": 3.0})

    client.get(http_server.url("/feed.xml"))
    client.get(http_server.url("/feed.xml"))

    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/feed.xml", "example.org/feed.xml"]
)
def test_only_http_and_https_are_allowed(url: str, fake_time: FakeTime) -> None:
    with pytest.raises(FetchError, match=r"not allowed; use an http:// or https:// URL"):
        make_client(fake_time).get(url)


def test_redirect_to_another_scheme_is_refused(
    http_server: LoopbackServer, fake_time: FakeTime
) -> None:
    http_server.script("/feed.xml", [Response(302, {"Location": "file:///etc/passwd"})])

    with pytest.raises(FetchError) as caught:
        make_client(fake_time).get(http_server.url("/feed.xml"))

    assert str(caught.value) == (
        f"GET {http_server.url('/feed.xml')}: HTTP 302 Found "
        "(redirect to 'file:///etc/passwd' not followed)"
    )
    assert len(http_server.requests) == 1


def test_truncated_body_is_retried(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.serve("/feed.xml", FEED)
    http_server.script("/feed.xml", [Response(200, {"Content-Length": "500"}, FEED[:20])])

    result = make_client(fake_time).get(http_server.url("/feed.xml"))

    assert (result.body, len(http_server.requests)) == (FEED, 2)


def test_always_truncated_body_fails(http_server: LoopbackServer, fake_time: FakeTime) -> None:
    http_server.script("/feed.xml", [Response(200, {"Content-Length": "500"}, FEED[:20])] * 2)
    url = http_server.url("/feed.xml")

    with pytest.raises(FetchError) as caught:
        make_client(fake_time, retries=1).get(url)

    assert str(caught.value) == (
        f"GET {url}: response cut off after 20 of 500 bytes; gave up after 2 attempts"
    )
