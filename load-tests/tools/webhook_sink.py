#!/usr/bin/env python3
"""A webhook receiver for measuring Switchboard's outgoing webhooks (PROTOCOL §9.13).

Verifies every Standard Webhooks signature, counts deliveries, repeats (same webhook-id) and
per-conversation order breaks, and the delay from the event's `at` to its arrival. Prints a
summary on SIGINT/SIGTERM (and every --every seconds).

    python3 load-tests/tools/webhook_sink.py --port 9400 --secret <the subscription's secret>
"""
import argparse, base64, hashlib, hmac, json, signal, sys, threading, time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
stats = {"received": 0, "bad_signature": 0, "repeats": 0, "out_of_order": 0, "delays_ms": []}
seen, last_seq = set(), {}


def verify(secret, headers, body):
    signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    want = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s.removeprefix("v1,"), want)
               for s in (headers.get("webhook-signature") or "").split())


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else 0.0


def summary():
    with lock:
        d = sorted(stats["delays_ms"])
        return (f"received {stats['received']}  bad_signature {stats['bad_signature']}  "
                f"repeats {stats['repeats']}  out_of_order {stats['out_of_order']}  "
                f"delay_ms p50 {pct(d, .5):.1f} p95 {pct(d, .95):.1f} p99 {pct(d, .99):.1f} "
                f"max {(d[-1] if d else 0):.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=9400)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--every", type=float, default=10)
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive (HTTP/1.1, every answer with a length): a connection per webhook would
        # measure the TCP handshakes.
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, code):
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            now = time.time()
            if not verify(args.secret, self.headers, body):
                with lock:
                    stats["bad_signature"] += 1
                self.answer(401); return
            hook = json.loads(body)
            wid, conv, seq = hook["id"], hook.get("conversation", ""), hook.get("seq", 0)
            at = datetime.fromisoformat(hook["at"].replace("Z", "+00:00")).timestamp()
            with lock:
                stats["received"] += 1
                if wid in seen:
                    stats["repeats"] += 1
                else:
                    seen.add(wid)
                    if conv and seq <= last_seq.get(conv, 0):
                        stats["out_of_order"] += 1
                    last_seq[conv] = max(seq, last_seq.get(conv, 0))
                    stats["delays_ms"].append((now - at) * 1000)
            self.answer(204)

    # The default listen backlog (5) drops bursts of connections: TCP retries after a second.
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    def stop(*_):
        print("FINAL " + summary(), flush=True)
        threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGINT, stop); signal.signal(signal.SIGTERM, stop)
    def tick():
        while True:
            time.sleep(args.every)
            print(summary(), flush=True)
    threading.Thread(target=tick, daemon=True).start()
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
