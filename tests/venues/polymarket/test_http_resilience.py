"""The shared HTTP layer against a real loopback server: retries, 429, breaker, error mapping."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from http_server import FixtureServer, Reply, shared_server

from polybot.core.errors import (
    AuthError,
    CircuitOpen,
    InsufficientFunds,
    NotFound,
    OrderRejected,
    RateLimited,
    TemporaryVenueError,
    TradingHalted,
)
from polybot.venues.polymarket.errors import (
    BreakerOpen,
    InvalidRequest,
    classify_message,
    error_from_response,
    order_error,
    retry_after_s,
)
from polybot.venues.polymarket.http import (
    CircuitBreaker,
    HttpClient,
    RetryPolicy,
    encode_params,
)
from polybot.venues.polymarket.ratelimit import RateLimiter, TokenBucket


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    srv = shared_server()
    srv.reset()
    yield srv
    srv.reset()


class FakeTime:
    """A clock that only moves when someone sleeps on it (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(server: FixtureServer, fake: FakeTime, *, timeout_s: float = 5.0,
                breaker: CircuitBreaker | None = None, attempts: int = 4) -> HttpClient:
    return HttpClient(
        server.base_url, "clob", timeout_s=timeout_s, rng=random.Random(1), sleep=fake.sleep,
        retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.25, max_delay_s=8.0,
                          max_retry_after_s=30.0),
        breaker=breaker,
        limiter=RateLimiter(clock=fake.clock, sleep=fake.sleep),
    )


OK = Reply(json={"mid": "0.5"})


@pytest.mark.parametrize("fault", [
    Reply(status=503, json={"error": "upstream"}),
    Reply(status=500, body=b"<html>bad gateway</html>"),
    Reply(status=425, json={"error": "engine restarting"}),
    Reply(reset=True, json={"mid": "0.5"}),
])
async def test_transient_faults_are_retried_with_backoff(server: FixtureServer, fault: Reply) -> None:
    fake = FakeTime()
    server.script("GET", "/midpoint", fault, fault)
    server.route("GET", "/midpoint", OK)
    async with make_client(server, fake) as http:
        result = await http.request("GET", "/midpoint", dict[str, str], params={"token_id": "1"})
    assert result == {"mid": "0.5"}
    assert len(server.requests("/midpoint")) == 3
    # Two backoffs, each within its jittered band [d/2, d] for d = 0.25·2ⁿ.
    assert len(fake.sleeps) == 2
    assert 0.125 <= fake.sleeps[0] <= 0.25
    assert 0.25 <= fake.sleeps[1] <= 0.5


async def test_timeout_is_retried(server: FixtureServer) -> None:
    fake = FakeTime()
    server.script("GET", "/midpoint", Reply(json={"mid": "0.1"}, delay_s=1.0))
    server.route("GET", "/midpoint", OK)
    async with make_client(server, fake, timeout_s=0.2) as http:
        result = await http.request("GET", "/midpoint", dict[str, str])
    assert result == {"mid": "0.5"}
    assert len(fake.sleeps) == 1


async def test_gives_up_after_max_attempts(server: FixtureServer) -> None:
    fake = FakeTime()
    server.route("GET", "/midpoint", Reply(status=502, json={"error": "bad gateway"}))
    async with make_client(server, fake, attempts=3) as http:
        with pytest.raises(TemporaryVenueError, match="502"):
            await http.request("GET", "/midpoint", dict[str, str])
    assert len(server.requests("/midpoint")) == 3


@pytest.mark.parametrize(("reply", "error"), [
    (Reply(status=400, json={"error": "Invalid side"}), InvalidRequest),
    (Reply(status=400, json={"error": "not enough balance / allowance"}), InsufficientFunds),
    (Reply(status=401, json={"error": "Unauthorized/Invalid api key"}), AuthError),
    (Reply(status=404, json={"error": "No orderbook exists for the requested token id"}),
     NotFound),
    (Reply(status=503, json={"error": "Trading is currently disabled. Check polymarket.com for "
                                      "updates"}), TradingHalted),
    (Reply(status=503, json={"code": "post_only_mode"}), TradingHalted),
    (Reply(status=500, json={"error": "FOK orders are filled or killed"}), OrderRejected),
])
async def test_rejections_are_never_retried(
    server: FixtureServer, reply: Reply, error: type[Exception],
) -> None:
    fake = FakeTime()
    server.route("POST", "/order", reply)
    async with make_client(server, fake) as http:
        with pytest.raises(error) as caught:
            await http.request("POST", "/order", dict[str, str], body=b"{}",
                               order_endpoint=True)
    assert not isinstance(caught.value, TemporaryVenueError)
    assert len(server.requests("/order")) == 1
    assert fake.sleeps == []


