"""The operations endpoint (optional, off by default): /healthz and /metrics over aiohttp.

/healthz answers 200 when the database answers and every adapter is connected, 503
otherwise, with a JSON body saying which part is unwell and each source's last success.
/metrics is Prometheus text: in-process counters plus the outbox by state, read at scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.adapter import Adapter
from bot.ops.metrics import Metrics
from storage import repo

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, sessions: async_sessionmaker, metrics: Metrics,
                 adapters: Mapping[str, Adapter], clock: Callable[[], datetime],
                 listen: str = "127.0.0.1", port: int = 8080) -> None:
        self.sessions = sessions
        self.metrics = metrics
        self.adapters = adapters
        self.clock = clock
        self.listen = listen
        self.port = port
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    async def start(self) -> int:
        """Listen; returns the bound port (useful when configured as 0)."""
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        await site.start()
        addresses = self._runner.addresses  # (host, port, ...) of every bound socket
        self.port = addresses[0][1] if addresses else self.port
        log.info("health endpoint on http://%s:%d/healthz", self.listen, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def healthz(self, _request: web.Request) -> web.Response:
        body: dict[str, Any] = {"database": "ok", "adapters": {}, "sources": {}}
        healthy = True
        try:
            async with self.sessions() as session:
                states = await repo.all_source_states(session)
            body["sources"] = {
                s.name: {"last_success": s.last_success_at.isoformat() if s.last_success_at
                         else None, "status": s.last_status, "note": s.last_note}
                for s in states}
        except Exception as exc:  # any driver error means the database is not reachable
            body["database"] = f"error: {exc.__class__.__name__}"
            healthy = False
        for name, adapter in self.adapters.items():
            connected = adapter.connected
            body["adapters"][name] = "connected" if connected else "disconnected"
            healthy = healthy and connected
        body["status"] = "ok" if healthy else "unhealthy"
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics_page(self, _request: web.Request) -> web.Response:
        gauges: dict[str, list[tuple[dict[str, str], float]]] = {}
        try:
            async with self.sessions() as session:
                counts = await repo.delivery_counts(session)
            gauges["paperwatch_deliveries"] = [({"state": k}, v) for k, v in sorted(counts.items())]
            gauges["paperwatch_queue_depth"] = [({}, counts.get("pending", 0))]
            gauges["paperwatch_database_up"] = [({}, 1)]
        except Exception:
            gauges["paperwatch_database_up"] = [({}, 0)]
        return web.Response(text=self.metrics.render(gauges),
                            content_type="text/plain", charset="utf-8")
