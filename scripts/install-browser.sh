#!/bin/sh
# Installs what the browser tests need, and only what is missing: Debian's chromium (apt) and npm's
# playwright-core in tests/browser/node_modules. Idempotent; needs root only when chromium is missing.
# `npx playwright install` downloads a browser build of its own, which cannot work on these machines:
# playwright-core drives the Debian browser at /usr/bin/chromium instead.
#
#   scripts/install-browser.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)

"$ROOT/scripts/install-deps.sh" --browser # apt, only when chromium is missing

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-browser: $tool is missing" >&2
        exit 1
    fi
done

# npm ci installs exactly the locked versions; it is skipped when they are already there.
cd "$ROOT/tests/browser"
if [ ! -f node_modules/playwright-core/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error >&2
    else
        npm install --no-audit --no-fund --loglevel=error >&2
    fi
fi
