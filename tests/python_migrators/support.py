"""Real servers for the Python migrators' tests: `orgquake services up`
(embedded PostgreSQL and Redis) and the two fakes (`orgquake fake stripe`,
`orgquake fake litellm`), each started in a process group of its own and
stopped by that group's id; and a small fixture world loaded into a fresh
database and into the fakes through their own APIs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
ORGQUAKE = Path(os.environ.get("ORGQUAKE_BIN", ROOT / "build" / "bin" / "orgquake"))
SCHEMA = sorted((ROOT / "migrator" / "schema").glob("*.sql"))
PYTHONPATH = f"{ROOT / 'sdk' / 'python'}:{ROOT / 'migrator' / 'python'}"
STRIPE_KEY = "sk_test_orgquake"
LITELLM_KEY = "sk-orgquake-master"
PRICE = "price_orgquake_fixture"


class Server:
    """A long-running orgquake subcommand whose stdout announces it."""

    def __init__(self, args: list[str], ready: re.Pattern, timeout_s: float = 60):
        self.process = subprocess.Popen(
            [str(ORGQUAKE), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.pgid = self.process.pid  # start_new_session: it leads its own group
        self.output: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line.rstrip("\n"))
            if ready.search(line):
                return
        self.stop()
        raise RuntimeError(f"{' '.join(args)} did not start:\n" + "\n".join(self.output))

    def find(self, pattern: str) -> str:
        for line in self.output:
            match = re.search(pattern, line)
            if match:
                return match.group(1)
        raise KeyError(pattern)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.pgid, signal.SIGINT)  # lets services up stop its servers
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pgid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process.stdout.close()


class Services:
    def __init__(self):
        self.servers: list[Server] = []
        try:
            services = self._start(["services", "up"], r"# ready in")
            self.admin_url = services.find(r"^ORGQUAKE_PG_URL=(\S+)")
            self.redis_url = services.find(r"^ORGQUAKE_REDIS_URL=(\S+)")
            stripe = self._start(["fake", "stripe"], r"listening on")
            self.stripe_url = stripe.find(r"listening on (http://\S+)")
            litellm = self._start(["fake", "litellm"], r"listening on")
            self.litellm_url = litellm.find(r"listening on (http://\S+)")
        except BaseException:
            self.stop()
            raise

    def _start(self, args, ready) -> Server:
        server = Server(args, re.compile(ready))
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()

    def create_database(self, name: str) -> str:
        """A new database with the schema; its URL."""
        admin = psycopg2.connect(self.admin_url)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        url = urllib.parse.urlsplit(self.admin_url)._replace(path=f"/{name}").geturl()
        connection = psycopg2.connect(url)
        with connection, connection.cursor() as cursor:
            for path in SCHEMA:
                cursor.execute(path.read_text())
        connection.close()
        return url


def http(method: str, url: str, key: str, body=None, form=None, headers=None):
    """(status, json) of one request, whatever the status."""
    data = None
    all_headers = {"Authorization": f"Bearer {key}", **(headers or {})}
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def ok(result):
    status, body = result
    if not 200 <= status < 300:
        raise AssertionError(f"{status}: {body}")
    return body


@dataclass
class FixtureUser:
    user_id: str
    username: str
    email: str | None
    stored_key: str | None
    keys: list[str] = field(default_factory=list)
    blocked_stored_key: bool = False
    litellm_user: bool = True
    max_budget: float | None = 10.0
    spend: float = 0.0
    stripe_customer: str | None = None
    subscription: str | None = None
    conversations: int = 0

    @property
    def remaining(self) -> float | None:
        if not self.litellm_user:
            return 0.0
        if self.max_budget is None:
            return None
        return max(0.0, self.max_budget - self.spend)


def make_users(tag: str) -> list[FixtureUser]:
    """One user per awkward case of world/world.hpp, plus the ordinary ones."""
    def key() -> str:
        return "sk-" + uuid.uuid4().hex
    users = []
    for i in range(12):
        k = key()
        users.append(FixtureUser(str(uuid.uuid4()), f"user-{tag}-{i}", f"u{i}-{tag}@example.com",
                                 k, [k], max_budget=10.0 + i, spend=1.5, conversations=i % 3,
                                 stripe_customer="pending"))
    users[1].stripe_customer = None                      # no_stripe_customer
    users[2].max_budget, users[2].spend = 5.0, 5.0       # zero_budget
    users[3].keys.append(key())                          # two_keys
    users[4].blocked_stored_key = True                   # expired_key
    users[5].username = f"O'Brien \"Zoë\" 李-{tag}"       # quoted_unicode_name
    users[6].subscription = "pending"                    # subscription
    users[7].litellm_user, users[7].keys, users[7].stored_key = False, [], None  # never used LiteLLM
    users[8].max_budget = None                           # unlimited budget
    users[9].email = None
    users[10].stripe_customer, users[10].keys = None, [key(), key(), key()]
    users[10].stored_key = users[10].keys[0]
    return users


def load_world(services: Services, database_url: str, users: list[FixtureUser]) -> None:
    s, l = services.stripe_url, services.litellm_url
    for u in users:
        if u.stripe_customer:
            form = {"name": u.username, "metadata[user_id]": u.user_id}
            if u.email:
                form["email"] = u.email
            u.stripe_customer = ok(http("POST", f"{s}/v1/customers", STRIPE_KEY, form=form))["id"]
            if u.subscription:
                u.subscription = ok(http("POST", f"{s}/v1/subscriptions", STRIPE_KEY, form={
                    "customer": u.stripe_customer, "items[0][price]": PRICE,
                    "metadata[user_id]": u.user_id}))["id"]
        if u.litellm_user:
            ok(http("POST", f"{l}/user/new", LITELLM_KEY, body={
                "user_id": u.user_id, "user_email": u.email, "max_budget": u.max_budget,
                "spend": u.spend, "models": ["gpt-4o-mini"], "auto_create_key": False}))
        for i, k in enumerate(u.keys):
            ok(http("POST", f"{l}/key/generate", LITELLM_KEY, body={
                "key": k, "user_id": u.user_id, "key_alias": f"{u.username}-{i}",
                "models": ["gpt-4o-mini"]}))
        if u.blocked_stored_key:
            ok(http("POST", f"{l}/key/block", LITELLM_KEY, body={"key": u.stored_key}))
    connection = psycopg2.connect(database_url)
    with connection, connection.cursor() as cursor:
        for u in users:
            cursor.execute(
                "INSERT INTO user_settings (user_id, username, email, llm_api_key, llm_model) "
                "VALUES (%s, %s, %s, %s, 'gpt-4o-mini')",
                (u.user_id, u.username, u.email, u.stored_key))
            if u.stripe_customer:
                cursor.execute("INSERT INTO stripe_customers (user_id, stripe_customer_id) "
                               "VALUES (%s, %s)", (u.user_id, u.stripe_customer))
            for c in range(u.conversations):
                cursor.execute(
                    "INSERT INTO conversation_metadata (conversation_id, user_id, title, "
                    "created_at) VALUES (%s, %s, %s, now())",
                    (f"conv-{u.user_id}-{c}", u.user_id, f"title {c}"))
    connection.close()


def plan_json(services: Services, database_url: str, prefix: str, *, strategy="joined",
              fast_path=True, ttl_ms=1000, max_wait_ms=5000, seed=7, worker=0,
              timeout_ms=5000, clients=None, failpoints="", gated=()):
    return {
        "t": "plan", "protocol": 1, "worker": worker, "phase": "run", "seed": seed,
        "migrator": "py_reference", "trial_start_ns": time.monotonic_ns(),
        "endpoints": {
            "postgres_url": database_url, "redis_url": services.redis_url,
            "stripe_url": services.stripe_url, "stripe_secret_key": STRIPE_KEY,
            "litellm_url": services.litellm_url, "litellm_master_key": LITELLM_KEY,
            "http_request_timeout_ms": timeout_ms},
        "lock": {"ttl_ms": ttl_ms, "max_wait_ms": max_wait_ms, "retry_min_ms": 2,
                 "retry_max_ms": 25, "command_timeout_ms": 2000,
                 "key_prefix": f"{prefix}:lock:user:", "fence_prefix": f"{prefix}:fence:user:"},
        "lookup": {"strategy": strategy, "fast_path": fast_path},
        "failpoints": failpoints, "gated_failpoints": list(gated),
        "clients": clients if clients is not None else [{"start_delay_ms": 0, "ops": []}],
    }
