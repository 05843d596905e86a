#!/usr/bin/env bash
# test.sh - build xshm for every target and run every test.
#
#   scripts/test.sh [--targets a,b,...] [-j N]
#
# Targets (CMakePresets.json, build folders build/<target>):
#   linux-x64       gcc, x86_64
#   linux-x64-asan  AddressSanitizer + UBSan, all tests
#   linux-x64-tsan  ThreadSanitizer, tests labelled platform, ring, events,
#                   ipc (the preset's filter; README.md, Targets)
#   linux-x86       gcc -m32, i386
#   linux-arm64     gcc-aarch64-linux-gnu, aarch64, tests under qemu-user
#   win-x64         MinGW-w64, tests under Wine
#   win-x86         MinGW-w64 i686, tests under wine32 when it is installed,
#                   otherwise each test is reported as SKIPPED with the reason
#
# Runs scripts/bootstrap.sh first. Prints per target the CMocka summary of
# each test program and CTest's summary; the full output is kept in
# build/<target>/ctest.log (shown in full when a test fails). CTest also runs
# soak_short (label soak: tests/soak.c, a two-process soak of a million
# messages) and README.md's programs (label readme). Then, when their
# targets were built: the mixed x86/x64 runs (scripts/test-mixed.sh:
# linux-x64 with linux-x86, win-x64 with win-x86) and the installed trees
# (scripts/test-install.sh: linux-x64, win-x64), each of their cases counted
# as one test; with linux-x64 among the targets, a 20-second fuzzing run
# (scripts/fuzz.sh --seconds 20) and the native test programs under
# valgrind's memcheck (scripts/valgrind.sh), one test each. The last line is
# "N passed, N failed, N skipped": the CTest tests of every target (a target
# that does not build: each of its tests failed; win-x86 without wine32:
# each skipped), plus those runs. The exit status is non-zero if anything
# failed.
set -uo pipefail

all_targets=(linux-x64 linux-x64-asan linux-x64-tsan linux-x86 linux-arm64 win-x64 win-x86)

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; echo "targets: ${all_targets[*]}"; }

targets=("${all_targets[@]}")
jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
    case $1 in
        --targets) IFS=, read -r -a targets <<<"${2:-}"; shift 2 ;;
        --targets=*) IFS=, read -r -a targets <<<"${1#*=}"; shift ;;
        -j) jobs=${2:-}; shift 2 ;;
        -j*) jobs=${1#-j}; shift ;;
        --jobs=*) jobs=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case $jobs in ''|*[!0-9]*|0) echo "test.sh: -j needs a positive number" >&2; exit 2 ;; esac
for t in "${targets[@]}"; do
    case " ${all_targets[*]} " in
        *" $t "*) ;;
        *) echo "test.sh: unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || { echo "test.sh: no targets" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

start=$SECONDS
"$root/scripts/bootstrap.sh" || { echo "test.sh: bootstrap failed"; exit 1; }

cache=${XSHM_CACHE:-$HOME/.cache/xshm}
export WINEPREFIX=$cache/wine WINEDEBUG=-all CMOCKA_MESSAGE_OUTPUT=stdout

passed=0 failed=0 skipped=0
declare -A built

# ---- build phase -----------------------------------------------------------

# ntests TARGET: number of tests CTest knows for the target's preset.
ntests() {
    ctest --preset "$1" -N 2>/dev/null | awk '/^Total Tests:/ { print $3; found = 1 } END { if (!found) print 0 }'
}

for t in "${targets[@]}"; do
    dir=build/$t
    mkdir -p "$dir"
    t0=$SECONDS
    if ! cmake --preset "$t" >"$dir/configure.log" 2>&1; then
        echo "== build $t: FAILED to configure (build/$t/configure.log):"
        cat "$dir/configure.log"
        built[$t]=0
        failed=$((failed + 1))
        continue
    fi
    if ! cmake --build --preset "$t" -j "$jobs" >"$dir/build.log" 2>&1; then
        echo "== build $t: FAILED; the first errors (all in build/$t/build.log):"
        grep -E 'error|undefined reference|multiple definition|No rule to make' "$dir/build.log" |
            head -n 40 | sed 's/^/   /'
        built[$t]=0
        n=$(ntests "$t")
        failed=$((failed + (n > 0 ? n : 1)))
        continue
    fi
    built[$t]=1
    echo "== build $t: ok ($((SECONDS - t0)) s)"
done

