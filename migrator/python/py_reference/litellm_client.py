"""The LiteLLM proxy's management API over httpx, as migrator/litellm_client.cpp.

LiteLLM has no idempotency keys: only requests idempotent by nature (reads,
updates that set a value) are retried here; creations are made safe by the
caller (a known id or key value, so that a repeat says "already exists").
"""

from __future__ import annotations

import json
import random
import socket
import time
from typing import Any

import httpcore
import httpx
from httpcore.backends.sync import SyncBackend

import orgquake

MAX_ATTEMPTS = 4
BACKOFF_MS = 10  # doubled per attempt, jittered


class LiteLlmError(Exception):
    """A LiteLLM error response: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str):
        super().__init__(f"LiteLLM {status}: {message}")
        self.status = status

    def says(self, words: str) -> bool:
        """LiteLLM reports "already exists" and "already in team" as 400s with these words."""
        return words in str(self)


class _NoDelayBackend(SyncBackend):
    """httpcore writes a request's headers and its body in two send()s: with
    Nagle's algorithm on, the body waits for the ACK of the headers, which the
    server delays (40 ms on Linux). Every POST would take 40 ms."""

    def connect_tcp(self, *args, **kwargs):
        stream = super().connect_tcp(*args, **kwargs)
        stream.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return stream


class _NoDelayTransport(httpx.HTTPTransport):
    """httpx 0.23's transport with TCP_NODELAY (socket_options came in httpx 0.24).

    One keep-alive connection is all a client thread ever uses; no retries of
    its own (httpcore's retry only re-connects, but the policy is this module's).
    """

    def __init__(self, verify: bool):
        # HTTPTransport.__init__ only builds self._pool; build it with our backend.
        ssl_context = httpx.create_ssl_context(verify=True) if verify else None
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=2,
            max_keepalive_connections=1,
            keepalive_expiry=5.0,
            retries=0,
            network_backend=_NoDelayBackend(),
        )


class LiteLlmClient:
    def __init__(self, base_url: str, master_key: str, timeout_ms: int, rng: random.Random):
        self._master = {"Authorization": f"Bearer {master_key}"}
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_ms / 1000.0),
            trust_env=False,
            transport=_NoDelayTransport(verify=not base_url.startswith("http:")),
        )
        self._rng = rng

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._send("GET", path, params=params, body=None, repeatable=True)

    def post(self, path: str, body: dict[str, Any], repeatable: bool) -> Any:
        """`repeatable`: the request may be sent again if its outcome is unknown."""
        return self._send("POST", path, params=None, body=body, repeatable=repeatable)

    def key_works(self, virtual_key: str) -> bool:
        """GET /v1/models with a virtual key: True if it works, False on 401 (one attempt)."""
        headers = {"Authorization": f"Bearer {virtual_key}"}
        headers.update(orgquake.operation_headers())  # as every other request of the operation
        response = self._http.get("/v1/models", headers=headers)
        if response.status_code == 200:
            return True
        if response.status_code == 401:
            return False
        raise LiteLlmError(response.status_code, f"GET /v1/models: {response.text}")

    def _send(self, method: str, path: str, params, body, repeatable: bool) -> Any:
        what = f"{method} {path}"
        backoff_ms = BACKOFF_MS
        content = None if body is None else json.dumps(body)
        headers = dict(self._master)
        headers.update(orgquake.operation_headers())  # HTTP faults scoped to an operation
        if content is not None:
            headers["Content-Type"] = "application/json"
        attempt = 1
        while True:
            try:
                response = self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as error:
                # An unknown outcome may only be repeated where repeating is harmless.
                maybe_applied = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
                if (not repeatable and maybe_applied) or attempt >= MAX_ATTEMPTS:
                    raise
            else:
                if 200 <= response.status_code < 300:
                    try:
                        return response.json()
                    except ValueError as error:
                        raise LiteLlmError(0, f"{what}: unreadable response: {error}") from None
                retryable = response.status_code == 429 or response.status_code >= 500
                if not retryable or not repeatable or attempt >= MAX_ATTEMPTS:
                    raise LiteLlmError(response.status_code, f"{what}: {_message_of(response)}")
            time.sleep((backoff_ms + self._rng.randint(0, backoff_ms)) / 1000.0)
            backoff_ms *= 2
            attempt += 1


def _message_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message", response.text)
            return message if isinstance(message, str) else json.dumps(message)
        if "detail" in body:
            return json.dumps(body["detail"])
    return response.text
