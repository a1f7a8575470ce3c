"""The load generator (ops/bench/loadgen.py) against a tiny keep-alive HTTP/1.1 server in the test.

No Postgres or Redis. The only timing assertions are about a deliberate 300 ms stall, with wide margins.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import pytest

from ops.bench.loadgen import (
    Client,
    FollowUp,
    Kind,
    Request,
    Response,
    RunResult,
    choose_kinds,
    loopback_address,
    now_ns,
    render_markdown,
    run,
    run_open,
    run_saturation,
    to_dict,
)

CHUNKED_BODY = b"".join(f"part {i};".encode() for i in range(20))


class TinyServer:
    """Answers by path; `stall_at` makes the n-th request (counting from 1) wait `stall_s` once."""

    def __init__(self) -> None:
        self.requests = 0
        self.stall_at: int | None = None
        self.stall_s = 0.3
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> TinyServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # stop(): end quietly, the streams' done-callback can't read a cancelled task
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        method, target, _ = request_line.split(" ")
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (ln.partition(":") for ln in lines)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests += 1
        if self.stall_at == self.requests:
            await asyncio.sleep(self.stall_s)
        path, _, query = target.partition("?")
        return await self._respond(writer, method, path, query, body)

    async def _respond(
        self, writer: asyncio.StreamWriter, method: str, path: str, query: str, body: bytes
    ) -> bool:
        if path == "/close":
            return False
        if path == "/hang":
            await asyncio.sleep(30)
        if path == "/chunked":
            await self._trickle(writer)
            return True
        if path == "/until-close":
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread to the end")
            await writer.drain()
            return False
        status, extra, payload = {
            "/ok": (200, "", b"hello"),
            "/etag": (304, 'ETag: "v7"\r\nX-Projection-Version: 12\r\n', b""),
            "/missing": (404, "", b'{"status":404}'),
            "/boom": (500, "", b"oops"),
            "/write": (201, f"X-Consistency-Token: t{self.requests}\r\nLocation: /w/1\r\n", body),
            "/read": (200, "X-Consistency: fresh\r\n", query.encode()),
            "/head": (200, "", b"0123456789"),
        }[path]
        writer.write(
            f"HTTP/1.1 {status} X\r\n{extra}Content-Length: {len(payload)}\r\n\r\n".encode()
            + (b"" if method == "HEAD" else payload)
        )
        await writer.drain()
        return True

    async def _trickle(self, writer: asyncio.StreamWriter) -> None:
        """A chunked response written a few bytes at a time, so chunks arrive cut anywhere."""
        pieces = [b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: W/"c"\r\n\r\n']
        pieces += [
            b"%x;ext=1\r\n%s\r\n" % (len(CHUNKED_BODY[i : i + 17]), CHUNKED_BODY[i : i + 17])
            for i in range(0, len(CHUNKED_BODY), 17)
        ]
        pieces.append(b"0\r\nX-Trailer: yes\r\n\r\n")
        data = b"".join(pieces)
        for i in range(0, len(data), 7):
            writer.write(data[i : i + 7])
            await writer.drain()
            await asyncio.sleep(0.0005)


async def test_open_model_measures_from_the_intended_send_time() -> None:
    """Coordinated omission: requests queued behind a 300 ms stall must show the wait."""
    server = await TinyServer().start()
    server.stall_at = 60  # about 0.3 s into the run
    try:
        result = await run_open(
            "127.0.0.1",
            server.port,
            [Kind("ok", Request("GET", "/ok"))],
            rate=200,
            duration_s=2.0,
            max_connections=1,
        )
    finally:
        await server.stop()

    ok = result.kind("ok")
    assert result.scheduled == 400
    assert ok.requests == ok.ok == 400
    assert server.requests == 400
    assert result.connections_opened == 1
    assert ok.latency.max_ms is not None and ok.latency.max_ms >= 250
    assert ok.latency.p99_ms is not None and ok.latency.p99_ms >= 200
    # About rate x stall = 60 requests were due during the stall; those due in its first 250 ms waited
    # over 50 ms. Measured from the actual send, only the stalled request itself would.
    slow = ok.count_over(50.0)
    assert 30 <= slow <= 200, slow
    # The service time, from the actual send, is the view that hides the wait.
    assert ok.service.p95_ms is not None and ok.service.p95_ms < 50
    assert ok.service.max_ms is not None and ok.service.max_ms >= 250  # the stalled request itself
    assert result.send_delay is not None and result.send_delay.max_ms is not None
    assert result.send_delay.max_ms >= 200  # they were written late, and that time was counted


async def test_client_reads_lengths_chunks_and_bodiless_responses() -> None:
    server = await TinyServer().start()
    try:
        async with Client("127.0.0.1", server.port, max_connections=1) as client:
            hello = await client.send(Request("GET", "/ok"))
            chunked = await client.send(Request("GET", "/chunked"), timeout_s=10)
            not_modified = await client.send(Request("GET", "/etag", {"If-None-Match": '"v7"'}))
            head = await client.send(Request("HEAD", "/head"))
            written = await client.send(
                Request("POST", "/write", {"Content-Type": "text/plain"}, b"squat 5x5")
            )
            again = await client.send(client.prepare(Request("GET", "/ok")))
            until_close = await client.send(Request("GET", "/until-close"))
            after_close = await client.send(Request("GET", "/ok"))
            opened = client.connections_opened
    finally:
        await server.stop()

    assert (hello.status, hello.body) == (200, b"hello")
    assert (chunked.status, chunked.body, chunked.header("ETag")) == (200, CHUNKED_BODY, 'W/"c"')
    assert (not_modified.status, not_modified.body) == (304, b"")
    assert not_modified.headers == {"etag": '"v7"', "x-projection-version": "12"}
    assert (head.status, head.body) == (200, b"")
    assert (written.status, written.body) == (201, b"squat 5x5")
    assert written.header("x-consistency-token") == "t5"
    assert written.header("Location") == "/w/1"
    assert (again.status, again.body) == (200, b"hello")
    assert (until_close.status, until_close.body) == (200, b"read to the end")
    assert after_close.status == 200
    assert opened == 2  # one keep-alive connection until the server closed it
    assert hello.sent_ns <= hello.received_ns


def test_kinds_are_chosen_by_weight_and_seed() -> None:
    weights = {"dashboard": 35.0, "feed": 20.0, "write": 5.0, "records": 40.0}
    picks = choose_kinds(weights, 20_000, seed=7)
    counts = Counter(picks)
    for name, weight in weights.items():
        assert abs(counts[name] / len(picks) - weight / 100) < 0.015, (name, counts)
    assert picks == choose_kinds(weights, 20_000, seed=7)
    assert picks != choose_kinds(weights, 20_000, seed=8)
    assert set(choose_kinds({"a": 1.0, "never": 0.0}, 500)) == {"a"}
    with pytest.raises(ValueError):
        choose_kinds({"a": 0.0}, 1)


async def test_open_run_sends_the_seeded_mix() -> None:
    server = await TinyServer().start()
    weights = {"ok": 60.0, "etag": 30.0, "head": 10.0}
    built: list[int] = []

    def head_request(rng: random.Random) -> Request:
        built.append(rng.randrange(1000))
        return Request("HEAD", "/head")

    kinds = [
        Kind("ok", Request("GET", "/ok"), weight=60),
        Kind("etag", Request("GET", "/etag"), weight=30),
        Kind("head", head_request, weight=10),
    ]
    try:
        result = await run_open(
            "127.0.0.1", server.port, kinds, rate=1000, requests=300, seed=3, prewarm_connections=3
        )
    finally:
        await server.stop()

    expected = Counter(choose_kinds(weights, 300, seed=3))
    assert {k.name: k.requests for k in result.kinds} == dict(expected)
    assert result.overall.requests == result.overall.ok == 300
    assert result.connections_opened >= 3
    assert result.kind("etag").statuses == {304: expected["etag"]}  # 304 succeeds by default
    assert len(built) == expected["head"]
    for kind in result.kinds:
        assert kind.target_rate == pytest.approx(1000 * weights[kind.name] / 100)
    assert result.overall.target_rate == 1000


async def test_only_loopback_hosts() -> None:
    assert loopback_address("localhost") == "127.0.0.1"
    assert loopback_address("::1") == "::1"
    for host in ("10.0.0.5", "example.com", "127.0.0.2", "0.0.0.0", ""):
        with pytest.raises(ValueError, match="loopback"):
            Client(host, 8000)
    with pytest.raises(ValueError, match="loopback"):
        await run_open("192.168.1.1", 80, [Kind("x", Request("GET", "/"))], rate=10, requests=1)
    with pytest.raises(ValueError, match="loopback"):
        await run_saturation("example.org", 80, [Kind("x", Request("GET", "/"))], connections=1, duration_s=1)


async def test_a_rate_is_kept_up_with_only_when_answered_on_time_without_errors() -> None:
    """What the benchmark's open-model maximum rests on (ops/bench/run.py `kept_up`)."""
    from ops.bench.run import kept_up

    server = await TinyServer().start()
    try:
        steady = await run_open("127.0.0.1", server.port, [Kind("ok", Request("GET", "/ok"))], rate=200,
                                duration_s=1.0)  # fmt: skip
        server.stall_at = server.requests + 40  # a 300 ms stall: requests queue behind it
        stalled = await run_open("127.0.0.1", server.port, [Kind("ok", Request("GET", "/ok"))], rate=200,
                                 duration_s=1.0, max_connections=1)  # fmt: skip
        failing = await run_open("127.0.0.1", server.port, [Kind("boom", Request("GET", "/boom"))], rate=200,
                                 duration_s=1.0)  # fmt: skip
    finally:
        await server.stop()

    assert kept_up(steady, 200)
    assert not kept_up(steady, 400)  # answered at half the rate asked for
    assert not kept_up(stalled, 200)
    assert not kept_up(failing, 200)


