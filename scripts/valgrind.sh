#!/usr/bin/env bash
# valgrind.sh - run the native test programs under valgrind's memcheck.
#
#   scripts/valgrind.sh [--quick] [--build DIR] [--only a,b,...]
#
# Runs each test program of DIR (default build/linux-x64, built by
# scripts/test.sh or `cmake --build --preset linux-x64`) under
#   valgrind --tool=memcheck --leak-check=full
#            --errors-for-leak-kinds=definite,indirect --error-exitcode=1
#            --trace-children=yes --fair-sched=yes
# and prints per program "no leaks, no errors" or what failed, with
# valgrind's first report. --trace-children: the helper processes the tests
# start (copies of themselves) are checked too. --fair-sched: the tests
# spin-wait for other threads, and valgrind's default thread lock can starve
# the thread being waited for (test_cplusplus then times out). Each process
# writes its log to DIR/valgrind/<program>.<pid>.log. Exits non-zero if any
# program failed, leaked or had a memcheck error.
#
# Programs (those that exist): test_platform test_events test_quickstart
# test_cplusplus test_reliability, soak with 20,000 messages, test_ring and
# the test_ipc_* programs. No test needs shortening: all of them take about
# 50 s on an idle 2-core machine (test_ipc_* 18 s, test_ring 16 s,
# test_reliability 6 s). --quick leaves out test_ring and test_ipc_*; --only
# runs the named programs.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build/linux-x64
quick=0
only=

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1; shift ;;
        --build) build=${2:-}; shift 2 ;;
        --build=*) build=${1#*=}; shift ;;
        --only) only=${2:-}; shift 2 ;;
        --only=*) only=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "valgrind.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

command -v valgrind >/dev/null 2>&1 ||
    { echo "valgrind: FAILED: valgrind is not installed (scripts/bootstrap.sh installs it)"; exit 1; }
[ -d "$build" ] || { echo "valgrind: FAILED: no build folder $build"; exit 1; }
build=$(cd "$build" && pwd)

# name|arguments|slow (slow: left out by --quick)
programs=(
    "test_platform||"
    "test_events||"
    "test_quickstart||"
    "test_cplusplus||"
    "test_reliability||"
    "soak|--messages 20000 --stall-every 2000|"
    "test_ring||slow"
    "test_ipc_api||slow"
    "test_ipc_connect||slow"
    "test_ipc_data||slow"
    "test_ipc_events||slow"
    "test_ipc_stats||slow"
    "test_ipc_crash||slow"
)

logdir=$build/valgrind
mkdir -p "$logdir"
export CMOCKA_MESSAGE_OUTPUT=stdout

passed=0 failed=0 skipped=()
start=$SECONDS
for entry in "${programs[@]}"; do
    IFS='|' read -r name args slow <<<"$entry"
    if [ -n "$only" ]; then
        case ",$only," in *",$name,"*) ;; *) continue ;; esac
    elif [ "$quick" = 1 ] && [ "$slow" = slow ]; then
        skipped+=("$name")
        continue
    fi
    exe=$build/$name
    [ -x "$exe" ] || continue
    rm -f "$logdir/$name".*.log "$logdir/$name.out"
    t0=$SECONDS
    rc=0
    # shellcheck disable=SC2086  # $args: several words
    (cd "$build" && valgrind --tool=memcheck --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
        --trace-children=yes --fair-sched=yes --vgdb=no --log-file="$logdir/$name.%p.log" \
        "$exe" $args) >"$logdir/$name.out" 2>&1 || rc=$?
    secs=$((SECONDS - t0))
    # Every process's summary: errors (leaks of the kinds above included).
    errors=$(cat "$logdir/$name".*.log 2>/dev/null |
             sed -nE 's/.*ERROR SUMMARY: ([0-9]+) errors.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    procs=$(ls "$logdir/$name".*.log 2>/dev/null | wc -l)
    leaks=$(cat "$logdir/$name".*.log 2>/dev/null |
            grep -E '(definitely|indirectly) lost: [1-9]' | head -n 2 | sed -E 's/^==[0-9]+== +//' | tr '\n' ';')
    if [ "$rc" -eq 0 ] && [ "$errors" -eq 0 ] && [ -z "$leaks" ]; then
        printf '   %-17s no leaks, no errors (%d s, %d process%s)\n' "$name:" "$secs" "$procs" \
            "$([ "$procs" = 1 ] && echo "" || echo "es")"
        passed=$((passed + 1))
    else
        what="exit status $rc"
        [ "$errors" -eq 0 ] || what="$what, $errors memcheck error(s)"
        [ -z "$leaks" ] || what="$what, leaks: $leaks"
        printf '   %-17s FAILED (%d s): %s\n' "$name:" "$secs" "$what"
        # The first report of each failing process, and the program's own words.
        for log in "$logdir/$name".*.log; do
            if grep -qE 'ERROR SUMMARY: [1-9]' "$log"; then
                grep -m 1 -A 12 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|[0-9,]+ bytes in)' "$log" |
                    sed 's/^/      /'
            fi
        done
        if [ "$rc" -ne 0 ] && [ "$errors" -eq 0 ]; then
            grep -E 'FAILED|FAIL|Error|error' "$logdir/$name.out" | head -n 8 | sed 's/^/      /'
        fi
        echo "      logs: $logdir/$name.*.log, output: $logdir/$name.out"
        failed=$((failed + 1))
    fi
done

note=
[ ${#skipped[@]} -eq 0 ] || note="; left out (--quick): ${skipped[*]}"
if [ $((passed + failed)) -eq 0 ]; then
    echo "valgrind: FAILED: no test program found in $build"
    exit 1
fi
if [ "$failed" -eq 0 ]; then
    echo "valgrind: ok: $passed program(s) with no leaks and no errors in $((SECONDS - start)) s$note"
    exit 0
fi
echo "valgrind: FAILED: $failed of $((passed + failed)) program(s)$note"
exit 1