echo "== libraries"
for t in "${targets[@]}"; do
    [ "${built[$t]}" = 1 ] || continue
    dir=build/$t
    case $t in
        win-*) file "$dir/xshm.dll"
               echo "$dir/libxshm.dll.a $dir/libxshm_static.a" ;;
        linux-arm64)
               so=$dir/$(basename "$(readlink -f "$dir/libxshm.so")")
               file "$so"
               echo "$so $dir/libxshm_static.a" ;;
        *)     echo "$dir/$(basename "$(readlink -f "$dir/libxshm.so")") $dir/libxshm_static.a" ;;
    esac
done

# ---- test phase --------------------------------------------------------------

# TSan maps its shadow memory at fixed addresses; with a high mmap ASLR
# entropy (newer kernels) it aborts with "unexpected memory mapping". Then
# run the tests with ASLR disabled for the process tree.
tsan_wrapper=()
tsan_probe() {
    local probe=build/linux-x64-tsan/tsan-probe
    printf 'int main(void) { return 0; }\n' >"$probe.c"
    cc -fsanitize=thread "$probe.c" -o "$probe" >/dev/null 2>&1 || return 0
    if "$probe" >"$probe.log" 2>&1; then
        echo "   TSan runs with ASLR on"
    elif setarch "$(uname -m)" -R "$probe" >/dev/null 2>&1; then
        tsan_wrapper=(setarch "$(uname -m)" -R)
        echo "   TSan fails with ASLR on ($(head -c 120 "$probe.log" | tr '\n' ' ')); running under setarch -R"
    else
        echo "   TSan probe fails even with setarch -R: $(head -c 200 "$probe.log" | tr '\n' ' ')"
    fi
}

wine32_reason() {
    if [ -x /usr/lib/wine/wine ]; then
        return 1
    fi
    if [ -s "$cache/wine32.status" ] && [ "$(head -n 1 "$cache/wine32.status")" != ok ]; then
        head -n 1 "$cache/wine32.status"
    else
        echo "wine32 is not installed"
    fi
}

# One persistent wineserver for all test processes, so that they do not pay
# Wine's start-up each time. Then start Wine's own background processes
# (services.exe, explorer.exe, ...) with no output attached: started by the
# first test they would hold CTest's output pipe open, and CTest would wait
# for them until the test's timeout.
wine_state=down   # down, ours (we started it), shared (it was running)
start_wine() {
    [ "$wine_state" = down ] || return 0
    local rc=0
    wineserver -p >/dev/null 2>&1 || rc=$?
    case $rc in
        0) wine_state=ours ;;
        2) wine_state=shared ;;   # a wineserver already serves this prefix
        *) echo "   wineserver -p failed ($rc); the tests start their own" ; wine_state=shared ;;
    esac
    wine cmd /c exit </dev/null >/dev/null 2>&1 || true
}
stop_wine() {
    if [ "$wine_state" = ours ]; then
        wineserver -k >/dev/null 2>&1 || true
    fi
    wine_state=down
}
trap stop_wine EXIT

# run_tests TARGET: run CTest, print the summaries, count the results.
run_tests() {
    local t=$1 log=build/$1/ctest.log rc=0 n f
    local args=(--preset "$t" -V)
    case $t in
        win-*) ;;                        # Wine: the preset's -j1
        *) args+=(-j "$(( jobs < 2 ? jobs : 2 ))") ;;
    esac
    "${wrapper[@]}" ctest "${args[@]}" >"$log" 2>&1 || rc=$?
    # CMocka's closing summary of each test program, the lines after
    # "[==========] N test(s) run." (ctest -V prefixes each line of test
    # number N with "N: ").
    awk '
        /^ *Start +[0-9]+: / {
            sub(/^ *Start +/, ""); split($0, a, ": ")
            name[a[1]] = a[2]; order[++count] = a[1]
        }
        /^[0-9]+: explore / {
            # what the interleaving explorer covered, scenario by scenario
            n = $0; sub(/:.*/, "", n)
            line = $0; sub(/^[0-9]+: /, "", line)
            out[n] = out[n] sprintf("   %-16s %s\n", name[n] ":", line)
        }
        /^[0-9]+: \[==========\] [0-9]+ test\(s\) run\./ { n = $0; sub(/:.*/, "", n); summary[n] = 1 }
        /^[0-9]+: \[  (PASSED|FAILED|SKIPPED) +\]/ {
            n = $0; sub(/:.*/, "", n)
            if (!summary[n]) next
            line = $0; sub(/^[0-9]+: /, "", line)
            out[n] = out[n] sprintf("   %-16s %s\n", name[n] ":", line)
        }
        END { for (i = 1; i <= count; i++) printf "%s", out[order[i]] }' "$log"
    if grep -q 'tests passed, .* tests failed out of' "$log"; then
        grep -E '^ *[0-9]+/[0-9]+ Test +#|^[0-9]+% tests passed' "$log" | sed -E 's/^ */   /'
        n=$(sed -nE 's/.* tests failed out of ([0-9]+).*/\1/p' "$log" | tail -n 1)
        f=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed.*/\1/p' "$log" | tail -n 1)
    else
        n=0 f=0
        [ "$rc" -ne 0 ] || rc=1
        echo "   CTest ran no tests"
    fi
    passed=$((passed + n - f))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then
        [ "$f" -gt 0 ] || failed=$((failed + 1))
        echo "   FAILED: full output of build/$t/ctest.log follows"
        cat "$log"
        echo "   (end of build/$t/ctest.log)"
    fi
}

