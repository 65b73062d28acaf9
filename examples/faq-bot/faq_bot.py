#!/usr/bin/env python3
"""Switchboard FAQ bot: the reference bot for bot-first chats (PROTOCOL §9.12).

Switchboard POSTs signed webhooks to this process; the bot answers each one with 2xx at
once and does the work (REST calls back to Switchboard) on a worker thread, so a slow
Switchboard never holds up a webhook. Events of one conversation are handled by one worker,
in the order they arrived, which is the conversation's seq order (Switchboard sends one
webhook per conversation at a time and waits for our 2xx before sending the next).

    python3 examples/faq-bot/faq_bot.py --config examples/faq-bot/faq.toml [--port N]

Standard library only (Python 3.11+), so integrators can copy it as it is.
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import hmac
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("faq_bot")

# Webhooks whose timestamp is further than this from our clock are rejected (replay guard).
TIMESTAMP_TOLERANCE_S = 5 * 60
# How many webhook ids we remember for deduplication (at-least-once delivery).
DEDUP_CAPACITY = 10_000
# Per-worker cap on remembered conversations. The bot is not told when a chat leaves it by the
# customer's "Connect to an agent" or the reply timeout, so state is also evicted oldest-first.
MAX_CONVERSATIONS_PER_WORKER = 5_000
MAX_BODY_BYTES = 1 << 20


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass
class Faq:
    keywords: list[str]
    answer: str
    skill: str | None = None
    handover: bool = False
    patterns: list[tuple[str, re.Pattern]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.patterns = [(k, keyword_pattern(k)) for k in self.keywords]

    def match(self, text: str) -> str | None:
        """The first keyword of this FAQ found in text, or None."""
        for keyword, pattern in self.patterns:
            if pattern.search(text):
                return keyword
        return None


def keyword_pattern(keyword: str) -> re.Pattern:
    """A case-insensitive whole-word match for keyword (a word or a phrase).

    "order" matches "Where is my ORDER?" and "orders" (an optional plural s) but not
    "reorder" or "ordering"; "opening hours" matches the phrase with any spacing between words.
    """
    words = [re.escape(w) for w in keyword.lower().split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"s?(?!\w)", re.IGNORECASE)


@dataclass
class Config:
    host: str
    port: int
    switchboard_url: str
    token: str
    secret: str
    greeting: str
    fallback: str
    handover_keywords: list[str]
    handover_skill: str | None
    faqs: list[Faq]
    workers: int = 8
    request_timeout_s: float = 10.0
    handover_patterns: list[re.Pattern] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.handover_patterns = [keyword_pattern(k) for k in self.handover_keywords]


def load_config(path: str, port_override: int | None = None) -> Config:
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    listen = raw.get("listen", "127.0.0.1:9300")
    host, _, port = listen.rpartition(":")
    # Secrets belong in the environment; the environment wins over the file.
    token = os.environ.get("SWITCHBOARD_BOT_TOKEN") or raw.get("token", "")
    secret = os.environ.get("SWITCHBOARD_BOT_SECRET") or raw.get("secret", "")
    if not token:
        raise SystemExit("no bot token: set SWITCHBOARD_BOT_TOKEN or `token` in the config")
    if not secret:
        raise SystemExit("no webhook secret: set SWITCHBOARD_BOT_SECRET or `secret` in the config")
    faqs = [
        Faq(
            keywords=list(e["keywords"]),
            answer=e.get("answer", ""),
            skill=e.get("skill"),
            handover=bool(e.get("handover", False)),
        )
        for e in raw.get("faq", [])
    ]
    return Config(
        host=host or "127.0.0.1",
        port=int(port) if port_override is None else port_override,
        switchboard_url=(
            os.environ.get("SWITCHBOARD_URL") or raw.get("switchboard_url", "http://127.0.0.1:8080")
        ).rstrip("/"),
        token=token,
        secret=secret,
        greeting=raw.get("greeting", "Hi! How can I help you?"),
        fallback=raw.get("fallback", "Sorry, I don't know that one. Type \"agent\" for a person."),
        handover_keywords=list(raw.get("handover_keywords", ["agent", "human", "person"])),
        handover_skill=raw.get("handover_skill"),
        faqs=faqs,
        workers=int(raw.get("workers", 8)),
        request_timeout_s=float(raw.get("request_timeout_s", 10.0)),
    )


# --------------------------------------------------------------------------------------------
# Webhook signatures (Standard Webhooks, keyed with the secret's UTF-8 bytes)
# --------------------------------------------------------------------------------------------


def sign(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The `v1,<base64>` signature of one webhook (also used by the tests)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret: str, headers, body: bytes, now: float | None = None) -> str | None:
    """Why the webhook's signature is not acceptable, or None when it is."""
    webhook_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts = int(timestamp)
    except ValueError:
        return "bad webhook-timestamp"
    now = time.time() if now is None else now
    if abs(now - ts) > TIMESTAMP_TOLERANCE_S:
        return "webhook-timestamp too far from now"
    expected = sign(secret, webhook_id, timestamp, body).encode()
    # Several signatures may be present (e.g. during a secret rotation): any match passes.
    # Compare every candidate in constant time; never short-circuit on a prefix.
    ok = False
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            ok = True
    return None if ok else "no matching signature"


