#!/usr/bin/env bash
# demo.sh - build xshm for Linux x86_64 (Release, build/linux-x64) and run
# the programs that use it:
#   1. example_server in the background, then example_client against it;
#   2. zero_copy server in the background, then zero_copy client: messages
#      written and read in place (reserve/commit, receive_view/release);
#   3. request_reply: a server answering three client processes it starts,
#      each answered individually, each printing PASS when it got exactly
#      its own answers;
#   4. the stress pair: test_server in the background, then test_client;
#      then prints the reports they write, server_report.txt and test_log.txt.
# The programs run in build/linux-x64/demo/ (emptied first). A program that is
# not built (its source does not exist yet) is reported and skipped. Exits
# non-zero if a program fails, hangs or a report is missing.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

"$root/scripts/bootstrap.sh" || { echo "demo.sh: bootstrap failed"; exit 1; }

build=$root/build/linux-x64
mkdir -p "$build"
echo "== build linux-x64 (Release)"
if ! cmake --preset linux-x64 >"$build/configure.log" 2>&1; then
    cat "$build/configure.log"; echo "demo.sh: configure FAILED"; exit 1
fi
if ! cmake --build --preset linux-x64 -j "$(nproc)" >"$build/build.log" 2>&1; then
    cat "$build/build.log"; echo "demo.sh: build FAILED"; exit 1
fi
echo "   ok: $build/libxshm.so"

run=$build/demo
rm -rf "$run"
mkdir -p "$run"
failures=0
spid=
# Never leave a server behind, whatever happens.
trap '[ -z "$spid" ] || kill "$spid" 2>/dev/null' EXIT

# prefix NAME: indent a program's output under its name.
prefix() { sed "s/^/   $1| /"; }

# pair SERVER CLIENT: run SERVER in the background and CLIENT in the
# foreground in $run; both must exit with status 0. SERVER and CLIENT are a
# program's name, optionally followed by its arguments ("zero_copy server").
pair() {
    local sargs cargs server client sname=${1// /-} cname=${2// /-} rc crc t0 out
    read -r -a sargs <<<"$1"
    read -r -a cargs <<<"$2"
    server=${sargs[0]}
    client=${cargs[0]}
    for p in "$server" "$client"; do
        if [ ! -x "$build/$p" ]; then
            echo "   SKIPPED: $server + $client: $p is not built yet (no source file)"
            return 0
        fi
    done
    (cd "$run" && exec "$build/$server" "${sargs[@]:1}") >"$run/$sname.out" 2>&1 &
    spid=$!
    # The client retries the connection itself (about 500 ms); repeat while
    # it reports that the channel does not exist yet, for up to 10 s.
    t0=$SECONDS
    out=$run/$cname.out
    while :; do
        crc=0
        (cd "$run" && exec timeout 120 "$build/$client" "${cargs[@]:1}") >"$out" 2>&1 || crc=$?
        if [ "$crc" -ne 0 ] && [ $((SECONDS - t0)) -lt 10 ] && kill -0 "$spid" 2>/dev/null &&
           grep -qiE 'not found|no channel' "$out"; then
            continue
        fi
        break
    done
    prefix "$cname" <"$out"
    if [ "$crc" -ne 0 ]; then
        echo "   FAILED: $client exited with status $crc"
        failures=$((failures + 1))
    fi
    # Wait for the server, at most 60 s.
    if ! timeout 60 tail --pid="$spid" -f /dev/null; then
        kill "$spid" 2>/dev/null
        timeout 5 tail --pid="$spid" -f /dev/null || kill -KILL "$spid" 2>/dev/null
        echo "   FAILED: $server did not exit within 60 s after $client; killed"
        failures=$((failures + 1))
    fi
    rc=0
    wait "$spid" || rc=$?
    prefix "$sname" <"$run/$sname.out"
    if [ "$rc" -ne 0 ]; then
        echo "   FAILED: $server exited with status $rc"
        failures=$((failures + 1))
    fi
    spid=
    return 0
}

echo "== example_server + example_client (in $run)"
pair example_server example_client

echo "== zero_copy server + zero_copy client (in $run)"
pair "zero_copy server" "zero_copy client"

# solo PROGRAM: run PROGRAM (which starts its own peers) in $run; it must
# exit with status 0 within 120 s.
solo() {
    local prog=$1 rc=0
    if [ ! -x "$build/$prog" ]; then
        echo "   SKIPPED: $prog is not built yet (no source file)"
        return 0
    fi
    (cd "$run" && exec timeout 120 "$build/$prog") >"$run/$prog.out" 2>&1 || rc=$?
    prefix "$prog" <"$run/$prog.out"
    if [ "$rc" -ne 0 ]; then
        echo "   FAILED: $prog exited with status $rc"
        failures=$((failures + 1))
    fi
}

echo "== request_reply: one server, three clients, each answered alone (in $run)"
solo request_reply

echo "== stress pair test_server + test_client (in $run)"
pair test_server test_client
if [ -x "$build/test_server" ] && [ -x "$build/test_client" ]; then
    for report in server_report.txt test_log.txt; do
        if [ -f "$run/$report" ]; then
            echo "-- $report"
            cat "$run/$report"
        else
            echo "   FAILED: $report was not written"
            failures=$((failures + 1))
        fi
    done
fi

if [ "$failures" -ne 0 ]; then
    echo "demo: $failures failure(s)"
    exit 1
fi
echo "demo: ok"
