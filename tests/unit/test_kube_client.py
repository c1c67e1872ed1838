"""The API client under throttling and bodies that are not JSON, its rate limit, and kopf's retries in the log.

A fake API server answers on 127.0.0.1 (aiohttp's test server); time is a fake clock whose sleep
only moves it on, so Retry-After, the token bucket and the one-second rule cost no real time.
"""

import asyncio
import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sncguard.controller.kube import (
    MAX_RETRY_AFTER_S,
    THROTTLE_RETRIES,
    ApiError,
    KubeClient,
    TokenBucket,
    retry_after,
)
from sncguard.controller.metrics import ApiRequestCollector

KUBE_LOGGER = "sncguard.controller.kube"
APF_BODY = "Too many requests, please try again later.\n"


class FakeTime:
    def __init__(self, now: float = 0.0):
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class StillTime(FakeTime):
    """A clock that stands still while requests sleep: what each waits is measured from the same instant."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def answer(status=200, body="{}", content_type="application/json", **headers):
    return status, body, content_type, headers


class FakeApiServer:
    """Answers each request with the next scripted answer (the last one repeats) and records it."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen: list[tuple[str, str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.path_qs, await request.text()))
        status, body, content_type, headers = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return web.Response(status=status, text=body, content_type=content_type, headers=headers)


def info(url: str) -> SimpleNamespace:
    return SimpleNamespace(server=url, insecure=False, ca_path=None, ca_data=None, certificate_path=None,
                           private_key_path=None, certificate_data=None, private_key_data=None, token="t",
                           scheme="Bearer")


def serving(fake: FakeApiServer, scenario, *, qps: float = 0, burst: int = 1, time: FakeTime | None = None):
    """Run `scenario(client, time)` against `fake` on 127.0.0.1 (qps 0: no rate limit unless asked)."""
    time = time or FakeTime()

    async def main():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", fake.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        client = KubeClient(qps=qps, burst=burst, clock=time.clock, sleep=time.sleep)
        try:
            await client.configure(info(str(server.make_url("/"))))
            return await scenario(client, time)
        finally:
            await client.close()
            await server.close()

    return asyncio.run(main()), time


def no_traceback(caplog) -> bool:
    return all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)