async def test_errors_are_counted_by_status_and_exception() -> None:
    server = await TinyServer().start()
    kinds = [
        Kind("ok", Request("GET", "/ok")),
        Kind("missing", Request("GET", "/missing")),
        Kind("gone", Request("GET", "/missing"), expect={404}),
        Kind("boom", Request("GET", "/boom")),
        Kind("closed", Request("POST", "/close")),
        Kind("hang", Request("GET", "/hang")),
    ]
    try:
        result = await run_open(
            "127.0.0.1", server.port, kinds, rate=200, requests=60, max_connections=16, request_timeout_s=0.3
        )
        drained = await run_open(
            "127.0.0.1",
            server.port,
            [Kind("hang", Request("GET", "/hang"))],
            rate=100,
            requests=3,
            drain_timeout_s=0.2,
        )
    finally:
        await server.stop()

    count = {kind.name: kind.requests for kind in result.kinds}
    assert sum(count.values()) == 60 and all(count.values()), count
    assert result.kind("ok").errors == 0
    assert result.kind("missing").error_statuses == {404: count["missing"]}
    assert result.kind("missing").ok == 0 and result.kind("missing").latency.count == 0
    assert result.kind("gone").ok == count["gone"] and result.kind("gone").errors == 0
    assert result.kind("boom").error_statuses == {500: count["boom"]}
    assert result.kind("closed").exceptions == {"Disconnected": count["closed"]}
    assert result.kind("hang").exceptions == {"timeout": count["hang"]}
    assert result.overall.error_statuses == {404: count["missing"], 500: count["boom"]}
    assert result.overall.errors == count["missing"] + count["boom"] + count["closed"] + count["hang"]
    assert drained.kind("hang").exceptions == {"drain-timeout": 3}

    as_dict = json.loads(json.dumps(to_dict(result)))
    assert as_dict["overall"]["error_statuses"] == {"404": count["missing"], "500": count["boom"]}
    table = render_markdown(result)
    assert "service p99 ms" in table and "| missing |" in table and f"404x{count['missing']}" in table
    assert f"timeoutx{count['hang']}" in table


