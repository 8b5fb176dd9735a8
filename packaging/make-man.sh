#!/usr/bin/env bash
# Generates the migrator(1) man page from the binary's own --help texts (help2man for the
# top level, every subcommand's --help in a SUBCOMMANDS section), so the page can never
# disagree with the program.
#
#   make-man.sh MIGRATOR_BIN OUTPUT_FILE
set -euo pipefail
bin="$1"; out="$2"
mkdir -p "$(dirname "$out")"
inc="$(mktemp)"
trap 'rm -f "$inc"' EXIT
help="$("$bin" --help)"
subs="$(awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}' <<<"$help")"
[ -n "$subs" ] || { echo "make-man.sh: no subcommands found in '$bin --help'" >&2; exit 1; }
{
    echo "[SUBCOMMANDS]"
    for s in $subs; do
        echo ".SS $s"
        echo ".nf"
        # The subcommand's usage and options, without the exit-code footer shown above.
        # Captured first: awk stops reading early, which would be SIGPIPE under pipefail.
        sub_help="$("$bin" "$s" --help)"
        awk '/^Exit codes:/ {exit} {print}' <<<"$sub_help" | sed "s|$bin|migrator|g" |
            sed 's/\\/\\\\/g; s/^\./\\\&./'
        echo ".fi"
    done
    echo "[SEE ALSO]"
    echo "docs/operations.md, docs/writing-plugins.md and docs/abi.md in the migrator sources."
} >"$inc"
help2man --no-info --no-discard-stderr --name "applies compiled, versioned migration plugins to SQLite databases" \
    --include "$inc" --output "$out" "$bin"
