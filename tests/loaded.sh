#!/usr/bin/env bash
# loaded.sh - run a test several times while other processes keep every CPU
# busy, as one test.
#
#   loaded.sh RUNS COMMAND [ARG...]
#
# Starts one busy loop per CPU (nproc), runs COMMAND RUNS times in a row,
# stops the loops, and prints "loaded: N runs, N failed". Fails if any run
# failed; the output of every failed run is printed. The load makes the
# writer and the readers lose their CPU at arbitrary points, which is where
# a protocol's rare interleavings are (the soak of win-x86 failed about one
# run in ten so, before the ring's fixes).
set -u
runs=${1:?runs}
shift
burners=()
stop() { [ ${#burners[@]} -eq 0 ] || kill "${burners[@]}" 2>/dev/null; wait 2>/dev/null; }
trap stop EXIT
for _ in $(seq "$(nproc 2>/dev/null || echo 2)"); do
    (while :; do :; done) &
    burners+=($!)
done
failed=0
log=$(mktemp)
for k in $(seq "$runs"); do
    t0=$SECONDS
    if "$@" >"$log" 2>&1; then
        echo "loaded: run $k ok ($((SECONDS - t0)) s): $(tail -n 1 "$log")"
    else
        rc=$?
        failed=$((failed + 1))
        echo "loaded: run $k FAILED (exit $rc, $((SECONDS - t0)) s):"
        sed 's/^/    /' "$log"
    fi
done
rm -f "$log"
stop
burners=()
echo "loaded: $runs runs under load of $(nproc 2>/dev/null || echo 2) busy processes, $failed failed"
[ "$failed" -eq 0 ]
