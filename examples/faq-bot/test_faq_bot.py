"""Tests for the FAQ bot, without Switchboard.

    python3 -m unittest examples/faq-bot/test_faq_bot.py

The bot runs as a subprocess on a free port; its `switchboard_url` points at FakeSwitchboard,
a real HTTP server that records the bot's REST calls and answers them as the contract says.
The tests send the bot signed webhooks and wait (with a deadline, never a bare sleep) for the
calls they expect.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from unittest import mock
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the repo
import faq_bot  # noqa: E402

SECRET = "test-secret"
TOKEN = "test-bot-token"
WAIT_S = 5.0

CONFIG = """
listen = "127.0.0.1:9300"
switchboard_url = "{url}"
secret = "{secret}"
greeting = "Hello! Ask me anything."
fallback = "Sorry, I don't know."
handover_keywords = ["agent", "human", "person"]
handover_skill = "general"
workers = 4

[[faq]]
keywords = ["charged twice"]
answer = "Connecting you to billing."
skill = "billing"
handover = true

[[faq]]
keywords = ["return", "refund"]
answer = "Returns are free within 30 days."
skill = "returns"

[[faq]]
keywords = ["delivery", "shipping"]
answer = "Delivery takes 2-4 days."

[[faq]]
keywords = ["opening hours", "open"]
answer = "We are open 8 to 8."
"""


# --------------------------------------------------------------------------------------------
# A fake Switchboard bot REST API
# --------------------------------------------------------------------------------------------


class FakeSwitchboard(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.cond = threading.Condition()
        self.calls: list[dict] = []  # every request: conversation, action, auth, body, status
        self.stored: dict[tuple[str, str], int] = {}  # (conversation, client_msg_id) -> seq
        self.fail_handover: dict[str, str] = {}  # conversation -> message of a one-shot 409
        self.fail_5xx: set[str] = set()  # conversations whose next message answers 503
        self.message_delay_s = 0.0  # makes out-of-order handling visible
        self.seq = itertools.count(100)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def of(self, conv: str, action: str | None = None, ok_only: bool = True) -> list[dict]:
        with self.cond:
            return [
                c for c in self.calls
                if c["conversation"] == conv and (action is None or c["action"] == action)
                and (not ok_only or c["status"] < 500)
            ]

    def wait_for(self, predicate, what: str, timeout: float = WAIT_S):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = predicate()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; calls: {self.calls}")
                self.cond.wait(left)


class FakeHandler(BaseHTTPRequestHandler):
    server: FakeSwitchboard

    def do_POST(self) -> None:
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        parts = self.path.strip("/").split("/")  # v1 bot conversations {id} {action}
        conv, action = parts[3], parts[4]
        if action == "messages" and srv.message_delay_s:
            time.sleep(srv.message_delay_s)  # a slow server, not synchronization
        with srv.cond:
            if action == "messages":
                if conv in srv.fail_5xx:
                    srv.fail_5xx.discard(conv)
                    status, answer = 503, {"error": {"code": "unavailable", "message": "busy"}}
                else:
                    key = (conv, body["client_msg_id"])
                    duplicate = key in srv.stored
                    if not duplicate:
                        srv.stored[key] = next(srv.seq)
                    status = 200 if duplicate else 201
                    answer = {"seq": srv.stored[key], "duplicate": duplicate}
            elif action == "typing":
                status, answer = 204, None
            elif action == "handover":
                if conv in srv.fail_handover:
                    status, answer = 409, {"code": "handover_failed", "reason": "outside_hours",
                                           "message": srv.fail_handover.pop(conv)}
                else:
                    status, answer = 200, {"seq": next(srv.seq), "queue": body.get("skill")}
            else:
                status, answer = 404, {"error": {"code": "not_found", "message": "route not found"}}
            srv.calls.append({"conversation": conv, "action": action, "body": body, "status": status,
                              "auth": self.headers.get("authorization")})
            srv.cond.notify_all()
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


# --------------------------------------------------------------------------------------------
# Running the bot
# --------------------------------------------------------------------------------------------


class BotProcess:
    def __init__(self, switchboard_url: str) -> None:
        self.dir = tempfile.TemporaryDirectory()
        config = os.path.join(self.dir.name, "bot.toml")
        with open(config, "w") as f:
            f.write(CONFIG.format(url=switchboard_url, secret=SECRET))
        self.log_path = os.path.join(self.dir.name, "bot.log")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, SWITCHBOARD_BOT_TOKEN=TOKEN)  # token from env, secret from file
        env.pop("SWITCHBOARD_BOT_SECRET", None)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "faq_bot.py"), "--config", config, "--port", "0"],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )
        # Read the "listening on HOST:PORT" line with a deadline.
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=WAIT_S)
        except queue.Empty:
            self.stop()
            raise AssertionError("the bot did not print its port")
        if not line.startswith("listening on "):
            self.stop()
            raise AssertionError(f"unexpected first line {line!r}; log: {self.logs()}")
        self.url = "http://" + line.split()[-1] + "/webhook"

    def logs(self) -> str:
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT_S)
        self.proc.stdout.close()
        self.log.close()
        self.dir.cleanup()
        return self.proc.returncode


_ids = itertools.count(1)


def new_conversation() -> str:
    return f"c_test{next(_ids):04d}"


def webhook(conv: str, seq: int, webhook_type: str, **event) -> dict:
    """A webhook body; `event` holds the log event's fields (kind, text, …)."""
    customer = webhook_type in ("message.created", "conversation.started")
    author = {"role": "customer", "id": "v_1"} if customer else {"role": "system"}
    return {
        "id": f"{conv}.{seq}", "type": webhook_type, "org": "demo", "conversation": conv, "seq": seq,
        "at": "2026-12-01T10:00:00Z", "customer": {"id": "v_1", "name": "Ada Lovelace"},
        "event": {"seq": seq, "at": "2026-12-01T10:00:00Z", "author": author, **event},
    }


