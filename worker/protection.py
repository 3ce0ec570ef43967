"""ECS task scale-in protection: on while the worker holds messages, off when idle.

Uses the ECS agent's endpoint (`$ECS_AGENT_URI/task-protection/v1/state`), which ECS sets
in every task; outside ECS the variable is absent and this does nothing. Failures are logged,
never fatal: protection is an optimisation, the visibility timeout is the safety net.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.request

log = logging.getLogger(__name__)


class ScaleInProtection:
    def __init__(
        self,
        agent_uri: str | None = None,
        expires_minutes: int = 60,
        idle_grace_seconds: float = 5.0,
    ) -> None:
        self.agent_uri = agent_uri if agent_uri is not None else os.environ.get("ECS_AGENT_URI")
        self.expires_minutes = expires_minutes
        self.idle_grace_seconds = idle_grace_seconds
        self.enabled = False
        self._enabled_at = 0.0
        self._idle_since: float | None = None

    def update(self, busy: bool) -> None:
        """Called periodically: enable when busy (renewing before expiry), disable after idling."""
        if not self.agent_uri:
            return
        now = time.monotonic()
        if busy:
            self._idle_since = None
            renew_after = self.expires_minutes * 60 / 2
            if not self.enabled or now - self._enabled_at > renew_after:
                self._set(True)
            return
        if self.enabled:
            self._idle_since = self._idle_since or now
            if now - self._idle_since >= self.idle_grace_seconds:
                self._set(False)

    def release(self) -> None:
        if self.agent_uri and self.enabled:
            self._set(False)

    def _set(self, enabled: bool) -> None:
        body: dict[str, object] = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = self.expires_minutes
        request = urllib.request.Request(
            f"{self.agent_uri.rstrip('/')}/task-protection/v1/state",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=3) as response:
                answer = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as error:
            log.warning("task protection update failed", extra={"error": str(error)})
            return
        if "failure" in answer or "error" in answer:
            log.warning("task protection refused", extra={"answer": answer})
            return
        self.enabled = enabled
        self._enabled_at = time.monotonic()
        log.info("task protection " + ("enabled" if enabled else "disabled"))
