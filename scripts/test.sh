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
# Runs scripts/bootstrap.sh first, then configures and builds every target
# (all of them before any test runs: the mixed tests of a 64-bit tree use
# the 32-bit tree beside it), then runs each target's CTest preset. CTest
# runs every check, each with its label: the CMocka programs, soak_short and
# the stress pair (soak, stress), README.md's programs (readme), a 32-bit
# against a 64-bit process (mixed: linux-x64 with linux-x86, win-x64 with
# win-x86), the installed tree (install: linux-x64, win-x64), and in
# linux-x64 20 seconds of fuzzing (fuzz) and the test programs under
# valgrind (memcheck). Prints per target the CMocka summary of each test
# program, the interleaving explorer's lines, the reason of each skipped
# test and CTest's summary; the full output is kept in build/<target>/
# ctest.log (shown in full when a test fails). The last line is "N passed,
# N failed, N skipped" over the CTest tests of every target (a target that
# does not build: each of its tests failed; win-x86 without wine32: each
# skipped). The exit status is non-zero if anything failed.
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
        /^[0-9]+: (memcheck|fuzz): / {
            # the memcheck and fuzzing runs: their own summary line
            n = $0; sub(/:.*/, "", n)
            line = $0; sub(/^[0-9]+: /, "", line)
            out[n] = out[n] sprintf("   %-16s %s\n", name[n] ":", line)
        }
        /^[0-9]+: (=+ )?[0-9]+ (passed|failed)/ {
            # a language binding'"'"'s test runner (pytest, the C# runner): its summary
            n = $0; sub(/:.*/, "", n)
            if (name[n] !~ /_bindings$/) next
            line = $0; sub(/^[0-9]+: /, "", line)
            out[n] = out[n] sprintf("   %-16s %s\n", name[n] ":", line)
        }
        /^[0-9]+: \[==========\] [0-9]+ test\(s\) run\./ {
            n = $0; sub(/:.*/, "", n)
            if (name[n] !~ /^memcheck_/) summary[n] = 1
        }
        /^[0-9]+: \[  (PASSED|FAILED|SKIPPED) +\]/ {
            n = $0; sub(/:.*/, "", n)
            if (!summary[n]) next
            line = $0; sub(/^[0-9]+: /, "", line)
            out[n] = out[n] sprintf("   %-16s %s\n", name[n] ":", line)
        }
        END { for (i = 1; i <= count; i++) printf "%s", out[order[i]] }' "$log"
    # A skipped test (SKIP_RETURN_CODE) printed its reason: "SKIPPED: why".
    awk '/^ *Start +[0-9]+: / { sub(/^ *Start +/, ""); split($0, a, ": "); name[a[1]] = a[2] }
         /^[0-9]+: SKIPPED: / { n = $0; sub(/:.*/, "", n); line = $0; sub(/^[0-9]+: /, "", line)
                                printf "   %-16s %s\n", name[n] ":", line }' "$log"
    local k=0
    if grep -q 'tests passed, .* tests failed out of' "$log"; then
        grep -E '^ *[0-9]+/[0-9]+ Test +#|^[0-9]+% tests passed' "$log" | sed -E 's/^ */   /'
        n=$(sed -nE 's/.* tests failed out of ([0-9]+).*/\1/p' "$log" | tail -n 1)
        f=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed.*/\1/p' "$log" | tail -n 1)
        k=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#.*\*\*\*Skipped' "$log")
    else
        n=0 f=0
        [ "$rc" -ne 0 ] || rc=1
        echo "   CTest ran no tests"
    fi
    passed=$((passed + n - f - k))
    failed=$((failed + f))
    skipped=$((skipped + k))
    if [ "$rc" -ne 0 ]; then
        [ "$f" -gt 0 ] || failed=$((failed + 1))
        echo "   FAILED: full output of build/$t/ctest.log follows"
        cat "$log"
        echo "   (end of build/$t/ctest.log)"
    fi
}

# The mixed tests run against the 32-bit trees built in this run only.
XSHM_TEST_BUILT=$(for t in "${targets[@]}"; do [ "${built[$t]}" = 1 ] && echo "$t"; done | paste -sd, -)
export XSHM_TEST_BUILT

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

stop_wine

echo "== done in $((SECONDS - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