def test_a_429_in_plain_text_is_waited_out_as_told_and_sent_again(caplog):
    fake = FakeApiServer(answer(429, APF_BODY, "text/plain", **{"Retry-After": "3"}),
                         answer(200, json.dumps({"kind": "PodList", "items": []})))

    async def scenario(client, time):
        return await client.request("GET", "/api/v1/pods", params={"limit": "500"}), client

    with caplog.at_level(logging.DEBUG):
        (result, client), time = serving(fake, scenario)
    assert result == {"kind": "PodList", "items": []}
    assert [m for m, _, _ in fake.seen] == ["GET", "GET"], "the same request, sent again"
    assert fake.seen[0] == fake.seen[1]
    assert time.sleeps == [3.0], "Retry-After: 3 is obeyed"
    assert client.requests == {("get", "throttled"): 1, ("get", "ok"): 1}
    samples = {tuple(s.labels.values()): s.value for family in ApiRequestCollector(client).collect()
               for s in family.samples}
    assert samples[("get", "throttled")] == 1
    warnings = [r for r in caplog.records if r.name == KUBE_LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert "429" in warnings[0].getMessage() and "Too many requests" in warnings[0].getMessage()
    assert "retrying in 3 s" in warnings[0].getMessage()
    assert no_traceback(caplog), caplog.text


def test_a_503_with_a_text_body_is_retried_a_few_times_then_an_api_error(caplog):
    fake = FakeApiServer(answer(503, "  upstream connect error or disconnect/reset before headers\n", "text/plain"))

    async def scenario(client, time):
        with pytest.raises(ApiError) as caught:
            await client.patch_status("sncguard.io/v1alpha1", "ZoneSpread", "shop", "z", {"x": 1})
        return caught.value, client

    with caplog.at_level(logging.WARNING):
        (error, client), time = serving(fake, scenario)
    assert (error.status, error.reason) == (503, "Service Unavailable")
    assert error.message == "upstream connect error or disconnect/reset before headers", "the text, trimmed"
    assert len(fake.seen) == THROTTLE_RETRIES + 1
    assert time.sleeps == [1.0] * THROTTLE_RETRIES, "no Retry-After: a second between attempts"
    assert client.requests == {("patch", "throttled"): THROTTLE_RETRIES + 1}
    assert len(caplog.records) == THROTTLE_RETRIES + 1 and no_traceback(caplog), caplog.text
    assert "giving up" in caplog.records[-1].getMessage()


def test_error_bodies_that_are_not_json_never_raise_a_json_error():
    fake = FakeApiServer(answer(500, "<html><body>Internal error</body></html>", "text/html"),
                         answer(404, json.dumps({"kind": "Status", "reason": "NotFound", "message": "pods \"x\" "
                                                 "not found", "code": 404})),
                         answer(400, "{not json", "application/json"),
                         answer(200, "ok", "text/plain"))

    async def scenario(client, time):
        errors = []
        for _ in range(4):
            with pytest.raises(ApiError) as caught:
                await client.request("GET", f"/api/v1/namespaces/shop/pods/x{len(errors)}")
            errors.append(caught.value)
        return errors

    errors, _ = serving(fake, scenario)
    assert [(e.status, e.reason, e.message) for e in errors] == [
        (500, "Internal Server Error", "<html><body>Internal error</body></html>"),
        (404, "NotFound", 'pods "x" not found'),
        (400, "Bad Request", "{not json"),
        (200, "InvalidResponse", "the response is not JSON: ok"),
    ]
    assert not any(isinstance(e.__cause__, ValueError) for e in errors)


def test_a_watch_waits_out_a_429_before_its_stream_opens():
    lines = "".join(json.dumps({"type": "ADDED", "object": {"metadata": {"name": n}}}) + "\n" for n in "ab")
    fake = FakeApiServer(answer(429, APF_BODY, "text/plain", **{"Retry-After": "2"}), answer(200, lines))

    async def scenario(client, time):
        return [e["object"]["metadata"]["name"] async for e in client.watch("/api/v1/pods", {"watch": "true"})], client

    (names, client), time = serving(fake, scenario)
    assert names == ["a", "b"] and time.sleeps == [2.0]
    assert client.requests == {("watch", "throttled"): 1, ("watch", "ok"): 1}


def test_retry_after_is_read_in_seconds_or_as_a_date_and_kept_within_bounds():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after("3") == 3.0
    assert retry_after(None) == 1.0 and retry_after("") == 1.0 and retry_after("soon") == 1.0
    assert retry_after("3600") == MAX_RETRY_AFTER_S == 60.0
    assert retry_after("-4") == 0.0
    assert retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0


def test_the_token_bucket_allows_a_burst_then_qps():
    time = FakeTime(100.0)
    bucket = TokenBucket(2.0, 3, clock=time.clock, sleep=time.sleep)
    # Five at once: three go, the fourth half a second later, the fifth a second later (in order).
    assert [bucket.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    time.now += 60
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5], "refilled to the burst, not beyond"
    assert TokenBucket(0, 1, clock=time.clock).reserve() == 0.0, "qps 0: no limit"


def test_the_client_spends_its_requests_within_qps_and_burst():
    fake = FakeApiServer(answer(200, "{}"))

    async def scenario(client, time):
        sent = []
        for i in range(6):
            await client.request("GET", f"/api/v1/namespaces/n{i}")
            sent.append(time.now)
        return sent

    sent, time = serving(fake, scenario, qps=2, burst=3)
    assert len(fake.seen) == 6
    assert sent == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]
    assert time.sleeps == [0.5, 0.5, 0.5]


