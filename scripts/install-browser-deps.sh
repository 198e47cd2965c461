#!/usr/bin/env bash
# Installs what the browser test (tests/browser.rs → e2e/admin.spec.mjs) needs:
# Debian's chromium at /usr/bin/chromium, and playwright-core and axe-core from
# e2e/package-lock.json.
# Idempotent: does nothing that is already done. Fails loudly when an install is impossible,
# so CI fails instead of silently skipping the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "install-browser-deps: $*" >&2; exit 1; }

if [ -x /usr/bin/chromium ]; then
  echo "install-browser-deps: chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
else
  command -v apt-get >/dev/null || die "apt-get not found; install Debian's chromium package by hand"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install chromium"
    SUDO="sudo"
  fi
  echo "install-browser-deps: apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || die "apt-get update failed"
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core \
    || die "apt-get install chromium failed"
  [ -x /usr/bin/chromium ] || die "chromium installed but /usr/bin/chromium is missing"
fi

command -v node >/dev/null || die "node not found (Node.js 18+ is needed for e2e/)"
command -v npm >/dev/null || die "npm not found"

lock_hash() { sha256sum e2e/package-lock.json | cut -d' ' -f1; }
stamp=e2e/node_modules/.lore-lock-sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(lock_hash)" ] \
   && [ -f e2e/node_modules/playwright-core/package.json ] \
   && [ -f e2e/node_modules/axe-core/axe.min.js ]; then
  echo "install-browser-deps: e2e/node_modules up to date"
else
  echo "install-browser-deps: npm ci in e2e/"
  # playwright-core never downloads a browser by itself; chromium comes from Debian.
  (cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) || die "npm ci in e2e/ failed"
  lock_hash > "$stamp"
fi
node -e "require('./e2e/node_modules/playwright-core'); require('./e2e/node_modules/axe-core')" \
  || die "playwright-core or axe-core does not load"
echo "install-browser-deps: ok"