for t in "${targets[@]}"; do
    [ "${built[$t]}" = 1 ] || continue
    wrapper=()
    case $t in
        linux-x64-tsan)
            echo "== test $t (labels ring|events|platform|ipc)"
            tsan_probe
            wrapper=("${tsan_wrapper[@]}") ;;
        win-x86)
            echo "== test $t (Wine, 32-bit)"
            if reason=$(wine32_reason); then
                names=$(ctest --preset "$t" -N 2>/dev/null | sed -nE 's/^ *Test +#[0-9]+: +//p')
                for name in $names; do
                    echo "SKIPPED: $t/$name: $reason"
                    skipped=$((skipped + 1))
                done
                continue
            fi ;;
        win-*)
            echo "== test $t (Wine)" ;;
        linux-arm64)
            echo "== test $t (qemu-user)" ;;
        *)
            echo "== test $t" ;;
    esac
    case $t in win-*) start_wine ;; esac
    run_tests "$t"
done

# run_script TITLE LOG COMMAND...: run a test script, show its output
# indented (all of it is kept in LOG) and add its results to the totals: the
# counts of its last line when it is "N passed, N failed, N skipped",
# otherwise one test passed or failed by its exit status.
run_script() {
    local title=$1 log=$2 rc=0 sum p f k
    shift 2
    echo "== $title"
    "$@" >"$log" 2>&1 || rc=$?
    sed 's/^/   /' "$log"
    sum=$(tail -n 1 "$log" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p')
    if [ -n "$sum" ]; then
        read -r p f k <<<"$sum"
    elif [ "$rc" -eq 0 ]; then
        p=1 f=0 k=0
    else
        p=0 f=1 k=0
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
}

# ---- mixed x86/x64: a 32-bit and a 64-bit process on one channel ---------------
mixed_parts=()
if [ "${built[linux-x64]:-0}" = 1 ] && [ "${built[linux-x86]:-0}" = 1 ]; then mixed_parts+=(--native); fi
if [ "${built[win-x64]:-0}" = 1 ] && [ "${built[win-x86]:-0}" = 1 ]; then mixed_parts+=(--windows); fi
if [ ${#mixed_parts[@]} -gt 0 ]; then
    run_script "test mixed x86/x64 (scripts/test-mixed.sh ${mixed_parts[*]})" build/test-mixed.log \
        "$root/scripts/test-mixed.sh" "${mixed_parts[@]}"
fi

# ---- install: cmake --install, and programs built against the installed tree ----
inst_targets=()
for t in linux-x64 win-x64; do
    if [ "${built[$t]:-0}" = 1 ]; then inst_targets+=("$t"); fi
done
if [ ${#inst_targets[@]} -gt 0 ]; then
    inst_list=$(IFS=,; echo "${inst_targets[*]}")
    run_script "test install (scripts/test-install.sh --targets $inst_list)" build/test-install.log \
        "$root/scripts/test-install.sh" --targets "$inst_list" -j "$jobs"
fi
stop_wine

# ---- fuzzing and memcheck (native, with linux-x64 among the targets) -----------
case " ${targets[*]} " in
    *" linux-x64 "*)
        mkdir -p build/fuzz
        run_script "fuzz (scripts/fuzz.sh --seconds 20)" build/fuzz/test.log \
            "$root/scripts/fuzz.sh" --seconds 20
        if [ "${built[linux-x64]:-0}" = 1 ]; then
            run_script "valgrind (scripts/valgrind.sh)" build/linux-x64/valgrind.log \
                "$root/scripts/valgrind.sh"
        fi ;;
esac

echo "== done in $((SECONDS - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
