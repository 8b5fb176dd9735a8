#!/usr/bin/env bash
# bench/blob.sh: the reference workload. Times `migrator up` applying the blob-only revision
# 0005_message_v2 (saved_agent_message.data, SavedAgentMessage v1 -> v2) on N generated rows,
# as whole processes, interleaved with two baselines timed in the same run: the write floor
# (blob_floor.c: UPDATE of every row with its precomputed v2 value, one transaction, one
# prepared statement) and SQLite JSON1 (blob_json1.sql, one UPDATE via the sqlite3 CLI).
# See bench/README.md.
#
#   bench/blob.sh [-b BUILD_DIR] [-n "100000 1000000"] [-r REPS] [-w WORK_DIR] [-s SEED]
#                 [-B BAD_FRACTION]
#
# Defaults: -b build-bench, -n 1000000, -r 5, -w BUILD_DIR/bench-blob, -s 42, -B 0.
# -B > 0 puts that share of invalid rows in the data; migrator then runs with
# --on-row-error=quarantine (without it, one bad row fails the revision) and JSON1 skips rows
# that are not json_valid().
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="$root/build-bench"
ns="1000000"
reps=5
work=""
seed=42
bad=0
while getopts "b:n:r:w:s:B:" opt; do
    case "$opt" in
        b) build="$OPTARG" ;;
        n) ns="$OPTARG" ;;
        r) reps="$OPTARG" ;;
        w) work="$OPTARG" ;;
        s) seed="$OPTARG" ;;
        B) bad="$OPTARG" ;;
        *) sed -n '2,15p' "$0"; exit 2 ;;
    esac
done
mig="$build/bin/migrator"
plugins="$build/reference-plugins"
[[ -x "$mig" ]] || { echo "blob.sh: $mig is not built (ninja -C $build migrator reference_plugins)" >&2; exit 2; }
ls "$plugins"/0005_message_v2-*.so >/dev/null 2>&1 ||
    { echo "blob.sh: no 0005_message_v2 plugin in $plugins (ninja -C $build reference_plugins)" >&2; exit 2; }
sqlite="$(command -v sqlite3)" || { echo "blob.sh: needs the sqlite3 CLI (apt-get install sqlite3)" >&2; exit 2; }
work="${work:-$build/bench-blob}"
umask 022
mkdir -p "$work/tools"
chmod -R go-w "$plugins"  # the host refuses group/world-writable plugin directories

# Tools: the timing driver, the floor, the data generator.
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -o "$work/tools/timeit" "$here/timeit.c"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -o "$work/tools/blob_floor" "$here/blob_floor.c" -lsqlite3
"${CXX:-c++}" -std=c++17 -O2 -Wall -Wextra -o "$work/tools/gen_messages" "$here/gen_messages.cpp" -lsqlite3
timeit="$work/tools/timeit" floor="$work/tools/blob_floor" gen="$work/tools/gen_messages"

# Options of this migrator build.
help="$("$mig" --help)"
has_workers=0
grep -q -- '--workers' <<<"$help" && has_workers=1
mig_extra=()
json1_sql="$here/blob_json1.sql"
if [[ "$bad" != 0 ]]; then
    grep -q -- '--on-row-error' <<<"$help" ||
        { echo "blob.sh: -B $bad needs a migrator with --on-row-error=quarantine" >&2; exit 2; }
    mig_extra=(--on-row-error=quarantine)
    json1_sql="$work/blob_json1_valid.sql"
    sed 's/^    .\$\.schema_version., 2);$/    '"'"'$.schema_version'"'"', 2) WHERE json_valid(data);/' \
        "$here/blob_json1.sql" >"$json1_sql"
    grep -q 'WHERE json_valid(data);' "$json1_sql" || { echo "blob.sh: cannot derive $json1_sql" >&2; exit 1; }
fi

# Labels and commands, in the order of the table. RUN stands for the fresh copy of the DB.
labels=(floor json1)
names=("write floor (precomputed UPDATE)" "SQLite JSON1, one UPDATE")
if (( has_workers )); then
    labels+=(migrator_w1 migrator)
    names+=("migrator up --workers 1" "migrator up (default workers)")
else
    labels+=(migrator)
    names+=("migrator up (default)")
fi
# The rehearsal (issue: dry runs cost at most 1.3x the real run): snapshot + the same run on
# the copy, with and without JSON Schema validation of every migrated value. The snapshot
# goes to the work directory, the same disk as the DB.
if grep -q -- '--dry-run' <<<"$("$mig" up --help 2>&1)"; then
    labels+=(rehearse rehearse_nv)
    names+=("migrator up --dry-run (validates)" "migrator up --dry-run, no validation")
fi
command_for() {  # label db side_file -> the command line, one word per line
    case "$1" in
        floor) printf '%s\n' "$floor" "$2" "$3" ;;
        json1) printf '%s\n' "$sqlite" "$2" ".read $json1_sql" ;;
        migrator_w1) printf '%s\n' "$mig" -q --db "$2" --plugins "$plugins" --workers 1 "${mig_extra[@]}" up ;;
        migrator) printf '%s\n' "$mig" -q --db "$2" --plugins "$plugins" "${mig_extra[@]}" up ;;
        rehearse) printf '%s\n' "$mig" -q --db "$2" --plugins "$plugins" "${mig_extra[@]}" up --dry-run --scratch "$work" ;;
        rehearse_nv) printf '%s\n' "$mig" -q --db "$2" --plugins "$plugins" "${mig_extra[@]}" up --dry-run --scratch "$work" --json-schemas none ;;
    esac
}
fresh_copy() {  # src dst: a fresh, synced copy with no sidecar files (untimed)
    rm -rf "$2" "$2"-journal "$2"-wal "$2"-shm "$2".migrator-lock "$2".plugin-cache "$2".plugin-archive
    cp "$1" "$2"
    sync "$2"
}
stat_of() {  # "median min" of the numbers given
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "%s %s\n", (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2), v[1]}'
}

