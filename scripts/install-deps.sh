#!/bin/sh
# Installs the Debian packages ringcast builds and tests with, and only those that are missing.
# Idempotent; meant for root on Debian bookworm (as CI and `make` run it). A non-root user with
# everything already present passes through without sudo.
#
#   scripts/install-deps.sh          build and unit-test dependencies
#   scripts/install-deps.sh --all    also the tools later suites use (kcat, h2load, curl, ...)
#   scripts/install-deps.sh --browser  only Debian's chromium, for the browser tests
#   scripts/install-deps.sh --soak     only gnuplot, for the plots of scripts/soak.sh
#   scripts/install-deps.sh --bench  what `make bench` adds: nginx + nchan to compare with, gnuplot
set -eu

BUILD_PKGS="gcc make pkg-config libc6-dev librdkafka-dev libh2o-evloop-dev libyaml-dev libssl-dev
            libsystemd-dev libjwt-dev libnghttp2-dev clang-format libjansson-dev clang-14 libclang-rt-14-dev"
TEST_PKGS="kcat nghttp2-client curl openssl python3 valgrind systemd groff-base man-db"
BENCH_PKGS="nginx libnginx-mod-nchan gnuplot-nox"

case "${1:-}" in
    --all) pkgs="$BUILD_PKGS $TEST_PKGS" ;;
    --browser) pkgs="chromium" ;;
    --soak) pkgs="gnuplot-nox" ;;
    --bench) pkgs=$BENCH_PKGS ;;
    *) pkgs=$BUILD_PKGS ;;
esac

missing=""
for p in $pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    # A removed package whose config files remain reports "deinstall ok config-files": not installed.
    [ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to apt-get install:$missing" >&2
    exit 1
fi
# Another install on the machine may hold the dpkg lock: wait for it rather than fail.
APT="apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3"
export DEBIAN_FRONTEND=noninteractive
$APT update -qq >&2
# shellcheck disable=SC2086
$APT install -y -qq --no-install-recommends $missing >&2
