#!/usr/bin/env bash
# Installs what the test suite needs and a fresh machine may lack: a C toolchain, redis-server
# (the Redis engine's tests start their own on free ports), moto's S3-compatible server (the
# attachment tests), pypdf (the PDF export tests extract text with it), aiosmtpd (the email
# tests' SMTP server), Debian's Chromium
# (browser tests; never a downloaded browser) and the browser tests' npm packages. Idempotent and quiet when
# everything is there. Called by tests/run.sh (the README's test command) and so by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is missing: this machine needs the Rust toolchain (rustup)" >&2; exit 1; }

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The archive's tests start a real PostgreSQL per test (initdb + postgres on a free port);
# Debian puts the binaries in /usr/lib/postgresql/N/bin, which tests/support/postgres.rs searches.
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium fonts-dejavu-core)
command -v node >/dev/null || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "tests/setup.sh: missing ${need_apt[*]}; install them (apt-get install -y ${need_apt[*]})" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== installing: ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi
# The S3-compatible server the attachment tests store files in (tests/support/s3.rs).
if ! python3 -c 'import moto.server' 2>/dev/null; then
  command -v python3 >/dev/null || { echo "tests/setup.sh: python3 is missing (the S3 tests run moto's server)" >&2; exit 1; }
  echo "== installing moto[server] (S3-compatible test server)"
  # A Debian system python refuses --user installs (PEP 668) unless told this is meant.
  python3 -m pip install --user --quiet 'moto[server]' \
    || python3 -m pip install --user --quiet --break-system-packages 'moto[server]'
fi
# The PDF export's tests extract the text with pypdf (tests/api/exports.rs): it reads
# right-to-left runs (Hebrew, Arabic) back into logical order and needs no system package.
if ! python3 -c 'import pypdf' 2>/dev/null; then
  echo "== installing pypdf (PDF text extraction in the export tests)"
  python3 -m pip install --user --quiet pypdf \
    || python3 -m pip install --user --quiet --break-system-packages pypdf
fi
# The email tests' SMTP server (tests/support/smtp.rs).
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "== installing aiosmtpd (the email tests' SMTP server)"
  python3 -m pip install --user --quiet aiosmtpd \
    || python3 -m pip install --user --quiet --break-system-packages aiosmtpd
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "tests/setup.sh: node $(node --version) is too old; the browser tests need Node.js 20+" >&2
  exit 1
fi
if [ ! -d tests/e2e/node_modules/playwright-core ]; then
  echo "== installing the browser tests' npm packages"
  (cd tests/e2e && npm ci --no-audit --no-fund)
fi
