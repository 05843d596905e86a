#!/usr/bin/env bash
# pair.sh - one mixed_conformance server and one client on a channel, as a test.
#
#   pair.sh [--peer PRESET] SERVER CLIENT [EMULATOR...]
#   pair.sh --example [--peer PRESET] SERVER CLIENT [EMULATOR...]
#   pair.sh --layout [--peer PRESET] DUMP DUMP [EMULATOR...]
#
# Runs SERVER (a mixed_conformance program) as the server and CLIENT as the
# client, both under EMULATOR when given (wine), in two sessions with a fresh
# channel name each: a 64 KiB ring (messages up to 65520 bytes, one fills
# the ring) and a 128 KiB ring (messages of exactly 65536 bytes). Each
# session exchanges paced messages that must all arrive intact, then unpaced
# bursts that overwrite unread ones: only intact messages may arrive, and
# received + lost == sent (tests/mixed/mixed_conformance.c). Each side is
# told the other's width (from its --version) and checks it against the
# CONNECT event. XSHM_MIXED_COUNT and XSHM_MIXED_BURST (default 2000 and
# 1000) set the messages of each stream; every process runs under
# `timeout 120`.
#
# --example: SERVER and CLIENT are examples/example_mixed_arch, started as
# its comment says (`SERVER server CHANNEL`, `CLIENT CHANNEL 200`); both must
# exit 0.
#
# --layout: the two programs are tests/mixed/layout_dump of a 64-bit and a
# 32-bit build; their dumps of the shared layout must be the same, line for
# line.
#
# --peer PRESET names the build tree the other program comes from. The test
# is skipped (exit 77, with the reason) when that program is not built,
# when XSHM_TEST_BUILT (the presets scripts/test.sh built in this run,
# comma-separated) is set without PRESET, or when a 32-bit Windows program
# cannot run because wine32 is not installed.
set -uo pipefail

peer= example=0 layout=0
if [ "${1:-}" = --example ]; then example=1; shift; fi
if [ "${1:-}" = --layout ]; then layout=1; shift; fi
if [ "${1:-}" = --peer ]; then peer=$2; shift 2; fi
server=$1 client=$2
shift 2
emu=("$@")
count=${XSHM_MIXED_COUNT:-2000} burst=${XSHM_MIXED_BURST:-1000}

skip() { echo "SKIPPED: $*"; exit 77; }

if [ -n "$peer" ] && [ -n "${XSHM_TEST_BUILT:-}" ]; then
    case ",$XSHM_TEST_BUILT," in
        *",$peer,"*) ;;
        *) skip "$peer was not built in this run (scripts/test.sh --targets ...,$peer)" ;;
    esac
fi
for p in "$server" "$client"; do
    [ -f "$p" ] || skip "$p is not built (cmake --preset ${peer:-<preset>} && cmake --build --preset ${peer:-<preset>})"
done

# width PROGRAM: its pointer width, from --version; or why not.
width() {
    local out rc=0
    out=$(timeout 120 "${emu[@]}" "$1" --version 2>&1) || rc=$?
    out=${out//$'\r'/} # Wine's console writes CRLF
    if [ "$rc" -eq 0 ] && [[ $out =~ \ (32|64)-bit$ ]]; then
        echo "${BASH_REMATCH[1]}"
        return 0
    fi
    if [[ $1 == *.exe ]] && [ ! -x /usr/lib/wine/wine ] && [ "$(file -b "$1" | cut -c1-6)" = "PE32 e" ]; then
        skip "wine32 is not installed: a 32-bit Windows program cannot run ($1)"
    fi
    echo "FAILED: '$1 --version' exit $rc: $(head -n 3 <<<"$out" | tr '\n' ' ')"
    exit 1
}
sbits=$(width "$server") || { rc=$?; echo "$sbits"; exit $rc; }
cbits=$(width "$client") || { rc=$?; echo "$cbits"; exit $rc; }

if [ "$layout" = 1 ]; then
    [ "$sbits" != "$cbits" ] || { echo "FAILED: both programs are $sbits-bit"; exit 1; }
    a=$(timeout 120 "${emu[@]}" "$server") || { echo "FAILED: $server exit $?"; exit 1; }
    b=$(timeout 120 "${emu[@]}" "$client") || { echo "FAILED: $client exit $?"; exit 1; }
    a=${a//$'\r'/} b=${b//$'\r'/}
    if [ "$a" = "$b" ]; then
        echo "$sbits-bit $server"
        echo "$cbits-bit $client"
        echo "the same layout: $(wc -l <<<"$a") lines (structs and fields)"
        exit 0
    fi
    echo "FAILED: the $sbits-bit and the $cbits-bit build lay out shared memory differently:"
    diff <(echo "$a") <(echo "$b") | sed 's/^/  /'
    exit 1
fi
if [ "$example" = 1 ]; then
    chan="mixed-example-$$-$RANDOM" rc=0
    timeout 120 "${emu[@]}" "$server" server "$chan" &
    spid=$!
    timeout 120 "${emu[@]}" "$client" "$chan" 200 || rc=$?
    wait "$spid" || rc=$?
    exit "$rc"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xshm-mixed.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# session RING: one server and one client; prints the result, status 0 or 1.
session() {
    local ring=$1 chan="mixed-$$-$RANDOM$RANDOM" src=0 crc=0 k
    local slog=$tmp/$ring.server.log clog=$tmp/$ring.client.log
    timeout 120 "${emu[@]}" "$server" server "$chan" "$count" --ring "$ring" --burst "$burst" \
        --expect-peer-bits "$cbits" --wait 60 >"$slog" 2>&1 &
    local spid=$!
    timeout 120 "${emu[@]}" "$client" "$chan" "$count" --burst "$burst" \
        --expect-peer-bits "$sbits" >"$clog" 2>&1 || crc=$?
    if [ "$crc" -ne 0 ]; then
        # The server may wait for a client that never comes: stop it soon.
        for k in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
        kill "$spid" 2>/dev/null
    fi
    wait "$spid" || src=$?
    sed -i 's/\r$//' "$slog" "$clog"
    if [ "$src" -eq 0 ] && [ "$crc" -eq 0 ] && grep -q '^server: PASS' "$slog" &&
       grep -q '^client: PASS' "$clog"; then
        echo "ring $((ring / 1024)) KiB: $(sed -n 's/^server: summary //p' "$slog")"
        echo "    client: $(sed -n 's/^client: summary //p' "$clog")"
        return 0
    fi
    echo "ring $((ring / 1024)) KiB: FAILED (server exit $src, client exit $crc; 124: timed out)"
    echo "--- server ($server):"; sed 's/^/  | /' "$slog"
    echo "--- client ($client):"; sed 's/^/  | /' "$clog"
    return 1
}

echo "$sbits-bit server ${emu[*]} $server"
echo "$cbits-bit client ${emu[*]} $client"
session 65536 && session 131072