class RecentIds:
    """A bounded set of recently seen webhook ids (oldest forgotten first). Thread-safe."""

    def __init__(self, capacity: int = DEDUP_CAPACITY) -> None:
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, webhook_id: str) -> bool:
        """Remember webhook_id; False if it was already there (a redelivery)."""
        with self._lock:
            if webhook_id in self._ids:
                self._ids.move_to_end(webhook_id)
                return False
            self._ids[webhook_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True


# --------------------------------------------------------------------------------------------
# Switchboard's bot REST API
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """Switchboard could not be reached, or kept answering 5xx, after all retries."""


def client_msg_id(webhook_id: str, action: str) -> str:
    """An idempotency key derived from the triggering webhook: a redelivered webhook (or a
    retried request) produces the same key, so Switchboard stores the message once.
    Switchboard accepts 1-64 printable ASCII characters without spaces."""
    key = f"{webhook_id}:{action}"
    if len(key) > 64 or not re.fullmatch(r"[\x21-\x7e]+", key):
        key = hashlib.sha256(webhook_id.encode()).hexdigest()[:40] + ":" + action[:23]
    return key


class Switchboard:
    RETRIES = 4  # attempts after the first one
    BACKOFF_S = 0.2  # doubled after each failed attempt: 0.2, 0.4, 0.8, 1.6 s

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url
        self.token = token
        self.timeout_s = timeout_s

    def _post(self, conversation: str, action: str, body: dict) -> tuple[int, dict]:
        """POST to /v1/bot/conversations/{conversation}/{action}: (status, JSON body).

        4xx answers are returned to the caller (they will not get better by retrying);
        5xx answers and connection errors are retried with exponential backoff."""
        url = f"{self.base_url}/v1/bot/conversations/{urllib.parse.quote(conversation)}/{action}"
        data = json.dumps(body).encode()
        delay = self.BACKOFF_S
        for attempt in range(self.RETRIES + 1):
            req = urllib.request.Request(
                url,
                data=data,
                method="POST",
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return resp.status, _json_or_empty(resp.read())
            except urllib.error.HTTPError as e:
                status, payload = e.code, _json_or_empty(e.read())
                if status < 500:
                    return status, payload
                problem = f"HTTP {status}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                problem = str(getattr(e, "reason", e))
            if attempt == self.RETRIES:
                raise ApiError(f"{action} on {conversation}: {problem} (gave up)")
            log.warning("%s %s: %s, retrying in %.1fs", conversation, action, problem, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def send_message(self, conversation: str, msg_id: str, text: str) -> tuple[int, dict]:
        return self._post(conversation, "messages", {"client_msg_id": msg_id, "text": text})

    def typing(self, conversation: str, msg_id: str) -> tuple[int, dict]:
        # The contract defines client_msg_id for messages only; it is sent on every write
        # so that all of the bot's requests carry the triggering webhook's key.
        return self._post(conversation, "typing", {"on": True, "client_msg_id": msg_id})

    def handover(self, conversation: str, msg_id: str, skill: str | None, intake: dict,
                 summary: str) -> tuple[int, dict]:
        body = {
            "client_msg_id": msg_id,
            "skill": skill,
            "queue": None,
            "priority": None,
            "intake": intake,
            "summary": summary,
        }
        return self._post(conversation, "handover", body)


def _json_or_empty(raw: bytes) -> dict:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def error_of(payload: dict) -> dict:
    """The error object of a 4xx answer: the bot contract shows it flat
    ({"code","message",…}); the rest of the REST API nests it under "error"."""
    inner = payload.get("error")
    return inner if isinstance(inner, dict) else payload


# --------------------------------------------------------------------------------------------
# The bot's logic
# --------------------------------------------------------------------------------------------


@dataclass
class ConversationState:
    messages: int = 0  # customer messages seen so far
    last_faq: Faq | None = None  # the FAQ matched most recently
    last_topic: str | None = None  # the keyword that matched it


class Bot:
    """What the bot does with one webhook. Called on the conversation's worker thread only,
    so the per-conversation state needs no lock (each worker owns its own `conversations`)."""

    def __init__(self, config: Config, api: Switchboard) -> None:
        self.config = config
        self.api = api

    def handle(self, conversations: collections.OrderedDict, webhook_id: str, payload: dict) -> None:
        kind = payload.get("type")
        conv = payload["conversation"]
        event = payload.get("event") or {}
        if kind == "conversation.started":
            conversations.pop(conv, None)
            self._state(conversations, conv)
            self._say(conv, webhook_id, "greeting", self.config.greeting)
        elif kind == "message.created":
            self._on_message(conversations, conv, webhook_id, event.get("text") or "")
        elif kind == "handover.failed":
            # When the bot's own handover failed (by = "bot"), the 409 answer already carried
            # the message and the customer has been told; only tell about the others
            # (the customer's "Connect to an agent", the reply timeout).
            if event.get("by") == "bot":
                log.info("%s handover.failed by the bot (%s): already told", conv, event.get("reason"))
            elif event.get("message"):
                self._say(conv, webhook_id, "handover-failed", event["message"])
        elif kind in ("conversation.ended", "conversation.handed_over"):
            # Nothing more comes for this chat after either: forget it.
            conversations.pop(conv, None)
            log.info("%s %s: state forgotten", conv, kind)
        else:
            log.info("%s ignoring webhook type %r", conv, kind)

    def _state(self, conversations: collections.OrderedDict, conv: str) -> ConversationState:
        state = conversations.get(conv)
        if state is None:
            state = conversations[conv] = ConversationState()
            if len(conversations) > MAX_CONVERSATIONS_PER_WORKER:
                conversations.popitem(last=False)
        conversations.move_to_end(conv)
        return state

    def _on_message(self, conversations, conv: str, webhook_id: str, text: str) -> None:
        state = self._state(conversations, conv)
        state.messages += 1
        # The first FAQ (in file order) with a matching keyword wins.
        faq, keyword = next(((f, k) for f in self.config.faqs if (k := f.match(text))), (None, None))
        if faq is not None:
            state.last_faq, state.last_topic = faq, keyword
        wants_person = any(p.search(text) for p in self.config.handover_patterns)
        if faq is not None and faq.handover:
            if faq.answer:
                self._say(conv, webhook_id, "answer", faq.answer, f"faq {keyword!r}")
            self._handover(conversations, conv, webhook_id, state)
        elif wants_person:
            self._handover(conversations, conv, webhook_id, state)
        elif faq is not None:
            self._say(conv, webhook_id, "answer", faq.answer, f"faq {keyword!r}")
        else:
            self._say(conv, webhook_id, "answer", self.config.fallback, "fallback")

    def _handover(self, conversations, conv: str, webhook_id: str, state: ConversationState) -> None:
        # The skill of the most recently matched FAQ (this message's, else an earlier one's),
        # else the configured default; None lets Switchboard pick its default queue.
        skill = (state.last_faq.skill if state.last_faq else None) or self.config.handover_skill
        intake = {"last_topic": state.last_topic, "messages": state.messages}
        if state.last_topic:
            summary = f"Customer asked about {state.last_topic}; wants a person."
        else:
            summary = "Customer wants a person."
        # Show the customer something is happening while routing runs.
        status, _ = self.api.typing(conv, client_msg_id(webhook_id, "typing"))
        log.info("%s typing -> %s", conv, status)
        status, body = self.api.handover(conv, client_msg_id(webhook_id, "handover"), skill, intake, summary)
        if 200 <= status < 300:
            log.info("%s handover skill=%s -> queue %s", conv, skill, body.get("queue"))
            conversations.pop(conv, None)  # nothing more is sent to us about this chat
            return
        err = error_of(body)
        if status == 409 and err.get("code") == "handover_failed":
            log.info("%s handover skill=%s failed: %s", conv, skill, err.get("reason"))
            message = err.get("message") or "Sorry, nobody can take your chat right now."
            self._say(conv, webhook_id, "handover-failed", message)
        elif status == 409:
            log.info("%s handover: %s; forgetting the chat", conv, err.get("message"))
            conversations.pop(conv, None)
        else:
            log.error("%s handover skill=%s -> %s %s", conv, skill, status, err)

    def _say(self, conv: str, webhook_id: str, action: str, text: str, why: str = "") -> None:
        msg_id = client_msg_id(webhook_id, action)
        status, body = self.api.send_message(conv, msg_id, text)
        if 200 <= status < 300:
            why = f" ({why})" if why else ""
            dup = " [duplicate]" if body.get("duplicate") else ""
            log.info("%s %s%s sent as seq %s%s", conv, action, why, body.get("seq"), dup)
        else:
            log.error("%s %s -> %s %s", conv, action, status, error_of(body).get("message"))


# --------------------------------------------------------------------------------------------
# Workers: one queue per worker; a conversation always maps to the same worker, so its
# webhooks are handled one at a time, in arrival order, while other chats proceed in parallel.
# --------------------------------------------------------------------------------------------


class Workers:
    def __init__(self, bot: Bot, count: int) -> None:
        self.bot = bot
        self.queues: list[queue.Queue] = [queue.Queue() for _ in range(max(1, count))]
        self.threads = [
            threading.Thread(target=self._run, args=(q,), name=f"worker-{i}", daemon=True)
            for i, q in enumerate(self.queues)
        ]
        for t in self.threads:
            t.start()

    def submit(self, webhook_id: str, payload: dict) -> None:
        shard = zlib.crc32(payload["conversation"].encode()) % len(self.queues)
        self.queues[shard].put((webhook_id, payload))

    def _run(self, q: queue.Queue) -> None:
        conversations: collections.OrderedDict[str, ConversationState] = collections.OrderedDict()
        while True:
            item = q.get()
            if item is None:  # shutdown: everything queued before has been handled
                return
            webhook_id, payload = item
            try:
                self.bot.handle(conversations, webhook_id, payload)
            except ApiError as e:
                log.error("%s: %s", webhook_id, e)
            except Exception:  # one bad webhook must not kill the worker
                log.exception("%s: failed", webhook_id)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish the webhooks already acknowledged (up to timeout_s), then stop."""
        for q in self.queues:
            q.put(None)
        deadline = time.monotonic() + timeout_s
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))


# --------------------------------------------------------------------------------------------
# The webhook endpoint
# --------------------------------------------------------------------------------------------


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, config: Config, workers: Workers) -> None:
        super().__init__(address, WebhookHandler)
        self.config = config
        self.workers = workers
        self.seen = RecentIds()


class WebhookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Switchboard may reuse the connection
    server: WebhookServer

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._reply(200, {"ok": True})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._reply(400, {"error": "bad content-length"})
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(413, {"error": "too large"})
            return
        body = self.rfile.read(length)  # read it whatever happens next (keep-alive)
        if self.path.split("?")[0] != "/webhook":
            self._reply(404, {"error": "not found"})
            return
        # 1. Authenticity: over the raw bytes, before parsing anything.
        problem = verify(self.server.config.secret, self.headers, body)
        if problem:
            log.warning("rejected webhook %s: %s", self.headers.get("webhook-id"), problem)
            self._reply(401, {"error": problem})
            return
        # 2. Shape.
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict) or not isinstance(payload.get("conversation"), str):
                raise ValueError("not a webhook object")
        except ValueError as e:
            self._reply(400, {"error": f"bad JSON: {e}"})
            return
        # 3. At-least-once delivery: handle each webhook id once, acknowledge every copy.
        webhook_id = self.headers["webhook-id"]
        if not self.server.seen.add(webhook_id):
            log.info("%s duplicate webhook %s ignored", payload["conversation"], webhook_id)
            self._reply(200, {"ok": True, "duplicate": True})
            return
        log.info("%s webhook %s %s", payload["conversation"], webhook_id, payload.get("type"))
        # 4. Acknowledge now; the worker does the REST calls.
        self.server.workers.submit(webhook_id, payload)
        self._reply(200, {"ok": True})

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:  # access log at debug level only
        log.debug("%s %s", self.address_string(), fmt % args)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Switchboard FAQ bot (reference bot).")
    parser.add_argument("--config", required=True, help="path to the TOML config")
    parser.add_argument("--port", type=int, help="listen port (overrides `listen`; 0 = any free port)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = load_config(args.config, args.port)
    api = Switchboard(config.switchboard_url, config.token, config.request_timeout_s)
    workers = Workers(Bot(config, api), config.workers)
    server = WebhookServer((config.host, config.port), config, workers)
    host, port = server.server_address[:2]

    # Clean shutdown: the signal handler only sets an event; the main thread stops the server
    # (server.shutdown() must not run on the thread inside serve_forever).
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    print(f"listening on {host}:{port}", flush=True)  # a test harness reads this line
    log.info("webhooks on http://%s:%s/webhook, Switchboard at %s", host, port, config.switchboard_url)
    while not stop.wait(0.5):
        pass
    log.info("shutting down")
    server.shutdown()
    server.server_close()
    workers.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