async def test_unknown_400_on_order_endpoint_is_an_order_rejection(server: FixtureServer) -> None:
    server.route("POST", "/order", Reply(status=400, json={"error": "something new"}))
    async with make_client(server, FakeTime()) as http:
        with pytest.raises(OrderRejected):
            await http.request("POST", "/order", dict[str, str], body=b"{}", order_endpoint=True)


async def test_429_retry_after_is_honoured(server: FixtureServer) -> None:
    fake = FakeTime()
    server.script("GET", "/book", Reply(status=429, json={"error": "Too Many Requests"},
                                        headers={"Retry-After": "7"}))
    server.route("GET", "/book", OK)
    async with make_client(server, fake) as http:
        await http.request("GET", "/book", dict[str, str])
        assert http.rate_limit.retry_after_s == 7.0
    assert fake.sleeps[0] >= 7.0


async def test_429_body_hint_and_long_hint_surfaces(server: FixtureServer) -> None:
    fake = FakeTime()
    server.route("GET", "/book", Reply(status=429, json={"error": "Too Many Requests",
                                                         "retry_after_seconds": 120}))
    async with make_client(server, fake) as http:
        with pytest.raises(RateLimited) as caught:
            await http.request("GET", "/book", dict[str, str])
    assert caught.value.retry_after_s == 120.0
    assert len(server.requests("/book")) == 1       # 120 s > max_retry_after_s: caller decides
    assert fake.sleeps == []


async def test_rate_limit_headers_are_exposed(server: FixtureServer) -> None:
    server.route("POST", "/order", Reply(json={"success": True}, headers={
        "Poly-RateLimit-Remaining": "-3", "Poly-RateLimit-Reset": "1790000000",
        "Poly-RateLimit-Tier": "Silver", "Poly-RateLimit-Warning": "true"}))
    async with make_client(server, FakeTime()) as http:
        await http.request("POST", "/order", dict[str, bool], body=b"{}")
        info = http.rate_limit
    assert (info.remaining, info.reset_at, info.tier, info.warning) == (
        -3, 1790000000, "Silver", True)
    assert info.path == "/order"


async def test_post_is_not_resent_after_a_read_timeout(server: FixtureServer) -> None:
    fake = FakeTime()
    server.script("POST", "/order", Reply(json={"success": True}, delay_s=1.0))
    server.route("POST", "/order", Reply(json={"success": True}))
    async with make_client(server, fake, timeout_s=0.2) as http:
        with pytest.raises(TemporaryVenueError, match="Timeout"):
            await http.request("POST", "/order", dict[str, bool], body=b"{}")
    assert len(server.requests("/order")) == 1     # may have been placed: no blind resend


async def test_post_is_resent_after_503(server: FixtureServer) -> None:
    fake = FakeTime()
    server.script("POST", "/order", Reply(status=503, json={"error": "busy"}))
    server.route("POST", "/order", Reply(json={"success": True}))
    async with make_client(server, fake) as http:
        assert await http.request("POST", "/order", dict[str, bool], body=b"{}") == {
            "success": True}
    assert len(server.requests("/order")) == 2


async def test_circuit_breaker_opens_fails_fast_and_recovers(server: FixtureServer) -> None:
    fake = FakeTime()
    breaker = CircuitBreaker("clob@test", failure_threshold=3, reset_timeout_s=30.0,
                             clock=fake.clock)
    server.route("GET", "/midpoint", Reply(status=503, json={"error": "down"}))
    async with make_client(server, fake, breaker=breaker, attempts=10) as http:
        with pytest.raises(CircuitOpen) as caught:
            await http.request("GET", "/midpoint", dict[str, str])
        assert len(server.requests("/midpoint")) == 3    # opened at the 3rd failure
        assert isinstance(caught.value, BreakerOpen)
        assert "half-opens in" in str(caught.value)
        assert breaker.state == "open"

        # Fails fast: nothing reaches the server while open.
        with pytest.raises(CircuitOpen):
            await http.request("GET", "/midpoint", dict[str, str])
        assert len(server.requests("/midpoint")) == 3

        # After the timeout one trial goes through; its success closes the breaker.
        fake.now += 31.0
        assert breaker.state == "half_open"
        server.route("GET", "/midpoint", OK)
        assert await http.request("GET", "/midpoint", dict[str, str]) == {"mid": "0.5"}
        assert breaker.state == "closed"
        assert breaker.consecutive_failures == 0