def test_an_identical_request_goes_at_most_once_a_second_and_is_delayed_not_dropped():
    fake = FakeApiServer(answer(200, "{}"))
    patch = {"spec": {"replicas": 3}}

    async def scenario(client, time):
        sent = []

        async def write(body=patch, name="web"):
            await client.merge_patch("apps/v1", "Deployment", "shop", name, body)
            sent.append((name, body["spec"]["replicas"], time.now))

        await write()
        await write()  # the same write again at once: to the 1 s mark
        await write(name="other")  # another object: at once
        await write({"spec": {"replicas": 4}})  # another body: at once
        await write()  # the first one a third time: a second after the second
        time.now += 5
        await write()
        return sent

    sent, _ = serving(fake, scenario)
    assert sent == [("web", 3, 0.0), ("web", 3, 1.0), ("other", 3, 1.0), ("web", 4, 1.0), ("web", 3, 2.0),
                    ("web", 3, 7.0)]
    assert [m for m, _, _ in fake.seen] == ["PATCH"] * 6, "every write reaches the server"


def test_identical_requests_asked_together_are_spaced_a_second_apart():
    fake = FakeApiServer(answer(200, "{}"))

    async def scenario(client, time):
        async def one():
            await client.request("DELETE", "/api/v1/namespaces/shop/pods/p", body={"kind": "DeleteOptions"})

        await asyncio.gather(one(), one(), one())
        return sorted(time.sleeps)

    sleeps, _ = serving(fake, scenario, time=StillTime())
    assert sleeps == [1.0, 2.0], "the second waits for the 1 s mark, the third for the 2 s mark"
    assert len(fake.seen) == 3


# ---- kopf's own retries -------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_kopfs_retries_during_an_outage_are_warnings_but_its_real_errors_stay_errors(caplog):
    """kopf's API client, unchanged, against a port nobody listens on: its "will retry" and its final
    "escalating" of a connection error (which its watch stream catches and reconnects) come out as
    WARNING; a handler's failure and an escalated server error keep ERROR."""
    from kopf._cogs.clients import api, auth, watching
    from kopf._cogs.configs.configuration import OperatorSettings
    from kopf._cogs.structs.credentials import ConnectionInfo

    from sncguard.controller.runner import KOPF_API_LOGGERS, lower_kopf_retries

    async def outage():
        settings = OperatorSettings()
        settings.networking.error_backoffs = [0, 0]
        context = auth.APIContext(ConnectionInfo(server=f"http://127.0.0.1:{_closed_port()}"))
        try:
            with pytest.raises(aiohttp.ClientConnectionError):
                await api.request("get", "/api/v1/pods", settings=settings, logger=watching.logger,
                                  context=context)
        finally:
            await context.close()

    retries = lower_kopf_retries()
    try:
        assert lower_kopf_retries() is retries, "installed once"
        with caplog.at_level(logging.DEBUG, logger="kopf"):
            asyncio.run(outage())
            logging.getLogger("kopf.objects").error("Handler 'evaluate' failed with an exception. Will retry.")
            watching.logger.error("Request attempt #9/9 failed; escalating: GET http://x/api -> "
                                  "APIServerError('Internal error', {'code': 500})")
    finally:
        for name in KOPF_API_LOGGERS:
            logging.getLogger(name).removeFilter(retries)
    attempts = [r for r in caplog.records if r.getMessage().startswith("Request attempt #")
                and "failed" in r.getMessage() and "APIServerError" not in r.getMessage()]
    assert [m.getMessage().split(";")[1].split(":")[0].strip() for m in attempts] == [
        "will retry", "will retry", "escalating"], caplog.text
    assert all(r.levelno == logging.WARNING and r.levelname == "WARNING" for r in attempts)
    errors = [r.getMessage()[:22] for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["Handler 'evaluate' fai", "Request attempt #9/9 f"], caplog.text