def message(conv: str, seq: int, text: str) -> dict:
    return webhook(conv, seq, "message.created", visibility="public", kind="message",
                   text=text, client_msg_id=f"m-{seq}")


def deliver(url: str, payload: dict | None = None, *, raw: bytes | None = None,
            webhook_id: str | None = None, timestamp: int | None = None,
            signature: str | None = None, secret: str = SECRET) -> int:
    """POST one webhook the way Switchboard does; the HTTP status."""
    body = raw if raw is not None else json.dumps(payload).encode()
    webhook_id = webhook_id or (payload or {}).get("id", "c_x.1")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = signature or faq_bot.sign(secret, webhook_id, ts, body)
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "webhook-id": webhook_id,
        "webhook-timestamp": ts, "webhook-signature": sig,
    })
    try:
        with urllib.request.urlopen(req, timeout=WAIT_S) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


# --------------------------------------------------------------------------------------------
# End-to-end tests against the running bot
# --------------------------------------------------------------------------------------------


class FaqBotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.sb = FakeSwitchboard()
        threading.Thread(target=cls.sb.serve_forever, daemon=True).start()
        cls.bot = BotProcess(cls.sb.url)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.bot.stop()
        cls.sb.shutdown()
        cls.sb.server_close()

    def texts(self, conv: str) -> list[str]:
        return [c["body"]["text"] for c in self.sb.of(conv, "messages")]

    def wait_texts(self, conv: str, n: int) -> list[str]:
        self.sb.wait_for(lambda: len(self.sb.of(conv, "messages")) >= n, f"{n} messages to {conv}")
        return self.texts(conv)

    def test_signature_checks(self):
        conv = new_conversation()
        good = webhook(conv, 1, "conversation.started", kind="created")
        url = self.bot.url
        self.assertEqual(deliver(url, good, secret="wrong-secret"), 401)
        self.assertEqual(deliver(url, good, signature="v1,AAAA"), 401)
        self.assertEqual(deliver(url, good, timestamp=int(time.time()) - 301), 401)
        self.assertEqual(deliver(url, good, timestamp=int(time.time()) + 301), 401)
        # Signed, but the body was changed afterwards.
        body = json.dumps(good).encode()
        ts = str(int(time.time()))
        sig = faq_bot.sign(SECRET, good["id"], ts, body)
        self.assertEqual(deliver(url, raw=body + b" ", webhook_id=good["id"], timestamp=int(ts),
                                 signature=sig), 401)
        # Signed but not JSON.
        self.assertEqual(deliver(url, raw=b"{nope", webhook_id=f"{conv}.9"), 400)
        # Nothing of the rejected requests reached Switchboard...
        self.assertEqual(self.sb.of(conv), [])
        # ...and several signatures, one of them right (a secret rotation), pass.
        ts = int(time.time())
        body = json.dumps(good).encode()
        right = faq_bot.sign(SECRET, good["id"], str(ts), body)
        wrong = faq_bot.sign("old-secret", good["id"], str(ts), body)
        self.assertEqual(deliver(url, raw=body, webhook_id=good["id"], timestamp=ts,
                                 signature=f"{wrong} {right}"), 200)
        self.assertEqual(self.wait_texts(conv, 1), ["Hello! Ask me anything."])

    def test_greeting_on_conversation_started(self):
        conv = new_conversation()
        self.assertEqual(deliver(self.bot.url, webhook(conv, 1, "conversation.started", kind="created")), 200)
        self.assertEqual(self.wait_texts(conv, 1), ["Hello! Ask me anything."])
        call = self.sb.of(conv, "messages")[0]
        self.assertEqual(call["auth"], f"Bearer {TOKEN}")
        self.assertEqual(call["body"]["client_msg_id"], f"{conv}.1:greeting")

    def test_faq_answer_and_fallback(self):
        conv = new_conversation()
        deliver(self.bot.url, message(conv, 3, "How long does DELIVERY take?"))
        deliver(self.bot.url, message(conv, 4, "Are you open on Sunday?"))
        deliver(self.bot.url, message(conv, 5, "What's the weather like?"))
        deliver(self.bot.url, message(conv, 6, "Is the agentic AI stuff real?"))  # not "agent"
        self.assertEqual(self.wait_texts(conv, 4), [
            "Delivery takes 2-4 days.", "We are open 8 to 8.", "Sorry, I don't know.",
            "Sorry, I don't know.",
        ])
        self.assertEqual(self.sb.of(conv, "messages")[0]["body"]["client_msg_id"], f"{conv}.3:answer")
        self.assertEqual(self.sb.of(conv, "handover"), [])

    def test_repeated_webhook_id_is_handled_once(self):
        conv = new_conversation()
        first = message(conv, 2, "I want a refund")
        self.assertEqual(deliver(self.bot.url, first), 200)
        self.assertEqual(deliver(self.bot.url, first), 200)  # redelivery: acknowledged...
        deliver(self.bot.url, message(conv, 3, "shipping?"))
        texts = self.wait_texts(conv, 2)  # ...and the next message's answer proves it was skipped
        self.assertEqual(texts, ["Returns are free within 30 days.", "Delivery takes 2-4 days."])

    def test_handover_with_skill_intake_and_summary(self):
        conv = new_conversation()
        deliver(self.bot.url, webhook(conv, 1, "conversation.started", kind="created"))
        deliver(self.bot.url, message(conv, 3, "Can I return these shoes?"))
        deliver(self.bot.url, message(conv, 5, "agent please"))
        self.sb.wait_for(lambda: self.sb.of(conv, "handover"), "a handover")
        actions = [c["action"] for c in self.sb.of(conv)]
        self.assertEqual(actions, ["messages", "messages", "typing", "handover"])
        self.assertEqual(self.sb.of(conv, "typing")[0]["body"]["on"], True)
        handover = self.sb.of(conv, "handover")[0]
        self.assertEqual(handover["auth"], f"Bearer {TOKEN}")
        body = handover["body"]
        self.assertEqual(body["skill"], "returns")
        self.assertEqual(body["intake"], {"last_topic": "return", "messages": 2})
        self.assertEqual(body["summary"], "Customer asked about return; wants a person.")
        self.assertEqual(body["client_msg_id"], f"{conv}.5:handover")

    def test_handover_without_topic_uses_default_skill(self):
        conv = new_conversation()
        deliver(self.bot.url, message(conv, 2, "Let me talk to a HUMAN"))
        handover = self.sb.wait_for(lambda: self.sb.of(conv, "handover"), "a handover")[0]["body"]
        self.assertEqual(handover["skill"], "general")
        self.assertEqual(handover["intake"], {"last_topic": None, "messages": 1})
        self.assertEqual(handover["summary"], "Customer wants a person.")

    def test_handover_faq_answers_then_hands_over_with_its_skill(self):
        conv = new_conversation()
        deliver(self.bot.url, message(conv, 2, "I was charged twice!"))
        handover = self.sb.wait_for(lambda: self.sb.of(conv, "handover"), "a handover")[0]["body"]
        self.assertEqual(handover["skill"], "billing")
        self.assertEqual(handover["intake"]["last_topic"], "charged twice")
        self.assertEqual([c["action"] for c in self.sb.of(conv)], ["messages", "typing", "handover"])

    def test_failed_handover_tells_the_customer(self):
        conv = new_conversation()
        with self.sb.cond:
            self.sb.fail_handover[conv] = "We're closed now; we open at 8 am."
        deliver(self.bot.url, message(conv, 2, "refund"))
        deliver(self.bot.url, message(conv, 3, "person"))
        texts = self.wait_texts(conv, 2)
        self.assertEqual(texts, ["Returns are free within 30 days.", "We're closed now; we open at 8 am."])
        self.assertEqual(self.sb.of(conv, "messages")[1]["body"]["client_msg_id"], f"{conv}.3:handover-failed")
        # The chat stays with the bot: it keeps answering, and a later handover can succeed.
        deliver(self.bot.url, message(conv, 5, "shipping"))
        deliver(self.bot.url, message(conv, 6, "agent"))
        self.sb.wait_for(lambda: len(self.sb.of(conv, "handover")) == 2, "a second handover")
        self.assertEqual(self.texts(conv)[2], "Delivery takes 2-4 days.")
        second = self.sb.of(conv, "handover")[1]["body"]
        # The last matched FAQ (delivery) has no skill, so the default skill is used.
        self.assertEqual(second["skill"], "general")
        self.assertEqual(second["intake"], {"last_topic": "shipping", "messages": 4})

    def test_handover_failed_webhook_tells_the_customer(self):
        conv = new_conversation()
        deliver(self.bot.url, webhook(conv, 4, "handover.failed", visibility="agents", kind="handover_failed",
                                      by="customer", reason="no_agents", message="Nobody is free right now."))
        self.assertEqual(self.wait_texts(conv, 1), ["Nobody is free right now."])

    def test_messages_are_handled_in_order(self):
        conv = new_conversation()
        texts = ["refund", "delivery", "open", "blah", "refund", "shipping", "opening hours", "?"]
        expected = ["Returns are free within 30 days.", "Delivery takes 2-4 days.", "We are open 8 to 8.",
                    "Sorry, I don't know.", "Returns are free within 30 days.", "Delivery takes 2-4 days.",
                    "We are open 8 to 8.", "Sorry, I don't know."]
        with self.sb.cond:
            self.sb.message_delay_s = 0.01
        try:
            for seq, text in enumerate(texts, start=2):
                self.assertEqual(deliver(self.bot.url, message(conv, seq, text)), 200)
            self.assertEqual(self.wait_texts(conv, len(texts)), expected)
        finally:
            with self.sb.cond:
                self.sb.message_delay_s = 0.0

    def test_server_error_is_retried_with_the_same_client_msg_id(self):
        conv = new_conversation()
        with self.sb.cond:
            self.sb.fail_5xx.add(conv)
        deliver(self.bot.url, message(conv, 2, "refund"))
        self.assertEqual(self.wait_texts(conv, 1), ["Returns are free within 30 days."])
        attempts = self.sb.of(conv, "messages", ok_only=False)
        self.assertEqual([a["status"] for a in attempts], [503, 201])
        self.assertEqual({a["body"]["client_msg_id"] for a in attempts}, {f"{conv}.2:answer"})

    def test_conversation_ended_forgets_state(self):
        conv = new_conversation()
        deliver(self.bot.url, message(conv, 2, "refund"))
        deliver(self.bot.url, webhook(conv, 3, "conversation.ended", kind="ended", reason="customer"))
        # (Not a real flow — an ended chat gets no more webhooks — but it shows the state is gone.)
        deliver(self.bot.url, message(conv, 4, "agent"))
        handover = self.sb.wait_for(lambda: self.sb.of(conv, "handover"), "a handover")[0]["body"]
        self.assertEqual(handover["intake"], {"last_topic": None, "messages": 1})
        self.assertEqual(handover["skill"], "general")


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_acknowledged_work_and_exits_cleanly(self):
        sb = FakeSwitchboard()
        threading.Thread(target=sb.serve_forever, daemon=True).start()
        bot = BotProcess(sb.url)
        try:
            conv = new_conversation()
            self.assertEqual(deliver(bot.url, message(conv, 2, "refund")), 200)
            sb.wait_for(lambda: sb.of(conv, "messages"), "the answer")
        finally:
            code = bot.stop()
            sb.shutdown()
            sb.server_close()
        self.assertEqual(code, 0)


