#!/usr/bin/env bash
# bench.sh - run the xshm benchmark natively and under Wine, keep the results.
#
#   scripts/bench.sh [--quick] [--wait-idle SECONDS] [--out DIR]
#                    [--linux PATH] [--linux32 PATH] [--win PATH]
#
# Builds nothing: runs xshm_bench from earlier builds (scripts/test.sh or
# cmake --build --preset ...):
#   linux-x64  build/linux-x64/xshm_bench       (--linux PATH, or $XSHM_BENCH_LINUX)
#   linux-x86  build/linux-x86/xshm_bench       if present (--linux32 PATH, $XSHM_BENCH_LINUX32)
#   win-x64    build/win-x64/xshm_bench.exe     under wine, if present and wine is
#              installed (--win PATH, $XSHM_BENCH_WIN); xshm.dll must be beside it
# A missing linux-x64 binary is an error; the others are reported as skipped.
#
# Writes to bench-results/ (--out DIR), per target:
#   <target>.txt     the table as printed
#   <target>.json    every row (xshm_bench --json)
#   <target>-plot/   64 B round-trip samples, rtt_64B.gp and rtt_64B.png
#                    (the PNG needs gnuplot; for the Wine run it is drawn here)
# --quick passes --quick to the benchmark (about a quarter of the time).
# --wait-idle S waits (up to S seconds) before each run for 5 quiet seconds
# (less than 10% of one CPU busy), as other work disturbs the figures.
#
# The targets in the tables are printed as met / NOT met, never asserted: the
# exit status is non-zero only when a benchmark could not run or failed.
# The machine should be otherwise idle: after each run the CPU time other
# processes used meanwhile is printed and kept in <target>.txt (the machine's
# busy time less the run's own processes and wineserver), as the benchmark
# cannot see it from inside Wine.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/bench-results
quick=()
wait_idle=0
linux=${XSHM_BENCH_LINUX:-$root/build/linux-x64/xshm_bench}
linux32=${XSHM_BENCH_LINUX32:-$root/build/linux-x86/xshm_bench}
win=${XSHM_BENCH_WIN:-$root/build/win-x64/xshm_bench.exe}

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=(--quick); shift ;;
        --wait-idle) wait_idle=${2:?--wait-idle needs seconds}; shift 2 ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --linux) linux=${2:?--linux needs a path}; shift 2 ;;
        --linux32) linux32=${2:?--linux32 needs a path}; shift 2 ;;
        --win) win=${2:?--win needs a path}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
failed=0 ran=0
summary=()

load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?'; }

# proc_ticks PID...: CPU clock ticks (user + system) the processes used so far.
proc_ticks() {
    local pid sum=0 t
    for pid in "$@"; do
        t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || t=0
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}