async def test_failed_half_open_trial_reopens(server: FixtureServer) -> None:
    fake = FakeTime()
    breaker = CircuitBreaker("c", failure_threshold=1, reset_timeout_s=5.0, clock=fake.clock)
    server.route("GET", "/ok", Reply(status=500, json={"error": "x"}))
    async with make_client(server, fake, breaker=breaker, attempts=1) as http:
        with pytest.raises(TemporaryVenueError):
            await http.request("GET", "/ok", str)
        fake.now += 6.0
        with pytest.raises(TemporaryVenueError):
            await http.request("GET", "/ok", str)
        assert breaker.state == "open"


async def test_rejections_do_not_open_the_breaker(server: FixtureServer) -> None:
    fake = FakeTime()
    breaker = CircuitBreaker("c", failure_threshold=2, clock=fake.clock)
    server.route("GET", "/book", Reply(status=404, json={"error": "No orderbook exists"}))
    async with make_client(server, fake, breaker=breaker) as http:
        for _ in range(4):
            with pytest.raises(NotFound):
                await http.request("GET", "/book", dict[str, str])
    assert breaker.state == "closed"


async def test_repeated_params_and_bools_on_the_wire(server: FixtureServer) -> None:
    server.route("GET", "/x", Reply(json=[]))
    async with make_client(server, FakeTime()) as http:
        await http.request("GET", "/x", list[int],
                           params={"id": ["1", "2"], "closed": False, "skip": None})
    sent = server.requests("/x")[0]
    assert sent.params("id") == ["1", "2"]
    assert sent.param("closed") == "false"
    assert sent.param("skip") is None
    assert encode_params([("a", True), ("b", 3)]) == [("a", "true"), ("b", "3")]


# ---- pure pieces ---------------------------------------------------------------------------


async def test_token_bucket_waits_exactly_for_refill() -> None:
    fake = FakeTime()
    bucket = TokenBucket(10, 10.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(10):
        assert await bucket.acquire() == 0.0
    waited = await bucket.acquire(3)
    assert waited == pytest.approx(3.0)
    assert not bucket.try_acquire()
    with pytest.raises(ValueError, match="cost"):
        await bucket.acquire(11)


def test_endpoint_rules_stack_on_family_rules() -> None:
    limiter = RateLimiter()
    names = {b.name for b in limiter.buckets_for("gamma", "GET", "/markets/keyset")}
    assert names == {"all", "gamma", "gamma /markets", "gamma listing"}
    names = {b.name for b in limiter.buckets_for("clob", "POST", "/order")}
    assert names == {"all", "clob", "clob POST /order", "clob POST /order 10m"}
    names = {b.name for b in limiter.buckets_for("data", "GET", "/v2/positions")}
    assert names == {"all", "data", "data /positions"}
    assert limiter.bucket("clob /books").capacity == 500


def test_message_catalogue() -> None:
    assert classify_message("order 0xab is invalid. Price (0.555) breaks minimum tick size "
                            "rule: 0.01") is OrderRejected
    assert classify_message("order 0xab is invalid. Size (1) lower than the minimum: 5") is (
        OrderRejected)
    assert classify_message("invalid post-only order: order crosses book") is OrderRejected
    assert classify_message("Trading is currently cancel-only. New orders are not accepted, "
                            "but cancels are allowed.") is TradingHalted
    assert classify_message("the order owner has to be the owner of the API KEY") is AuthError
    assert classify_message("something brand new") is None
    assert isinstance(order_error("not enough balance / allowance"), InsufficientFunds)
    assert type(order_error("order couldn't be fully filled. FOK orders are fully filled or "
                            "killed.")) is OrderRejected
    assert type(order_error("mystery")) is OrderRejected


def test_status_fallbacks_and_retry_after_forms() -> None:
    assert type(error_from_response(502, b"<html></html>", {})) is TemporaryVenueError
    assert type(error_from_response(403, b"", {})) is AuthError
    assert type(error_from_response(418, b"{}", {})) is InvalidRequest
    limited = error_from_response(429, b'{"error":"Too Many Requests"}', {"retry-after": "2.5"})
    assert isinstance(limited, RateLimited)
    assert limited.retry_after_s == 2.5
    assert retry_after_s({}, {"retry_after_seconds": "4"}) == 4.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"}, None) is not None
    assert retry_after_s({}, None) is None
