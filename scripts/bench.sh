#!/usr/bin/env bash
# bench.sh - run the xshm benchmark natively and under Wine, keep the results.
#
#   scripts/bench.sh [--quick] [--wait-idle SECONDS] [--out DIR]
#                    [--linux PATH] [--linux32 PATH] [--win PATH]
#                    [--baseline REV [--rounds N]]
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
# After the linux-x64 run, when build/linux-x64 has them: pingpong (the
# same 64 B busy round trip through the public API alone) with the ratio of
# its median to the benchmark's row ("one truth": they should agree within
# 20%), and linebudget (the cache lines that round trip moves), kept in
# pingpong.txt and linebudget.txt.
# Then, when build/linux-x64 has the Python benchmark's C peer
# (xshm_echo_peer): a 64 B round trip from Python against a round
# trip from C, with the ratio (bindings/python/bench_roundtrip.py), kept in
# python.txt.
# --wait-idle S waits (up to S seconds) before each run for 5 quiet seconds
# (less than 10% of one CPU busy), as other work disturbs the figures.
#
# The targets in the tables are printed as met / NOT met, never asserted: the
# exit status is non-zero only when a benchmark could not run or failed.
# The machine should be otherwise idle: after each run the CPU time other
# processes used meanwhile is printed and kept in <target>.txt (the machine's
# busy time less the run's own processes and wineserver), as the benchmark
# cannot see it from inside Wine.
#
# --baseline REV: the cost of a change to the library, before and after in
# the same run, instead of the tables above (Linux x86_64 only). "after" is
# the library the linux-x64 benchmark was built with (beside it: usually the
# working tree's build); "before" is the library of git revision REV, built
# here into build/bench-baseline-<commit>/ from `git archive REV` with the
# linux-x64 preset (Release, -Werror), tests and examples off, and reused by
# later runs. The same xshm_bench --core (cache-line floor, 64 B busy round
# trip, one-way 64 B and 64 KiB) runs against each library through
# LD_LIBRARY_PATH, N rounds each (--rounds, default 5, 3 with --quick),
# interleaved B A A B B A ... so that drift during the run touches both
# alike. Every run names the library it loaded (path and GNU build id) and
# one that loaded another is an error. Printed and kept in baseline.txt:
# per library the median over the rounds (range in parentheses), and
# after/before with the range of the rounds' own ratios, which shows the
# noise; each run's table and JSON are in baseline/. --wait-idle applies
# before each round. Example:
#   scripts/bench.sh --baseline main --quick
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/bench-results
quick=()
wait_idle=0
linux=${XSHM_BENCH_LINUX:-$root/build/linux-x64/xshm_bench}
linux32=${XSHM_BENCH_LINUX32:-$root/build/linux-x86/xshm_bench}
win=${XSHM_BENCH_WIN:-$root/build/win-x64/xshm_bench.exe}
baseline=""
rounds=""

usage() { sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=(--quick); shift ;;
        --wait-idle) wait_idle=${2:?--wait-idle needs seconds}; shift 2 ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --linux) linux=${2:?--linux needs a path}; shift 2 ;;
        --linux32) linux32=${2:?--linux32 needs a path}; shift 2 ;;
        --win) win=${2:?--win needs a path}; shift 2 ;;
        --baseline) baseline=${2:?--baseline needs a git revision}; shift 2 ;;
        --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
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

# ---- --baseline: before / after -------------------------------------------------

# build_baseline REV: build REV's library; sets base_lib_dir and base_desc.
build_baseline() {
    local rev=$1 sha dir log
    sha=$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}") || {
        echo "bench.sh: '$rev' is not a git revision of $root" >&2
        return 1
    }
    dir=$root/build/bench-baseline-${sha:0:12}
    log=$dir/build.log
    base_desc="$rev = ${sha:0:12}"
    base_lib_dir=$dir/build
    if [ -f "$dir/.built" ] && [ -e "$base_lib_dir/libxshm.so.1" ]; then
        echo "== before: $base_desc, built earlier in $dir"
        return 0
    fi
    echo "== before: building $base_desc in $dir"
    rm -rf "$dir" && mkdir -p "$dir/src" || return 1
    if ! git -C "$root" archive "$sha" | tar -x -C "$dir/src"; then
        echo "bench.sh: git archive $sha failed" >&2
        return 1
    fi
    # The revision's own linux-x64 preset when it has one (-B overrides its
    # binaryDir), else the same settings by hand.
    local opts=(-DXSHM_BUILD_TESTS=OFF -DXSHM_BUILD_EXAMPLES=OFF)
    if grep -q '"name": *"linux-x64"' "$dir/src/CMakePresets.json" 2>/dev/null; then
        (cd "$dir/src" && cmake --preset linux-x64 -B "$base_lib_dir" "${opts[@]}") >"$log" 2>&1
    else
        cmake -S "$dir/src" -B "$base_lib_dir" -DCMAKE_BUILD_TYPE=Release -DXSHM_WERROR=ON \
            "${opts[@]}" >"$log" 2>&1
    fi && cmake --build "$base_lib_dir" -j 2 --target xshm >>"$log" 2>&1
    if [ $? -ne 0 ] || [ ! -e "$base_lib_dir/libxshm.so.1" ]; then
        tail -20 "$log"
        echo "bench.sh: the library of $base_desc did not build (log: $log)" >&2
        return 1
    fi
    touch "$dir/.built"
}