genstamp="$(cat "$here/message_gen.hpp" "$here/gen_messages.cpp" | sha256sum | cut -c1-12)"
for n in $ns; do
    tag="n$n-s$seed-b$bad-$genstamp"
    base="$work/base-$tag.db" ref="$work/ref-$tag.db" side="$work/side-$tag.bin" run="$work/run.db"
    # The DB at 0004_task_status_check with N v1 rows, made once per (N, seed, bad, generator).
    if [[ ! -f "$base" ]]; then
        rm -rf "$base".tmp*
        "$mig" -q --db "$base.tmp" --plugins "$plugins" up --to 0004_task_status_check >/dev/null
        "$gen" "$base.tmp" "$n" --seed "$seed" --bad-fraction "$bad" | tee "$base.summary"
        "$sqlite" "$base.tmp" "VACUUM"
        rm -rf "$base".tmp.*
        mv "$base.tmp" "$base"
    fi
    # The precomputed v2 values: migrator's own output (untimed), dumped for the floor.
    if [[ ! -f "$side" || ! -f "$ref" ]]; then
        fresh_copy "$base" "$ref"
        "$mig" -q --db "$ref" --plugins "$plugins" "${mig_extra[@]}" up >/dev/null
        "$mig" -q --db "$ref" --plugins "$plugins" verify >/dev/null
        "$floor" dump "$ref" "$side.tmp" >/dev/null
        mv "$side.tmp" "$side"
    fi

    declare -A wall=() cpu=() exact=()
    k=${#labels[@]}
    for ((r = 0; r < reps; ++r)); do
        for ((j = 0; j < k; ++j)); do
            label="${labels[(j + r) % k]}"
            fresh_copy "$base" "$run"
            mapfile -t cmd < <(command_for "$label" "$run" "$side")
            read -r _ ms _ _ _ cms _ < <("$timeit" 1 0 "$label" "${cmd[@]}")
            wall[$label]+=" $ms"
            cpu[$label]+=" $cms"
            if [[ "$label" == rehearse* ]]; then
                exact[$label]="(dry run: DB untouched)"
            elif [[ -z "${exact[$label]:-}" ]]; then
                # Once per way: how many rows hold exactly migrator's v2 bytes.
                exact[$label]="$("$sqlite" "$run" "ATTACH '$ref' AS ref;
                    SELECT printf('%.1f%%', 100.0 * sum(a.data IS b.data) / count(*))
                    FROM main.saved_agent_message a JOIN ref.saved_agent_message b USING (id);")"
            fi
        done
    done

    rows="$("$sqlite" "$base" "SELECT count(*) FROM saved_agent_message")"
    mb="$("$sqlite" "$base" "SELECT printf('%.0f', sum(length(CAST(data AS BLOB))) / 1e6) FROM saved_agent_message")"
    dbmb="$(( $(stat -c %s "$base") / 1000000 ))"
    printf "\nN = %s rows (%s MB of JSON, DB file %s MB), seed %s, bad fraction %s; %s repetitions, interleaved,\n" \
        "$rows" "$mb" "$dbmb" "$seed" "$bad" "$reps"
    printf "a fresh copy of the DB before each run (not timed). Wall and CPU (user+sys) time per process.\n\n"
    read -r fmed fmin < <(stat_of ${wall[floor]})
    read -r fcpu _ < <(stat_of ${cpu[floor]})
    printf "%-36s | %9s %9s | %8s %8s | %9s %7s | %s\n" "way" "median" "min" "x floor" "(min)" "CPU med" "x floor" "rows = migrator's bytes"
    printf -- "-------------------------------------+---------------------+-------------------+-------------------+------------------------\n"
    for ((i = 0; i < k; ++i)); do
        label="${labels[i]}"
        read -r med min < <(stat_of ${wall[$label]})
        read -r cmed _ < <(stat_of ${cpu[$label]})
        printf "%-36s | %7.2f s %7.2f s | %7.2fx %7.2fx | %7.2f s %6.2fx | %s\n" "${names[i]}" \
            "$(bc -l <<<"$med / 1000")" "$(bc -l <<<"$min / 1000")" "$(bc -l <<<"$med / $fmed")" \
            "$(bc -l <<<"$min / $fmin")" "$(bc -l <<<"$cmed / 1000")" "$(bc -l <<<"$cmed / $fcpu")" "${exact[$label]}"
    done
    printf "\nper run, in order of repetition (wall s / CPU s):\n"
    for ((i = 0; i < k; ++i)); do
        label="${labels[i]}"
        read -ra ws <<<"${wall[$label]}"
        read -ra cs <<<"${cpu[$label]}"
        line=""
        for ((x = 0; x < ${#ws[@]}; ++x)); do
            line+="$(printf " %6.2f/%-6.2f" "$(bc -l <<<"${ws[x]} / 1000")" "$(bc -l <<<"${cs[x]} / 1000")")"
        done
        printf "  %-36s%s\n" "${names[i]}" "$line"
    done
    unset wall cpu exact
done
rm -rf "$work/run.db" "$work/run.db"-journal "$work/run.db".migrator-lock "$work/run.db".plugin-cache "$work/run.db".plugin-archive
