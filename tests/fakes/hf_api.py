"""A fake Hugging Face Daily Papers API on 127.0.0.1, plus the fault machinery both source
fakes share (`FakeSourceServer`, also used by `tests/fakes/arxiv_api.py`).

`GET /api/daily_papers?date=&p=&limit=&sort=` pages through the items set for that date
the way HF does (`[]` past the end, 400 for a malformed date, `sort=trending` by upvotes).
Every request is recorded (path, query, time on the given clock, in-flight count). Tests
script faults for the next requests, optionally only for matching query values:

    async with FakeHFAPI() as hf:
        hf.set_day("2025-08-20", fixture_items())
        hf.fail("status", status=429, retry_after="2")    # then 500/503, "hang", "html",
        hf.fail("raw", body=b'{"error": 1}', match={"date": "2025-08-19"})  # "big", "cut"
        cfg = HFSourceConfig(base_url=hf.base_url)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

DATA = Path(__file__).resolve().parent.parent / "data"
HF_FIXTURE = DATA / "hf_daily_papers_2025-08-20.json"
TEN_MB = 10 * 1024 * 1024


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    at: float


@dataclass
class Fault:
    """What the server does instead of answering, for one request.

    kinds: "status" (status, retry_after, body), "hang" (never answers until the test ends),
    "html" (an HTML error page with 200), "raw" (body, content_type), "big" (size bytes;
    chunked=True streams it without a Content-Length), "cut" (announces more than it sends).
    """

    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    match: dict[str, str] = field(default_factory=dict)

    def applies(self, request: web.Request) -> bool:
        return all(request.query.get(k) == v for k, v in self.match.items())


class FakeSourceServer:
    """An aiohttp server on 127.0.0.1 (random port) that records requests and plays faults."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self._release = asyncio.Event()
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def __aenter__(self) -> FakeSourceServer:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, kind: str, times: int = 1, match: dict[str, str] | None = None,
             **options: Any) -> None:
        """Play `kind` instead of answering the next `times` (matching) requests."""
        for _ in range(times):
            self.faults.append(Fault(kind, options, dict(match or {})))

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    async def wait_requests(self, n: int, timeout: float = 5.0) -> None:
        """Wait until at least n requests arrived (a deadline, not a timed assertion)."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < n:
                self._arrived.clear()
                await self._arrived.wait()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(Recorded(request.path, dict(request.query), self.clock()))
        self._arrived.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            fault = next((f for f in self.faults if f.applies(request)), None)
            if fault is not None:
                self.faults.remove(fault)
                return await self._play(fault, request)
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def _play(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        opts = fault.options
        if fault.kind == "status":
            headers = {"Retry-After": str(opts["retry_after"])} if "retry_after" in opts else {}
            return web.Response(status=opts.get("status", 503), headers=headers,
                                text=opts.get("body", "try later"))
        if fault.kind == "hang":
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=opts.get("seconds", 30))
            return web.Response(text="too late")
        if fault.kind == "html":
            return web.Response(text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                                content_type="text/html")
        if fault.kind == "raw":
            body = opts["body"]
            return web.Response(body=body.encode() if isinstance(body, str) else body,
                                content_type=opts.get("content_type", "application/json"))
        if fault.kind == "big":
            size = opts.get("size", TEN_MB)
            if not opts.get("chunked"):
                return web.Response(body=b"[" + b" " * (size - 2) + b"]",
                                    content_type="application/json")
            return await self._stream(request, size)
        if fault.kind == "cut":
            response = web.StreamResponse(headers={"Content-Length": "100000"})
            await response.prepare(request)
            await response.write(b'[{"paper": ')
            request.transport.close()  # type: ignore[union-attr]
            return response
        raise AssertionError(f"unknown fault {fault.kind}")

    async def _stream(self, request: web.Request, size: int) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b" " * 65536
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < size:
                await response.write(chunk)
                sent += len(chunk)
            await response.write_eof()
        return response


# --- Hugging Face ------------------------------------------------------------------------


def fixture_items() -> list[dict[str, Any]]:
    """The 70 items of the bundled (synthetic around real text) 2025-08-20 list, fresh copies."""
    return copy.deepcopy(json.loads(HF_FIXTURE.read_text())["items"])


def hf_item(paper_id: str, title: str, upvotes: int | None = 0, **paper: Any) -> dict[str, Any]:
    """A minimal daily-papers item; keyword arguments go into its `paper` object."""
    body = {"id": paper_id, "title": title, "summary": paper.pop("summary", f"About {title}."),
            "authors": paper.pop("authors", [{"name": "Jane Doe"}]), "upvotes": upvotes,
            "publishedAt": paper.pop("publishedAt", "2025-08-19T17:00:00.000Z"), **paper}
    return {"title": title, "paper": body, "publishedAt": "2025-08-20T04:00:00.000Z"}


def _upvotes(item: Any) -> int:
    paper = item.get("paper") if isinstance(item, dict) else None
    votes = paper.get("upvotes") if isinstance(paper, dict) else None
    return votes if isinstance(votes, int) else 0


class FakeHFAPI(FakeSourceServer):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.days: dict[str, list[Any]] = {}
        self.ignore_paging = False  # a broken mirror that answers page 0 for every p

    def set_day(self, day: str, items: list[Any]) -> None:
        self.days[day] = list(items)

    def set_upvotes(self, paper_id: str, upvotes: int) -> None:
        for items in self.days.values():
            for item in items:
                if isinstance(item, dict) and item.get("paper", {}).get("id") == paper_id:
                    item["paper"]["upvotes"] = upvotes

    def page_requests(self, day: str | None = None) -> list[dict[str, str]]:
        return [r.query for r in self.requests if r.path == "/api/daily_papers"
                and (day is None or r.query.get("date") == day)]

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/daily_papers", self._daily_papers)]

    async def _daily_papers(self, request: web.Request) -> web.Response:
        day = request.query.get("date", "")
        try:
            date.fromisoformat(day)
            page = int(request.query.get("p", "0"))
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            return web.json_response({"error": "Invalid parameters"}, status=400)
        items = list(self.days.get(day, []))
        if request.query.get("sort") == "trending":
            items.sort(key=_upvotes, reverse=True)
        start = 0 if self.ignore_paging else page * limit
        return web.Response(text=json.dumps(items[start:start + limit]),
                            content_type="application/json")
