#!/bin/sh
# Checks that the committed config docs are what the schema table generates, as two TAP tests:
# config/ringcast.example.yaml against `rc-confdoc --yaml`, and the README.md text between the
# config-reference markers against `rc-confdoc --markdown`. Exits 1 on drift, with a diff.
#
#   scripts/check-docs.sh build/rc-confdoc           check (run by `make test`)
#   scripts/check-docs.sh build/rc-confdoc --fix     rewrite both from the schema, then check
#
# --fix only replaces the lines between the markers; a README.md without them gets the section
# appended at its end (a missing README.md is created with it).
set -u

confdoc=${1:?usage: check-docs.sh RC_CONFDOC [--fix]}
fix=${2:-}
case $confdoc in /*) ;; *) confdoc=$PWD/$confdoc ;; esac
cd "$(dirname "$0")/.." || exit 1

example=config/ringcast.example.yaml
readme=README.md
begin='<!-- config-reference:begin -->'
end='<!-- config-reference:end -->'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$confdoc" --yaml >"$tmp/example.yaml" || ! "$confdoc" --markdown >"$tmp/reference.md"; then
    echo "1..2"
    echo "not ok 1 - example config matches schema # $confdoc failed"
    echo "not ok 2 - README reference matches schema # $confdoc failed"
    exit 1
fi

# Prints the lines strictly between the markers; exits 1 if README.md lacks them.
section() {
    awk -v b="$begin" -v e="$end" '
        $0 == e { inside = 0; closed = 1 }
        inside { print }
        $0 == b { inside = 1; opened = 1 }
        END { exit !(opened && closed) }' "$readme"
}

if [ "$fix" = "--fix" ]; then
    cp "$tmp/example.yaml" "$example"
    if [ -f "$readme" ] && section >/dev/null 2>&1; then
        awk -v b="$begin" -v e="$end" -v ref="$tmp/reference.md" '
            $0 == e { skip = 0 }
            !skip { print }
            $0 == b { while ((getline line < ref) > 0) print line; skip = 1 }' "$readme" >"$tmp/README.md"
    else
        {
            [ -f "$readme" ] && cat "$readme" && echo
            echo "$begin"
            cat "$tmp/reference.md"
            echo "$end"
        } >"$tmp/README.md"
    fi
    cat "$tmp/README.md" >"$readme"
elif [ "$fix" != "" ]; then
    echo "check-docs.sh: unknown option $fix" >&2
    exit 2
fi

# Reports one comparison as a TAP line; a difference comes with its first lines as comments.
compare() { # number, description, expected file, actual file
    if cmp -s "$3" "$4"; then
        echo "ok $1 - $2"
        return 0
    fi
    echo "not ok $1 - $2"
    echo "# generated from config/schema.c differs from the committed copy; run 'make docs' to refresh it"
    diff -u --label committed --label generated "$4" "$3" | head -n 30 | sed 's/^/# /'
    return 1
}

echo "1..2"
failed=0
if [ -f "$example" ]; then
    compare 1 "example config matches schema" "$tmp/example.yaml" "$example" || failed=1
else
    echo "not ok 1 - example config matches schema # $example is missing; run 'make docs'"
    failed=1
fi
if [ -f "$readme" ] && section >"$tmp/committed.md" 2>/dev/null; then
    compare 2 "README reference matches schema" "$tmp/reference.md" "$tmp/committed.md" || failed=1
else
    echo "not ok 2 - README reference matches schema # $readme lacks the $begin ... $end section; run 'make docs'"
    failed=1
fi
exit $failed
