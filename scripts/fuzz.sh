#!/usr/bin/env bash
# fuzz.sh - build the segment fuzzer and run it for a while.
#
#   scripts/fuzz.sh [--build BUILD] [--seconds N] [--out DIR] [-- libFuzzer options...]
#
# Builds fuzz/fuzz_segment.c with clang -fsanitize=fuzzer,address,undefined
# straight from the library's sources (those BUILD/xshm-sources.txt lists,
# written when CMake configures BUILD, default build/linux-x64), and
# fuzz/make_corpus.c, which writes the seed inputs. Runs the fuzzer for N
# seconds (default 20) on a working corpus in DIR/corpus (default DIR:
# BUILD/fuzz), which starts
# as a copy of fuzz/corpus plus fresh seeds and keeps what earlier runs
# found (minimised with libFuzzer's -merge past 4000 inputs). Prints the
# executions, executions per second and the result; exits non-zero on a
# crash, a sanitizer report, a failed check or a timeout, and keeps the input
# that caused it in DIR/crashes/: replay it with DIR/fuzz_segment FILE
# (FUZZ_TRACE=1 prints each operation). FUZZ_STRICT=1 adds two checks
# (fuzz/fuzz_segment.c says which); strict runs usually fail within minutes
# on one known case, a slot claim set back by a hostile peer, described
# there; `-- -fork=1 -ignore_crashes=1` goes on past failures and lists at
# the end the inputs it kept. Every later run replays the kept inputs first and
# fails while one still fails; delete it once fixed.
# The last line is "fuzz: ok: ...", "fuzz: FAILED ..." or, without clang
# (exit status 77), "SKIPPED: ...".
#
#   ctest --preset linux-x64 -L fuzz # the short run (CTest test fuzz_short)
#   scripts/fuzz.sh --seconds 3600   # a long run
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=20
build=$root/build/linux-x64
out=
extra=()

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=${2:-}; shift 2 ;;
        --seconds=*) seconds=${1#*=}; shift ;;
        --build) build=${2:-}; shift 2 ;;
        --build=*) build=${1#*=}; shift ;;
        --out) out=${2:-}; shift 2 ;;
        --out=*) out=${1#*=}; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) usage; exit 0 ;;
        *) echo "fuzz.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case $seconds in ''|*[!0-9]*|0) echo "fuzz.sh: --seconds needs a positive number" >&2; exit 2 ;; esac
[ -n "$out" ] || out=$build/fuzz

cc=
for c in clang clang-14; do
    if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
done
[ -n "$cc" ] || { echo "SKIPPED: clang is not installed (scripts/bootstrap.sh installs it)"; exit 77; }
[ -s "$build/xshm-sources.txt" ] ||
    { echo "fuzz: FAILED: no $build/xshm-sources.txt: configure it first (cmake --preset linux-x64)"; exit 1; }

mkdir -p "$out/corpus" "$out/crashes"
mapfile -t lib <"$build/xshm-sources.txt"
inc=(-I"$root/include" -I"$root/src" -I"$root/src/platform")
warn=(-Wall -Wextra -Wshadow -Wstrict-prototypes)
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

t0=$SECONDS
if ! "$cc" -g -O1 -fsanitize=fuzzer "${san[@]}" "${warn[@]}" "${inc[@]}" \
        "$root/fuzz/fuzz_segment.c" "${lib[@]}" -lpthread -lrt \
        -o "$out/fuzz_segment" >"$out/build.log" 2>&1; then
    cat "$out/build.log"
    echo "fuzz: FAILED to build fuzz_segment (is libclang-rt-14-dev installed?)"
    exit 1
fi
if ! "$cc" -g -O1 "${san[@]}" "${warn[@]}" "${inc[@]}" -I"$root/fuzz" \
        "$root/fuzz/make_corpus.c" "${lib[@]}" -lpthread -lrt \
        -o "$out/make_corpus" >>"$out/build.log" 2>&1; then
    cat "$out/build.log"
    echo "fuzz: FAILED to build make_corpus"
    exit 1
fi
if [ -s "$out/build.log" ]; then cat "$out/build.log"; fi
echo "fuzz: built $out/fuzz_segment with $cc in $((SECONDS - t0)) s"

# The working corpus: the committed seeds, fresh ones, and earlier finds.
cp -p "$root"/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
if ! "$out/make_corpus" "$out/corpus" >"$out/make_corpus.log" 2>&1; then
    cat "$out/make_corpus.log"
    echo "fuzz: FAILED: a seed input fails the target (make_corpus ran each one)"
    exit 1
