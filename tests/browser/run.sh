#!/bin/bash
# The demo in a browser: installs Debian's chromium and playwright-core if missing
# (scripts/install-browser.sh), starts the demo stack with scripts/demo.sh on free ports, runs
# demo.spec.mjs in headless chromium (HTTP/2 over TLS, HTTP/1.1, chat, drop connection, screenshot
# into build/demo-screenshot.png), then stops the stack through demo.sh's own SIGTERM path and
# checks that it left nothing running. Prints TAP.
. "$(dirname "$0")/../lib.sh"
HERE=$ROOT/tests/browser
SHOT=$BUILD/demo-screenshot.png

if ! "$ROOT/scripts/install-browser.sh" >"$T/install.log" 2>&1; then
    _failed=$((_failed + 1))
    echo "not ok 1 - chromium and playwright-core are installed (scripts/install-browser.sh failed)"
    tail -n 5 "$T/install.log" | sed 's/^/#   /'
    echo "1..1"
    exit 1
fi
need curl node openssl
ok "chromium and playwright-core are installed" test -x /usr/bin/chromium -a -f "$HERE/node_modules/playwright-core/package.json"

HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
while [ "$HTTPS_PORT" = "$HTTP_PORT" ]; do HTTPS_PORT=$(free_port); done
DEMO=$T/demo
DEMO_HTTP_PORT=$HTTP_PORT DEMO_HTTPS_PORT=$HTTPS_PORT spawn demo "$ROOT/scripts/demo.sh" --no-build --dir "$DEMO"
# demo.sh prints the URLs once the edge reports every stream healthy.
ok "scripts/demo.sh starts the bridge, the feed and the edge" wait_for 30 grep -q 'demo is running' "$T/demo.log"
if [ "$_failed" -gt 0 ]; then
    sed 's/^/#   /' "$T/demo.log"
    stop demo TERM # demo.sh stops what it started; lib.sh's cleanup would only kill demo.sh itself
    finish
    exit 1
fi
started=$(cat "$DEMO/pids")

rm -f "$SHOT"
DEMO_HTTP_URL=http://127.0.0.1:$HTTP_PORT DEMO_HTTPS_URL=https://127.0.0.1:$HTTPS_PORT SCREENSHOT=$SHOT \
    TAP_START=$((_n + 1)) timeout 90 node "$HERE/demo.spec.mjs" >"$T/spec.out" 2>&1
rc=$?
cat "$T/spec.out"
ran=$(grep -cE '^(not )?ok ' "$T/spec.out")
bad=$(grep -c '^not ok ' "$T/spec.out")
_n=$((_n + ran))
_failed=$((_failed + bad))
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
    _n=$((_n + 1))
    _failed=$((_failed + 1))
    echo "not ok $_n - demo.spec.mjs exited with status $rc"
fi

stop demo TERM
is "scripts/demo.sh stops on SIGTERM with status 0" "$?" 0
still=""
while read -r name pid; do
    kill -0 "$pid" 2>/dev/null && still="$still $name($pid)"
done <<<"$started"
is "every process demo.sh started has exited" "$still" ""
finish