async def test_follow_ups_send_through_the_client_and_record_extras() -> None:
    server = await TinyServer().start()
    tokens: list[str] = []

    async def read_after_write(ctx: FollowUp, response: Response) -> None:
        token = response.header("X-Consistency-Token")
        read = await ctx.send(Request("GET", f"/read?token={token}"))
        if read.header("X-Consistency") == "fresh" and read.body == f"token={token}".encode():
            ctx.record("write-to-read", now_ns() - ctx.intended_ns)
        else:
            ctx.record_error("write-to-read", "stale")

    async def broken(ctx: FollowUp, response: Response) -> None:
        raise RuntimeError("hook failed")

    kinds = [
        Kind(
            "write",
            Request("POST", "/write", body=b"{}"),
            expect={201},
            on_response=lambda r: tokens.append(r.header("x-consistency-token") or ""),
            follow_up=read_after_write,
        ),
        Kind("ok", Request("GET", "/ok"), follow_up=broken),
    ]
    try:
        result = await run_open("127.0.0.1", server.port, kinds, rate=400, requests=80, seed=1)
    finally:
        await server.stop()

    writes = result.kind("write")
    assert writes.ok == writes.requests == len(tokens) > 0
    lag = result.extra("write-to-read")
    assert lag.latency.count == writes.ok and lag.errors == {}
    assert result.hook_errors == {"ok: RuntimeError": result.kind("ok").ok}
    assert "write-to-read" in render_markdown(result)
    assert server.requests == 80 + writes.ok  # the follow-up reads went to the same server


def test_saturation_on_uvloop() -> None:
    async def main() -> tuple[int, RunResult]:
        server = await TinyServer().start()
        try:
            result = await run_saturation(
                "127.0.0.1",
                server.port,
                [Kind("ok", Request("GET", "/ok"), weight=3), Kind("missing", Request("GET", "/missing"))],
                connections=4,
                duration_s=0.4,
                warmup_s=0.1,
            )
        finally:
            await server.stop()
        return server.requests, result

    served, result = run(main())
    assert result.mode == "saturation" and result.send_delay is None
    assert result.connections_opened == 4
    ok, missing = result.kind("ok"), result.kind("missing")
    assert ok.ok > 0 and ok.errors == 0
    assert missing.error_statuses == {404: missing.requests} and missing.requests > 0
    assert result.overall.requests <= served
    assert result.overall.achieved_rate == pytest.approx(result.overall.requests / 0.4)
    assert ok.latency.p50_ms is not None and ok.latency.p50_ms > 0
    assert "Saturation: 4 connections" in render_markdown(result)