fi
# Inputs that failed in earlier runs must pass before anything else.
mapfile -t kept < <(find "$out/crashes" -type f \( -name 'crash-*' -o -name 'timeout-*' \) | sort)
if [ ${#kept[@]} -gt 0 ]; then
    if "$out/fuzz_segment" -timeout=10 "${kept[@]}" >"$out/replay.log" 2>&1; then
        echo "fuzz: the ${#kept[@]} input(s) kept in $out/crashes from earlier failures pass now"
    else
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_segment: check failed|.*runtime error|Running:)' \
            "$out/replay.log" | tail -n 6 | sed 's/^/   /'
        echo "fuzz: FAILED: an input kept from an earlier failure still fails (log: $out/replay.log;" \
             "delete it from $out/crashes once fixed)"
        exit 1
    fi
fi

before=$(find "$out/corpus" -type f | wc -l)
# Keep the working corpus small enough to load in a few seconds: past 4000
# inputs, keep only those that add coverage (libFuzzer's -merge).
if [ "$before" -gt 4000 ]; then
    rm -rf "$out/corpus.merged"
    mkdir -p "$out/corpus.merged"
    if "$out/fuzz_segment" -merge=1 -max_len=32768 -timeout=10 "$out/corpus.merged" "$out/corpus" \
            >"$out/merge.log" 2>&1; then
        rm -rf "$out/corpus"
        mv "$out/corpus.merged" "$out/corpus"
        n=$(find "$out/corpus" -type f | wc -l)
        echo "fuzz: corpus minimised from $before to $n inputs"
        before=$n
    else
        echo "fuzz: corpus minimisation failed (see $out/merge.log); going on with all $before inputs"
        rm -rf "$out/corpus.merged"
    fi
fi

# -timeout: one input taking longer is a hang; -max_len: room for a raw
# segment with a few 4-8 KiB rings; -use_value_profile: helps through the
# magic numbers and the size checks.
log=$out/fuzz.log
echo "fuzz: running for $seconds s on $out/corpus ($before inputs)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
t0=$SECONDS
touch "$out/.start"
"$out/fuzz_segment" -max_total_time="$seconds" -timeout=10 -max_len=32768 \
    -use_value_profile=1 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/" "${extra[@]}" "$out/corpus" >"$log" 2>&1 || rc=$?

stat() { sed -nE "s/^stat::$1: *([0-9]+).*/\1/p" "$log" | tail -n 1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
added=$(stat new_units_added)
rss=$(stat peak_rss_mb)
cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
after=$(find "$out/corpus" -type f | wc -l)
# With -fork=N (its jobs run in other processes) the figures come from the
# last progress line, and the inputs that failed are the files the run put
# into DIR/crashes.
fork_done=0
if [ -z "$execs" ] && grep -q '^INFO: exiting: ' "$log"; then
    last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -n 1)
    execs=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$last")
    rate=$(sed -nE 's/.* exec\/s ([0-9]+).*/\1/p' <<<"$last")
    mapfile -t found < <(find "$out/crashes" -type f -newer "$out/.start" | sort)
    fork_done=1
fi
summary="${execs:-?} executions in $((SECONDS - t0)) s (${rate:-?} exec/s), coverage ${cov:-?}, corpus $before -> $after inputs (+${added:-0} new), peak RSS ${rss:-?} MB"
if [ "$fork_done" = 1 ]; then
    if [ "$rc" -eq 0 ] && [ ${#found[@]} -eq 0 ]; then
        echo "fuzz: ok: $summary"
        exit 0
    fi
    for f in "${found[@]}"; do
        what=$("$out/fuzz_segment" -runs=1 "$f" 2>&1 |
               grep -m 1 -E 'fuzz_segment: check failed|==[0-9]+==ERROR|runtime error')
        echo "   ${what:-(passes when replayed)}: $f"
    done
    echo "   full log: $log"
    echo "fuzz: FAILED (exit $rc): $summary; ${#found[@]} input(s) kept in $out/crashes"
    exit 1
fi
if [ "$rc" -eq 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
    echo "fuzz: ok: $summary"
    exit 0
fi
# What went wrong, and the input that did it.
grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_segment: check failed|.*runtime error|ALARM|.*Test unit written)' "$log" |
    head -n 12 | sed 's/^/   /'
artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
echo "   full log: $log"
if [ -n "$artifact" ]; then
    echo "   replay: $out/fuzz_segment $artifact"
fi
echo "fuzz: FAILED (exit $rc): $summary${artifact:+; input kept in $artifact}"
exit 1
