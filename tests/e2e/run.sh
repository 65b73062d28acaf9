#!/usr/bin/env bash
# Browser end-to-end tests of the chat widget and the agent console: headless Debian Chromium
# driven by playwright-core, against the real server (target/debug/switchboard) started by the
# tests themselves on a free port. Screenshots of failing tests land in tests/e2e/artifacts/.
#
#   tests/e2e/run.sh                 # build the server if needed, install npm deps if missing, run
#   tests/e2e/run.sh tests/chat.test.js   # one file
set -euo pipefail
cd "$(dirname "$0")"

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if ! command -v node >/dev/null 2>&1; then
  echo "e2e: node is missing – install Node.js 20 or newer (apt-get install -y nodejs npm)" >&2
  exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "e2e: node $(node --version) is too old – Node.js 20 or newer is needed" >&2
  exit 1
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "e2e: $CHROMIUM is missing – install Debian's chromium (apt-get install -y chromium)" >&2
  exit 1
fi
if [ ! -d node_modules/playwright-core ]; then
  command -v npm >/dev/null 2>&1 || { echo "e2e: npm is missing (apt-get install -y npm)" >&2; exit 1; }
  npm ci --no-audit --no-fund
fi
if [ -z "${SWITCHBOARD_BIN:-}" ]; then
  (cd ../.. && cargo build --bin switchboard)
fi
rm -rf artifacts
# A first start of a freshly installed Chromium builds its caches (fonts, profile) and has taken
# over 30 s on a 2-core box; do it once here, outside every test's time limit.
timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$(mktemp -d)" --dump-dom about:blank >/dev/null 2>&1 || true

if [ $# -eq 0 ]; then set -- tests/*.test.js; fi
exec node --test --test-concurrency=1 --test-timeout=120000 "$@"
