#!/usr/bin/env bash
# test-mixed.sh - a 32-bit and a 64-bit process on one xshm channel.
#
#   scripts/test-mixed.sh [--native] [--windows] [--repeat N] [--count N] [--burst N]
#
# Runs the CTest tests labelled mixed (tests/mixed/CMakeLists.txt) of
# build/linux-x64 (--native: against build/linux-x86) and of build/win-x64
# (--windows: against build/win-x86, under Wine; skipped with the reason
# without wine32); default both. Each pair runs tests/mixed/mixed_conformance
# in both directions, x64 server with x86 client and the reverse, in a
# 64 KiB and a 128 KiB ring: paced messages that must all arrive intact,
# then bursts that overwrite unread ones, received + lost == sent. Build the
# four presets first (scripts/test.sh does).
#
#   --repeat N   run every test N times, stopping at the first failure
#   --count N    paced messages each way per session (default 2000)
#   --burst N    burst messages each way per session (default 1000)
#
# Prints CTest's lines and ends with "N passed, N failed, N skipped"; exit
# status non-zero if a test failed.
set -uo pipefail

parts=() repeat=1
while [ $# -gt 0 ]; do
    case $1 in
        --native) parts+=(linux-x64); shift ;;
        --windows) parts+=(win-x64); shift ;;
        --repeat|--count|--burst)
            case ${2:-} in ''|*[!0-9]*) echo "test-mixed.sh: $1 needs a number" >&2; exit 2 ;; esac
            case $1 in
                --repeat) repeat=$2 ;;
                --count) export XSHM_MIXED_COUNT=$2 ;;
                --burst) export XSHM_MIXED_BURST=$2 ;;
            esac
            shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test-mixed.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ ${#parts[@]} -gt 0 ] || parts=(linux-x64 win-x64)
[ "$repeat" -ge 1 ] || { echo "test-mixed.sh: --repeat must be at least 1" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
cache=${XSHM_CACHE:-$HOME/.cache/xshm}
export WINEPREFIX=${WINEPREFIX:-$cache/wine} WINEDEBUG=${WINEDEBUG:--all}

passed=0 failed=0 skipped=0
for t in "${parts[@]}"; do
    echo "== $t (ctest --preset $t -L mixed)"
    log=build/$t/test-mixed.log
    if [ ! -f "build/$t/CTestTestfile.cmake" ]; then
        echo "FAILED: build/$t is not configured (cmake --preset $t && cmake --build --preset $t)"
        failed=$((failed + 1))
        continue
    fi
    ctest --preset "$t" -L mixed -V --repeat "until-fail:$repeat" >"$log" 2>&1
    grep -E '^ *[0-9]+/[0-9]+ Test +#|SKIPPED: |^[0-9]+% tests passed' "$log" | sed -E 's/^ */   /'
    grep -qE '\*\*\*(Failed|Timeout|Exception)|Errors while running' "$log" && sed 's/^/   | /' "$log"
    n=$(sed -nE 's/.* tests failed out of ([0-9]+).*/\1/p' "$log" | tail -n 1)
    f=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed.*/\1/p' "$log" | tail -n 1)
    k=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#.*\*\*\*Skipped' "$log")
    [ -n "$n" ] || { n=1 f=1; }
    passed=$((passed + n - f - k)) failed=$((failed + f)) skipped=$((skipped + k))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
