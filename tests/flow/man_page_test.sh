#!/usr/bin/env bash
# The generated man page documents every subcommand and every exit code the binary knows.
#   man_page_test.sh MIGRATOR_BIN MAN_PAGE
set -euo pipefail
bin="$1"; page="$2"
[ -s "$page" ] || { echo "FAIL: no man page at $page"; exit 1; }
# Captured once: `cmd | grep -q` under pipefail fails when grep exits first (SIGPIPE).
help="$("$bin" --help)"
subs="$(awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}' <<<"$help")"
for s in $subs; do
    grep -q "^\.SS $s\$" "$page" || { echo "FAIL: subcommand '$s' missing from $page"; exit 1; }
done
for code in 0 1 2 3 4 5 6 7 8 9 130; do
    grep -qE "^  $code +" <<<"$help" || { echo "FAIL: exit code $code missing from --help"; exit 1; }
done
grep -qF -- 'on\-row\-error' "$page" || { echo "FAIL: global options missing"; exit 1; }
echo "ok: $(wc -w <<<"$subs") subcommands and all exit codes documented"
