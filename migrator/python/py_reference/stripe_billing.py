"""The part of the Stripe API a migration uses, through the official `stripe`
library (stripe-python 5), as migrator/stripe_client.cpp.

stripe-python 5 keeps its configuration in module globals. Every client of a
worker talks to the same (fake) Stripe, so the base URL, the HTTP client and
the library's own retries are set once per process; the secret key and the
API version go with each call. The library's HTTP client (requests) keeps one
session per thread, so client threads do not share connections.

The library does not retry (max_network_retries = 0): retries are made here,
as the C++ client makes them: 409 (a concurrent request holds the
idempotency key), 429, 5xx and connection failures, up to four attempts with
the same Idempotency-Key, so that Stripe replays a request whose response
was lost instead of applying it twice.
"""

from __future__ import annotations

import random
import threading
import time

import stripe
from stripe.http_client import RequestsClient

import orgquake

API_VERSION = "2024-06-20"
MAX_ATTEMPTS = 4
BACKOFF_MS = 10  # doubled per attempt, jittered

_configured = threading.Lock()
_configuration: tuple[str, float] | None = None


def configure_process(api_base: str, timeout_s: float) -> None:
    """Points the stripe module at `api_base`; once per process (the same for every client)."""
    global _configuration
    with _configured:
        if _configuration == (api_base, timeout_s):
            return
        # A worker's clients share one plan: this runs once, unless a test
        # process connects clients of several plans one after another.
        stripe.api_base = api_base
        stripe.max_network_retries = 0
        stripe.enable_telemetry = False
        stripe.default_http_client = _OperationTaggingClient(timeout=timeout_s,
                                                             verify_ssl_certs=False)
        _configuration = (api_base, timeout_s)


class _OperationTaggingClient(RequestsClient):
    """Tags every request with the running operation (orgquake.operation_headers),
    so that HTTP faults scoped to an operation find its requests."""

    def request(self, method, url, headers, post_data=None):
        tagged = dict(headers or {})
        tagged.update(orgquake.operation_headers())
        return super().request(method, url, tagged, post_data)


def _retryable(error: Exception) -> bool:
    if isinstance(error, stripe.error.APIConnectionError):
        return True  # refused, reset or timed out: safe to repeat with the same key
    if isinstance(error, stripe.error.StripeError):
        status = error.http_status or 0
        return status in (409, 429) or status >= 500
    return False


class StripeBilling:
    def __init__(self, secret_key: str, rng: random.Random):
        self._key = secret_key
        self._rng = rng

    def _call(self, request, *args, **params):
        backoff_ms = BACKOFF_MS
        attempt = 1
        while True:
            try:
                return request(*args, api_key=self._key, stripe_version=API_VERSION, **params)
            except stripe.error.StripeError as error:
                if not _retryable(error) or attempt >= MAX_ATTEMPTS:
                    raise
            time.sleep((backoff_ms + self._rng.randint(0, backoff_ms)) / 1000.0)
            backoff_ms *= 2
            attempt += 1

    def update_customer(self, customer_id: str, idempotency_key: str, **fields):
        return self._call(stripe.Customer.modify, customer_id,
                          idempotency_key=idempotency_key, **fields)

    def create_customer(self, idempotency_key: str, **fields):
        return self._call(stripe.Customer.create, idempotency_key=idempotency_key, **fields)

    def retrieve_customer(self, customer_id: str):
        return self._call(stripe.Customer.retrieve, customer_id)

    def list_customers_by_email(self, email: str):
        """GET /v1/customers?email=...&limit=100: listing, unlike search, does not lag writes."""
        return self._call(stripe.Customer.list, email=email, limit=100)

    def delete_customer(self, customer_id: str):
        return self._call(stripe.Customer.delete, customer_id)

    def list_subscriptions(self, customer_id: str):
        return self._call(stripe.Subscription.list, customer=customer_id, limit=100)

    def update_subscription(self, subscription_id: str, idempotency_key: str, **fields):
        return self._call(stripe.Subscription.modify, subscription_id,
                          idempotency_key=idempotency_key, **fields)


def close_thread_session() -> None:
    """Closes this thread's HTTP session to Stripe; the next call opens a new one."""
    client = stripe.default_http_client
    if client is not None:
        client.close()
