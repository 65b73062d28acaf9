#!/usr/bin/env bash
# The load generator's smoke scenario against a freshly started node on a free port: a real
# check (zero lost, zero duplicated, every chat assigned and ended), not a timing assertion.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --bin switchboard && cargo build -p switchboard-load
log=$(mktemp)
data=$(mktemp -d)
SWITCHBOARD__SERVER__PORT=0 SWITCHBOARD__ARCHIVE__URL="sqlite://$data/archive.db" \
  SWITCHBOARD__ATTACHMENTS__DIR="$data/attachments" RUST_LOG=warn target/debug/switchboard >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$log" "$data"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's#^Switchboard listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$log" | head -n1)
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { echo "load smoke: the server exited early:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "load smoke: the server did not report its port within 10 s" >&2; cat "$log" >&2; exit 1; }
target/debug/switchboard-load load-tests/scenarios/smoke.toml --url "ws://127.0.0.1:$port" --server-pid "$server" --quiet