# busy_ticks: busy and total clock ticks of all CPUs since boot.
busy_ticks() { awk '/^cpu / { print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }

# quiet: wait up to $wait_idle seconds for 5 s with < 10% of one CPU busy.
quiet() {
    [ "$wait_idle" -gt 0 ] 2>/dev/null || return 0
    local ncpu deadline=$((SECONDS + wait_idle)) b0 t0 b1 t1
    ncpu=$(nproc 2>/dev/null || echo 1)
    while [ $SECONDS -lt $deadline ]; do
        read -r b0 t0 < <(busy_ticks)
        sleep 5
        read -r b1 t1 < <(busy_ticks)
        # busy share of one CPU, in percent
        if [ $(( (b1 - b0) * 100 * ncpu / (t1 - t0 + 1) )) -lt 10 ]; then
            return 0
        fi
    done
    echo "bench.sh: the machine did not become idle within $wait_idle s; running anyway"
}

# plot DIR: draw the PNG from the samples unless the benchmark did.
plot() {
    local dir=$1
    [ -f "$dir/rtt_64B.gp" ] || return 0
    [ -f "$dir/rtt_64B.png" ] && return 0
    if command -v gnuplot >/dev/null 2>&1; then
        (cd "$dir" && gnuplot rtt_64B.gp) && echo "plot: $dir/rtt_64B.png"
    else
        echo "plot: gnuplot not installed: PNG skipped ($dir has the samples)"
    fi
}

# run TARGET COMMAND...: run one benchmark in $out, keep its table.
run() {
    local target=$1; shift
    quiet
    echo "== $target: $* (load average $(load))"
    rm -rf "${out:?}/$target-plot"
    local b0 t0 b1 t1 w0 w1 s0=$SECONDS own=""
    local timing; timing=$(mktemp)
    # Wine's own processes (wineserver, services, devices) work for the run.
    local winepat='wineserver(64)?|services\.exe|winedevice\.exe|plugplay\.exe|explorer\.exe|rpcss\.exe|svchost\.exe|conhost\.exe'
    local ws; ws=$(pgrep -x "$winepat" 2>/dev/null | tr '\n' ' ')
    read -r b0 t0 < <(busy_ticks)
    w0=$(proc_ticks $ws)
    if [ -x /usr/bin/time ]; then
        (cd "$out" && /usr/bin/time -f '%U %S' -o "$timing" timeout 1200 "$@" "${quick[@]}" \
            --json "$target.json" --plot "$target-plot") 2>&1 | tee "$out/$target.txt"
    else
        (cd "$out" && timeout 1200 "$@" "${quick[@]}" --json "$target.json" --plot "$target-plot") \
            2>&1 | tee "$out/$target.txt"
    fi
    local rc=${PIPESTATUS[0]}
    read -r b1 t1 < <(busy_ticks)
    w1=$(proc_ticks $ws)
    # Wine does not let the run reap the benchmark's child process: count the
    # CPU time the benchmark reports for it. (Natively it is in $own already.)
    local child=0
    if [ "$1" = wine ]; then
        child=$(awk '/^child .* used [0-9.]+ s of CPU/ { print $(NF - 3) }' "$out/$target.txt")
        child=${child:-0}
    fi
    [ -s "$timing" ] && own=$(awk 'NR == 1 && NF == 2 { print $1 + $2 }' "$timing")
    rm -f "$timing"
    if [ -n "$own" ] && [ $((SECONDS - s0)) -gt 0 ]; then
        local hz; hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
        # b and w are clock ticks of all CPUs; own and child are seconds. Wine's
        # processes may have started during the run (w0 = 0): then all their
        # time counts as ours. Approximate: another user of the same Wine
        # prefix would count as ours too.
        awk -v b="$((b1 - b0))" -v w="$((w1 - w0))" -v own="$own" -v child="$child" -v hz="$hz" \
            -v wall="$((SECONDS - s0))" 'BEGIN {
                other = (b / hz - own - child - (w > 0 ? w / hz : 0)) / wall * 100
                if (other < 0) other = 0
                note = (other > 10) ? " (figures may be disturbed)" : ""
                printf "== other processes used about %.0f%% of one CPU during this run%s\n",
                       other, note
            }' | tee -a "$out/$target.txt"
    fi
    ran=$((ran + 1))
    if [ "$rc" -ne 0 ]; then
        echo "== $target: FAILED (exit status $rc)"
        failed=$((failed + 1))
        summary+=("$target: FAILED (exit status $rc)")
        return
    fi
    plot "$out/$target-plot"
    summary+=("$target: $(grep -m1 '^targets met' "$out/$target.txt" || echo 'no summary line')")
}

if [ -x "$linux" ]; then
    run linux-x64 "$linux"
else
    echo "== linux-x64: FAILED: no benchmark at $linux (build it first, or pass --linux PATH)"
    summary+=("linux-x64: FAILED: $linux not found")
    failed=$((failed + 1))
fi

if [ -x "$linux32" ]; then
    run linux-x86 "$linux32"
else
    echo "== linux-x86: skipped (no $linux32)"
    summary+=("linux-x86: skipped (not built)")
fi

if [ ! -f "$win" ]; then
    echo "== win-x64: skipped (no $win)"
    summary+=("win-x64: skipped (not built)")
elif ! command -v wine >/dev/null 2>&1; then
    echo "== win-x64: skipped (wine is not installed)"
    summary+=("win-x64: skipped (no wine)")
else
    # The Wine prefix of scripts/test.sh, if it was made.
    cache=${XSHM_CACHE:-$HOME/.cache/xshm}
    if [ -z "${WINEPREFIX:-}" ] && [ -d "$cache/wine" ]; then
        export WINEPREFIX=$cache/wine
    fi
    export WINEDEBUG=${WINEDEBUG:--all}
    run win-x64 wine "$win"
fi

echo
echo "results in $out:"
for line in "${summary[@]}"; do
    echo "  $line"
done
[ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
