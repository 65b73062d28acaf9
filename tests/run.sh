#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, black-box integration tests, and the
# benchmarks compiled (not timed). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== cargo test (unit + integration)"
cargo test --workspace --all-targets
