#!/usr/bin/env bash
# The whole test suite — the README's test command and what CI runs:
# formatting, lints, unit tests, black-box integration tests (real server, real websockets),
# benchmarks compiled and run once as tests, and the browser end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Redis engine's tests start their own redis-server processes on free ports: say so now
# rather than after minutes of compiling (`.ci/run` installs it on a fresh machine).
if ! command -v redis-server >/dev/null; then
  echo "tests/run.sh: redis-server is not on PATH; the cluster tests need it (apt-get install -y redis-server)" >&2
  exit 1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (unit + integration)"
cargo test --workspace --all-targets
echo "== load generator smoke scenario"
tests/load-smoke.sh
echo "== browser e2e (widget + console)"
tests/e2e/run.sh
