"""An optional webhook called when a turn is flagged, so a human can follow up.

Fire-and-forget by design: the user's reply must never wait on, or fail because of, a
monitoring endpoint. Each call has a bounded timeout; failures are logged, never raised.
The payload carries ids and the decision, not the user's text, unless ``include_text``.
With a ``secret``, the body is signed: ``X-Affagent-Signature: sha256=<hex HMAC>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


log = logging.getLogger("affagent.safety.webhook")


class SafetyWebhook:
    """POSTs one JSON event per flagged turn.

    >>> hook = SafetyWebhook("https://ops.example/hooks/affagent", timeout=2.0)  # doctest: +SKIP
    >>> hook.fire({"event": "safety.flagged", "session_id": "...", ...})       # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        secret: str | None = None,
        include_text: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.secret = secret
        self.include_text = include_text
        self._transport = transport
        self._tasks: set[asyncio.Task[bool]] = set()
        self.sent = 0
        self.failed = 0

    def _headers(self, body: bytes) -> dict[str, str]:
        h = {"content-type": "application/json", "user-agent": "affagent-safety-webhook"}
        if self.secret:
            sig = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            h["x-affagent-signature"] = f"sha256={sig}"
        return h

    async def send(self, event: dict[str, Any]) -> bool:
        """POST ``event``; True on a 2xx answer. Never raises (errors are logged)."""
        payload = dict(event)
        if not self.include_text:
            payload.pop("user_text", None)
        payload.setdefault("sent_at", time.time())
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            import httpx  # here, not at import: httpx pulls in rich and click (~0.13 s)

            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as c:
                r = await asyncio.wait_for(
                    c.post(self.url, content=body, headers=self._headers(body)),
                    self.timeout + 0.5,
                )
            if r.is_success:
                self.sent += 1
                return True
            log.warning("safety webhook %s answered %s", self.url, r.status_code)
        except Exception as exc:  # a monitoring hook must never break a turn
            log.warning("safety webhook %s failed: %s: %s", self.url, type(exc).__name__, exc)
        self.failed += 1
        return False

    def fire(self, event: dict[str, Any]) -> None:
        """Schedule :meth:`send` on the running loop and return at once."""
        task = asyncio.get_running_loop().create_task(self.send(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait (bounded) for webhook calls still in flight, e.g. at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout or self.timeout + 1.0)