# --------------------------------------------------------------------------------------------
# Unit tests of the pieces
# --------------------------------------------------------------------------------------------


class PiecesTest(unittest.TestCase):
    def test_verify(self):
        body = b'{"a":1}'
        now = 1_700_000_000
        sig = faq_bot.sign("k", "c_1.1", str(now), body)
        headers = {"webhook-id": "c_1.1", "webhook-timestamp": str(now), "webhook-signature": sig}
        self.assertIsNone(faq_bot.verify("k", headers, body, now=now))
        self.assertIsNone(faq_bot.verify("k", headers, body, now=now + 300))
        self.assertIsNotNone(faq_bot.verify("k", headers, body, now=now + 301))
        self.assertIsNotNone(faq_bot.verify("other", headers, body, now=now))
        self.assertIsNotNone(faq_bot.verify("k", {**headers, "webhook-id": "c_1.2"}, body, now=now))
        self.assertIsNotNone(faq_bot.verify("k", {**headers, "webhook-signature": ""}, body, now=now))
        self.assertIsNotNone(faq_bot.verify("k", {**headers, "webhook-timestamp": "x"}, body, now=now))

    def test_keyword_matching(self):
        p = faq_bot.keyword_pattern("order")
        self.assertTrue(p.search("Where is my ORDER?"))
        self.assertTrue(p.search("my orders"))
        self.assertFalse(p.search("reorder"))
        self.assertFalse(p.search("ordering"))
        self.assertTrue(faq_bot.keyword_pattern("opening hours").search("your opening  hours?"))

    def test_client_msg_id_is_valid_and_deterministic(self):
        self.assertEqual(faq_bot.client_msg_id("c_1.5", "answer"), "c_1.5:answer")
        long_id = "c_" + "x" * 80 + ".5"
        key = faq_bot.client_msg_id(long_id, "answer")
        self.assertLessEqual(len(key), 64)
        self.assertEqual(key, faq_bot.client_msg_id(long_id, "answer"))

    def test_recent_ids_are_bounded(self):
        ids = faq_bot.RecentIds(capacity=3)
        self.assertTrue(ids.add("a"))
        self.assertFalse(ids.add("a"))
        for x in "bcd":
            ids.add(x)
        self.assertTrue(ids.add("a"))  # forgotten after 3 newer ids

    def test_demo_config_loads(self):
        with mock.patch.dict(os.environ, {"SWITCHBOARD_BOT_TOKEN": "t", "SWITCHBOARD_BOT_SECRET": "s"}):
            cfg = faq_bot.load_config(os.path.join(HERE, "faq.toml"))
        self.assertEqual((cfg.host, cfg.port), ("127.0.0.1", 9300))
        self.assertEqual(cfg.switchboard_url, "http://127.0.0.1:8080")
        skills = {f.skill for f in cfg.faqs}
        self.assertTrue({"returns", "billing"} <= skills)


if __name__ == "__main__":
    unittest.main()
