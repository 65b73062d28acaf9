#!/usr/bin/env bash
# The whole test suite — the README's test command and what CI runs:
# formatting, lints, unit tests, black-box integration tests (real server, real websockets),
# benchmarks compiled and run once as tests, and the browser end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs what a fresh machine lacks (redis-server, Chromium, npm packages …), so this one
# command is all the README asks for.
tests/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (unit + integration)"
cargo test --workspace --all-targets
echo "== the reference bot's own tests (examples/faq-bot)"
python3 -m unittest examples/faq-bot/test_faq_bot.py
echo "== load generator smoke scenario"
tests/load-smoke.sh
echo "== browser e2e (widget + console)"
tests/e2e/run.sh