# jfield FILE KEY: a top-level string of xshm_bench's JSON.
jfield() { awk -v k="\"$2\": \"" 'index($0, k) == 3 { s = substr($0, length(k) + 3); sub(/",?$/, "", s); print s; exit }' "$1"; }
# jrow FILE ROW FIELD: a number of one row of xshm_bench's JSON ("null" if none).
jrow() {
    awk -v n="\"name\": \"$2\"" -v f="\"$3\": " 'index($0, n) {
            i = index($0, f); if (!i) exit
            v = substr($0, i + length(f)); sub(/[,}].*$/, "", v); print v; exit }' "$1"
}

# stats VALUES...: "median min max" of the numbers given ("-" when none).
stats() {
    printf '%s\n' "$@" | grep -E '^[0-9.eE+-]+$' | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "- - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            print m, v[1], v[NR] }'
}

compare() {
    local after_dir before_dir
    after_dir=$(cd "$(dirname "$linux")" && pwd -P)
    [ -n "$rounds" ] || { [ ${#quick[@]} -gt 0 ] && rounds=3 || rounds=5; }
    if ! [ "$rounds" -ge 1 ] 2>/dev/null; then
        echo "bench.sh: --rounds needs a positive number" >&2
        return 2
    fi
    if [ ! -x "$linux" ]; then
        echo "bench.sh: no benchmark at $linux (build the linux-x64 preset first, or pass --linux PATH)" >&2
        return 1
    fi
    if [ ! -e "$after_dir/libxshm.so.1" ]; then
        echo "bench.sh: no libxshm.so.1 beside $linux" >&2
        return 1
    fi
    build_baseline "$baseline" || return 1
    before_dir=$(cd "$base_lib_dir" && pwd -P)
    local bdir=$out/baseline
    rm -rf "$bdir" && mkdir -p "$bdir" || return 1
    echo "== after: the library beside $linux"
    echo "== $rounds rounds of xshm_bench --core ${quick[*]} against each, interleaved (load average $(load))"

    # per library (0 before, 1 after): one value per round
    local -a fl0=() fl1=() p500=() p501=() p990=() p991=() m0=() m1=() g0=() g1=() other=()
    local -a rt_ratio=() m_ratio=() g_ratio=()
    local lib_id0="" lib_id1="" lib_path0="" lib_path1="" failed_runs=0 order=""
    local r side dir tag json got
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.4f", a / b }'; }
    for ((r = 1; r <= rounds; r++)); do
        local sides=(0 1) cur_p50=(- -) cur_m=(- -) cur_g=(- -)
        quiet # --wait-idle: before each round, never between its two runs
        [ $((r % 2)) -eq 0 ] && sides=(1 0)
        for side in "${sides[@]}"; do
            if [ "$side" -eq 0 ]; then dir=$before_dir tag=before; else dir=$after_dir tag=after; fi
            order+="${tag:0:1}"
            json=$bdir/$tag-$r.json
            LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 600 "$linux" --core \
                "${quick[@]}" --json "$json" >"$bdir/$tag-$r.txt" 2>&1
            local rc=$?
            got=$(jfield "$json" library 2>/dev/null)
            if [ "$rc" -ne 0 ] || [ ! -s "$json" ]; then
                echo "   round $r $tag: FAILED (exit status $rc, see $bdir/$tag-$r.txt)"
                failed_runs=$((failed_runs + 1))
                continue
            fi
            if [ "$(cd "$(dirname "$got")" 2>/dev/null && pwd -P)" != "$dir" ]; then
                echo "   round $r $tag: FAILED: loaded $got, not the library in $dir"
                failed_runs=$((failed_runs + 1))
                continue
            fi
            local id; id=$(jfield "$json" library_build_id)
            if [ "$side" -eq 0 ]; then lib_id0=$id lib_path0=$got; else lib_id1=$id lib_path1=$got; fi
            local fl p50 p99 m g dist
            fl=$(jrow "$json" "cache-line ping-pong, round trip" median)
            p50=$(jrow "$json" "round trip 64 B, busy-poll" median)
            p99=$(jrow "$json" "round trip 64 B, busy-poll" p99)
            m=$(jrow "$json" "one-way 64 B messages" median)
            g=$(jrow "$json" "one-way 64 KiB messages" gb_per_s)
            dist=$(jfield "$json" disturbance | sed -n 's/^other processes used \([0-9]*\)%.*/\1/p')
            other+=("${dist:-0}")
            if [ "$side" -eq 0 ]; then
                fl0+=("$fl") p500+=("$p50") p990+=("$p99") m0+=("$m") g0+=("$g")
            else
                fl1+=("$fl") p501+=("$p50") p991+=("$p99") m1+=("$m") g1+=("$g")
            fi
            cur_p50[side]=$p50 cur_m[side]=$m cur_g[side]=$g
            printf '   round %d %-6s floor %5.0f ns, 64 B round trip %5.0f / %5.0f ns, 64 B %6.2f M/s, 64 KiB %6.2f GB/s; other processes %s%% of a CPU\n' \
                "$r" "$tag" "${fl/null/-1}" "${p50/null/-1}" "${p99/null/-1}" "${m/null/-1}" "${g/null/-1}" "${dist:-?}"
        done
        # the round's own ratios: its two runs came one after the other
        rt_ratio+=("$(ratio "${cur_p50[1]}" "${cur_p50[0]}")")
        m_ratio+=("$(ratio "${cur_m[1]}" "${cur_m[0]}")")
        g_ratio+=("$(ratio "${cur_g[1]}" "${cur_g[0]}")")
    done

    # line LABEL FORMAT RATIO-RANGE VALUES-BEFORE -- VALUES-AFTER
    table_line() {
        local label=$1 fmt=$2 rr=$3; shift 3
        local -a b=() a=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do b+=("$1"); shift; done
        shift
        a=("$@")
        read -r bm bl bh < <(stats "${b[@]}")
        read -r am al ah < <(stats "${a[@]}")
        awk -v l="$label" -v f="$fmt" -v bm="$bm" -v bl="$bl" -v bh="$bh" -v am="$am" \
            -v al="$al" -v ah="$ah" -v rr="$rr" 'BEGIN {
                if (bm == "-" || am == "-") { printf "  %-32s %s\n", l, "not measured"; exit }
                b = sprintf(f " (" f "-" f ")", bm, bl, bh)
                a = sprintf(f " (" f "-" f ")", am, al, ah)
                printf "  %-32s %-24s %-24s %5.2fx%s\n", l, b, a, am / bm, rr == "" ? "" : "  (rounds " rr ")"
            }'
    }
    range() { read -r _ lo hi < <(stats "$@"); [ "$lo" = - ] || printf '%.2f-%.2f' "$lo" "$hi"; }

    {
        echo
        echo "before / after, same run: $rounds rounds each, in the order $order${quick[*]:+ (quick)}"
        echo "  before  $base_desc: ${lib_path0:-?} (build id ${lib_id0:-?})"
        echo "  after   the benchmark's own build: ${lib_path1:-?} (build id ${lib_id1:-?})"
        [ -n "$lib_id0" ] && [ "$lib_id0" = "$lib_id1" ] &&
            echo "  (the two libraries have the same build id: the same code)"
        printf '  %-32s %-24s %-24s %s\n' "" "before" "after" "after/before"
        table_line "64 B one-way (M msg/s)" "%.2f" "$(range "${m_ratio[@]}")" "${m0[@]}" -- "${m1[@]}"
        table_line "64 B busy round trip p50 (ns)" "%.0f" "$(range "${rt_ratio[@]}")" "${p500[@]}" -- "${p501[@]}"
        table_line "64 B busy round trip p99 (ns)" "%.0f" "" "${p990[@]}" -- "${p991[@]}"
        table_line "64 KiB one-way (GB/s)" "%.2f" "$(range "${g_ratio[@]}")" "${g0[@]}" -- "${g1[@]}"
        table_line "cache-line floor p50 (ns)" "%.0f" "" "${fl0[@]}" -- "${fl1[@]}"
        echo "  medians over the rounds (range); more is better for M msg/s and GB/s, less for ns;"
        echo "  the floor is the machine's, not the library's: it should not move"
        read -r om ol oh < <(stats "${other[@]}")
        echo "  other processes used ${ol:-?}-${oh:-?}% of one CPU during the runs (median $om%)$(
            [ "${oh:-0}" -gt 10 ] 2>/dev/null && echo ': figures disturbed, compare with care')"
    } | tee "$out/baseline.txt"
    echo "results in $out/baseline.txt and $bdir/"
    [ "$failed_runs" -eq 0 ]
}

if [ -n "$baseline" ]; then
    compare
    exit $?
fi

if [ -x "$linux" ]; then
    run linux-x64 "$linux"
else
    echo "== linux-x64: FAILED: no benchmark at $linux (build it first, or pass --linux PATH)"
    summary+=("linux-x64: FAILED: $linux not found")
    failed=$((failed + 1))
fi

# One truth for the round trip: the benchmark's 64 B busy row beside
# pingpong's (bench/pingpong.c: the public API alone, two pinned processes,
# the median of every round trip of its run), with their ratio; then the
# cache-line budget of that round trip (bench/linebudget.c).
pingpong=$(dirname "$linux")/pingpong
linebudget=$(dirname "$linux")/linebudget
if [ -x "$pingpong" ] && [ -s "$out/linux-x64.json" ]; then
    echo "== pingpong (bench/pingpong.c), after the linux-x64 benchmark"
    quiet
    pp_seconds=3
    [ ${#quick[@]} -gt 0 ] && pp_seconds=1
    if timeout 300 "$pingpong" --seconds "$pp_seconds" >"$out/pingpong.txt" 2>&1; then
        pp=$(sed -n 's/^xshm 64 B busy round trip *median *\([0-9.]*\) ns.*/\1/p' "$out/pingpong.txt")
        pp_floor=$(sed -n 's/^cache-line ping-pong *median *\([0-9.]*\) ns.*/\1/p' "$out/pingpong.txt")
        bench_rt=$(jrow "$out/linux-x64.json" "round trip 64 B, busy-poll" median)
        bench_floor=$(jrow "$out/linux-x64.json" "cache-line ping-pong, round trip" median)
        {
            cat "$out/pingpong.txt"
            awk -v pp="$pp" -v pf="$pp_floor" -v b="$bench_rt" -v bf="$bench_floor" 'BEGIN {
                if (pp + 0 <= 0 || b + 0 <= 0) { print "one truth: not measured"; exit }
                printf "one truth: 64 B busy round trip %.0f ns (xshm_bench, %.2fx its floor of %.0f ns) and %.0f ns (pingpong, %.2fx its floor of %.0f ns): pingpong/xshm_bench %.2f, %s\n",
                    b, b / bf, bf, pp, pp / pf, pf, pp / b,
                    (pp / b >= 0.8 && pp / b <= 1.2) ? "within 20%" : "NOT within 20%"
            }'
        } | tee "$out/pingpong.txt.tmp" && mv "$out/pingpong.txt.tmp" "$out/pingpong.txt"
        summary+=("pingpong: $out/pingpong.txt")
    else
        cat "$out/pingpong.txt"
        summary+=("pingpong: FAILED ($out/pingpong.txt)")
        failed=$((failed + 1))
    fi
    if [ -x "$linebudget" ]; then
        "$linebudget" | tee "$out/linebudget.txt"
    fi
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

# The Python binding: a 64 B round trip from Python through a C echo peer,
# beside the same round trip pinged from C, with the ratio
# (bindings/python/bench_roundtrip.py), kept in python.txt.
peer=$(dirname "$linux")/xshm_echo_peer
lib=$(dirname "$linux")/libxshm.so
if ! command -v python3 >/dev/null 2>&1; then
    echo "== python: skipped (no python3)"
    summary+=("python: skipped (no python3)")
elif [ ! -x "$peer" ] || [ ! -e "$lib" ]; then
    echo "== python: skipped (no $peer or $lib: build linux-x64 with its tests)"
    summary+=("python: skipped (not built)")
else
    echo "== python (bindings/python/bench_roundtrip.py)"
    py_args=(--peer "$peer")
    py_args+=("${quick[@]}")
    [ "$wait_idle" -gt 0 ] && py_args+=(--wait-idle "$wait_idle")
    # blocking receives (the default configuration), then every side polling
    if { XSHM_LIBRARY=$lib python3 "$root/bindings/python/bench_roundtrip.py" "${py_args[@]}" &&
         echo &&
         XSHM_LIBRARY=$lib python3 "$root/bindings/python/bench_roundtrip.py" "${py_args[@]}" --busy
       } 2>&1 | tee "$out/python.txt"; then
        summary+=("python: $out/python.txt")
        ran=$((ran + 1))
    else
        summary+=("python: FAILED ($out/python.txt)")
        failed=$((failed + 1))
    fi
fi

echo
echo "results in $out:"
for line in "${summary[@]}"; do
    echo "  $line"
done
[ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
