#!/usr/bin/env bash
# bench/startup.sh: no-op start-up of `migrator up` (database already at head) with N plugins,
# timed as whole processes beside a floor process (open the DB, read the revision row) in the
# same run. See bench/README.md.
#
#   bench/startup.sh [-b BUILD_DIR] [-n "10 100 1000"] [-r REPS] [-w WORK_DIR]
#                    [-m LABEL=PATH_TO_MIGRATOR]...
#
# -m may be given several times to time several migrator binaries in the same run (e.g. a
# build before and after a change); default: migrator=BUILD_DIR/bin/migrator.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="$root/build-bench"
ns="10 100 1000"
reps=300
work=""
migrators=()
while getopts "b:n:r:w:m:" opt; do
    case "$opt" in
        b) build="$OPTARG" ;;
        n) ns="$OPTARG" ;;
        r) reps="$OPTARG" ;;
        w) work="$OPTARG" ;;
        m) migrators+=("$OPTARG") ;;
        *) sed -n '2,11p' "$0"; exit 2 ;;
    esac
done
[[ ${#migrators[@]} -eq 0 ]] && migrators=("migrator=$build/bin/migrator")
for m in "${migrators[@]}"; do
    [[ -x "${m#*=}" ]] || { echo "startup.sh: ${m#*=} is not built (ninja -C $build migrator)" >&2; exit 2; }
done
work="${work:-$build/bench-startup}"
umask 022
mkdir -p "$work/tools"
cc="${CC:-cc}"
api="$root/plugin_api/include"
map="$root/plugin_api/cmake/migrator_plugin.map"

# Tools: the timing driver and the floor.
"$cc" -std=c11 -O2 -Wall -Wextra -o "$work/tools/timeit" "$here/timeit.c"
"$cc" -std=c11 -O2 -Wall -Wextra -o "$work/tools/floor" "$here/floor.c" -lsqlite3

# Plugin pool: revisions r00001..rMAX, a linear chain, one real plugin file each, built once
# per template version (stamp) and reused across runs. Each dir plugins-N gets a copy of the
# first N.
max=0
for n in $ns; do (( n > max )) && max=$n; done
stamp="$(cat "$here/plugin_template.c" "$map" | sha256sum | cut -c1-16)"
pool="$work/pool-$stamp"
if [[ ! -f "$pool/.complete-$max" ]]; then
    mkdir -p "$pool"
    t0=$(date +%s.%N)
    export cc api map pool here
    seq 1 "$max" | xargs -P "${JOBS:-2}" -n 25 bash -c '
        set -e
        for i in "$@"; do
            rev=$(printf "r%05d" "$i")
            [[ -f "$pool/$rev.so" ]] && continue
            parent=""; (( i > 1 )) && parent=$(printf "r%05d" $((i - 1)))
            sum=$(printf "%s:%s" "$rev" "$parent" | cat - "$here/plugin_template.c" | sha256sum | cut -c1-64)
            "$cc" -std=c11 -O1 -fPIC -shared -fvisibility=hidden -I"$api" \
                -DBENCH_REV="\"$rev\"" -DBENCH_PARENT="\"$parent\"" -DBENCH_CHECKSUM="\"$sum\"" \
                -DBENCH_N="$i" -Wl,--version-script="$map" -Wl,--exclude-libs,ALL -Wl,-z,defs \
                -Wl,-z,now -o "$pool/$rev.so.tmp" "$here/plugin_template.c"
            mv "$pool/$rev.so.tmp" "$pool/$rev.so"
        done' _
    touch "$pool/.complete-$max"
    printf "generated %d plugins in %.1f s\n" "$max" "$(echo "$(date +%s.%N) - $t0" | bc)"
fi

for n in $ns; do
    dir="$work/plugins-$n"
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 755 "$dir"
    # file names like migrator_add_plugin's: <revision>-<12 hex of checksum>.so
    for i in $(seq 1 "$n"); do
        rev=$(printf "r%05d" "$i")
        cp "$pool/$rev.so" "$dir/$rev-$(printf %012x "$i").so"
    done
    chmod 755 "$dir"/*.so
    # Sealed like a shipped release (MANIFEST.json, host/manifest.h): start-up reads it every
    # time. Binaries without the `manifest` command ignore the file.
    for m in "${migrators[@]}"; do
        help="$("${m#*=}" --help 2>&1 || true)"
        if [[ $help == *$'\n  manifest '* ]]; then
            "${m#*=}" -q --plugins "$dir" manifest --release bench >/dev/null
            break
        fi
    done
done
# A plugin file changed less than 3 s ago is never served from a metadata cache (racy-clean
# rule, host/plugin_cache.h): wait so the timed runs see the steady state of a shipped app.
sleep 3.2

paths=()
printf "\n%-6s %-8s | %-40s | %-27s\n" "" "" "wall time (median, p90)" "CPU time user+sys (median)"
printf "%-6s %-8s | %9s %9s %9s %9s %6s | %8s %8s %7s\n" N binary "floor" "fl p90" "migrator" "mig p90" "ratio" "floor" "migrator" "ratio"
for n in $ns; do
    dir="$work/plugins-$n"
    args=()
    for m in "${migrators[@]}"; do
        label="${m%%=*}" bin="${m#*=}"
        db="$work/db-$n-$label.sqlite"
        rm -rf "$db" "$db".*
        "$bin" -q --db "$db" --plugins "$dir" up >/dev/null
        "$bin" -q --db "$db" --plugins "$dir" verify >/dev/null  # exit 0 only at head
        "$bin" -q --db "$db" --plugins "$dir" up >/dev/null      # the no-op being timed
        # Which path the timed no-op takes (binaries before the head verdict have one path).
        if "$bin" -v --db "$db" --plugins "$dir" up 2>&1 >/dev/null | grep -q "no plugin read"; then
            paths+=("$n $label: head verdict (no plugin read)")
        else
            paths+=("$n $label: full discovery")
        fi
        [[ ${#args[@]} -gt 0 ]] && args+=(:::)
        args+=("floor:$label" "$work/tools/floor" "$db" ::: "$label" "$bin" -q --db "$db" --plugins "$dir" up)
    done
    out="$("$work/tools/timeit" "$reps" 10 "${args[@]}")"
    for m in "${migrators[@]}"; do
        label="${m%%=*}"
        read -r _ fmed fp90 _ _ fcpu _ < <(grep "^floor:$label " <<<"$out")
        read -r _ mmed mp90 _ _ mcpu _ < <(grep "^$label " <<<"$out")
        printf "%-6s %-8s | %6.3f ms %6.3f ms %6.3f ms %6.3f ms %5.2fx | %5.3f ms %5.3f ms %6.2fx\n" \
            "$n" "$label" "$fmed" "$fp90" "$mmed" "$mp90" "$(echo "$mmed / $fmed" | bc -l)" \
            "$fcpu" "$mcpu" "$(echo "$mcpu / $fcpu" | bc -l)"
    done
done
printf "\npath of the timed no-op:\n"
printf "  %s\n" "${paths[@]}"
