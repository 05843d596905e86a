#!/usr/bin/env bash
# test-mixed.sh - a 32-bit and a 64-bit process on one xshm channel.
#
#   scripts/test-mixed.sh [options] [X64_DIR [X86_DIR [WIN_X64_DIR [WIN_X86_DIR]]]]
#
# Runs example_mixed_arch from two build folders against each other, in
# both directions: an x64 server with an x86 client, and an x86 server with
# an x64 client. Native Linux first (defaults build/linux-x64 and
# build/linux-x86), then Windows under Wine (defaults build/win-x64 and
# build/win-x86) when wine32 can run a 32-bit program; otherwise each
# Windows direction is reported as SKIPPED with the reason.
#
# Every direction runs two sessions with a fresh channel name each: a
# 64 KiB ring (messages up to 65520 bytes, one fills the ring) and a
# 128 KiB ring (messages of exactly 65536 bytes). Each session exchanges
# paced messages that must all arrive intact, then unpaced bursts of
# near-65536-byte messages that overwrite unread ones: only intact messages
# may arrive, and received + lost == sent (see examples/example_mixed_arch.c).
# Every process runs under `timeout 120`. First, tests/mixed/check-layout-
# asserts.sh checks that src/shm_ringbuffer.c asserts the offset of every
# field of the shared layout.
#
# Options:
#   --native, --windows    run only these parts (default: both)
#   --repeat N             run every direction N times (default 1)
#   --count N              paced messages each way per session (default 2000)
#   --burst N              burst messages each way per session (default 1000)
#
# Prints one line per direction (PASS / FAILED / SKIPPED; the logs of a
# failed run follow it) and ends with "N passed, N failed, N skipped".
# Exit status: 0 when nothing failed, 1 otherwise, 2 for bad arguments.
set -uo pipefail

usage() { sed -n '2,4p;23,28p' "$0" | sed 's/^# \{0,1\}//'; }

parts=
repeat=1 count=2000 burst=1000
dirs=()
while [ $# -gt 0 ]; do
    case $1 in
        --native) parts="$parts native"; shift ;;
        --windows) parts="$parts windows"; shift ;;
        --repeat|--count|--burst)
            case ${2:-} in ''|*[!0-9]*) echo "test-mixed.sh: $1 needs a number" >&2; exit 2 ;; esac
            case $1 in --repeat) repeat=$2 ;; --count) count=$2 ;; --burst) burst=$2 ;; esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "test-mixed.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        *) dirs+=("$1"); shift ;;
    esac
done
[ -n "$parts" ] || parts="native windows"
[ "$repeat" -ge 1 ] || { echo "test-mixed.sh: --repeat must be at least 1" >&2; exit 2; }
[ ${#dirs[@]} -le 4 ] || { echo "test-mixed.sh: at most 4 build folders" >&2; usage >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
x64=${dirs[0]:-build/linux-x64}
x86=${dirs[1]:-build/linux-x86}
wx64=${dirs[2]:-build/win-x64}
wx86=${dirs[3]:-build/win-x86}

cache=${XSHM_CACHE:-$HOME/.cache/xshm}
export WINEPREFIX=${WINEPREFIX:-$cache/wine} WINEDEBUG=${WINEDEBUG:--all}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xshm-mixed.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0 skipped=0
start=$SECONDS
nchan=0

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
failure() { echo "FAILED: $*"; failed=$((failed + 1)); }
skip() { echo "SKIPPED: $*"; skipped=$((skipped + 1)); }

# show_log NAME FILE: a log, indented, after a failure.
show_log() {
    echo "   --- $1:"
    sed 's/^/   | /' "$2"
}

# check_width WIDTH CMD...: the program says it is WIDTH-bit; else print why.
check_width() {
    local want=$1 out rc=0
    shift
    out=$(timeout 120 "$@" --version 2>&1) || rc=$?
    out=${out//$'\r'/} # Wine's console writes CRLF
    if [ "$rc" -ne 0 ]; then
        echo "'$* --version' failed ($rc): $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
        return 1
    fi
    if ! grep -q " $want-bit\$" <<<"$out"; then
        echo "'$*' is not a $want-bit program: $out"
        return 1
    fi
    return 0
}

# session RESULT_VAR SBITS CBITS RING -- SERVER_CMD... -- CLIENT_CMD...
# One server and one client on a fresh channel. Sets RESULT_VAR to a short
# description, or to the reason of the failure (and prints the logs).
session() {
    local __var=$1 sbits=$2 cbits=$3 ring=$4
    shift 5
    local server=() client=()
    while [ "$1" != -- ]; do server+=("$1"); shift; done
    shift
    client=("$@")
    nchan=$((nchan + 1))
    local chan="mixed-$$-$nchan-$RANDOM$RANDOM"
    local slog=$tmp/$chan.server.log clog=$tmp/$chan.client.log
    timeout 120 "${server[@]}" server "$chan" "$count" --ring "$ring" --burst "$burst" \
        --expect-peer-bits "$cbits" --wait 60 >"$slog" 2>&1 &
    local spid=$! src=0 crc=0
    timeout 120 "${client[@]}" "$chan" "$count" --burst "$burst" \
        --expect-peer-bits "$sbits" >"$clog" 2>&1 || crc=$?
    if [ "$crc" -ne 0 ]; then
        # The server may wait for a client that never comes: stop it soon.
        local k
        for k in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
        kill "$spid" 2>/dev/null
    fi
    wait "$spid" || src=$?
    sed -i 's/\r$//' "$slog" "$clog" # Wine's console writes CRLF
    local ssum csum
    ssum=$(sed -n 's/^server: summary //p' "$slog")
    csum=$(sed -n 's/^client: summary //p' "$clog")
    if [ "$src" -eq 0 ] && [ "$crc" -eq 0 ] && grep -q '^server: PASS' "$slog" &&
       grep -q '^client: PASS' "$clog" && [ -n "$ssum" ] && [ -n "$csum" ]; then
        # "burst_rx=N burst_lost=M" on each side: what it received of the
        # other side's burst.
        local srx slost crx clost max
        srx=$(sed -n 's/.*burst_rx=\([0-9]*\).*/\1/p' <<<"$ssum")
        slost=$(sed -n 's/.*burst_lost=\([0-9]*\).*/\1/p' <<<"$ssum")
        crx=$(sed -n 's/.*burst_rx=\([0-9]*\).*/\1/p' <<<"$csum")
        clost=$(sed -n 's/.*burst_lost=\([0-9]*\).*/\1/p' <<<"$csum")
        max=$(sed -n 's/.* largest=\([0-9]*\).*/\1/p' <<<"$ssum")
        printf -v "$__var" '%s' "ring $((ring / 1024)) KiB: $count paced each way intact (largest $max B); burst received+lost c->s $srx+$slost, s->c $crx+$clost"
        return 0
    fi
    # Each side's verdict ("server: FAIL: ..."), or its first error line.
    local why= side f line
    for side in server client; do
        f=$slog
        [ $side = server ] || f=$clog
        line=$(grep -m 1 "^$side: FAIL: " "$f" || grep -m 1 -i 'error' "$f")
        [ -z "$line" ] || why="${why:+$why; }$(cut -c1-200 <<<"$line")"
    done
    [ -n "$why" ] || why="server exit $src, client exit $crc"
    [ "$src" -ne 124 ] && [ "$crc" -ne 124 ] || why="$why (timed out after 120 s)"
    printf -v "$__var" 'ring %s KiB: %s' "$((ring / 1024))" "$why"
    show_log "server (${server[*]}), exit $src" "$slog"
    show_log "client (${client[*]}), exit $crc" "$clog"
    return 1
}

# direction NAME SBITS CBITS SERVER_CMD... -- CLIENT_CMD...: both ring sizes.
direction() {
    local name=$1 sbits=$2 cbits=$3
    shift 3
    local t0=$SECONDS r64 r128
    if session r64 "$sbits" "$cbits" 65536 -- "$@" &&
       session r128 "$sbits" "$cbits" 131072 -- "$@"; then
        pass "$name: $r64; $r128 ($((SECONDS - t0)) s)"
    else
        failure "$name: ${r128:-$r64}"
    fi
}

# both_directions LABEL DIR64 DIR32 PREFIX...: x64 server / x86 client and
# the reverse, each `repeat` times. PREFIX: e.g. wine, or nothing.
both_directions() {
    local label=$1 d64=$2 d32=$3
    shift 3
    local ext=
    [ $# -eq 0 ] || ext=.exe
    local b64=("$@" "$d64/example_mixed_arch$ext") b32=("$@" "$d32/example_mixed_arch$ext")
    local why run suffix
    if ! why=$(check_width 64 "${b64[@]}") || ! why=$(check_width 32 "${b32[@]}"); then
        for run in $(seq "$repeat"); do
            failure "mixed $label x64-server/x86-client: $why"
            failure "mixed $label x86-server/x64-client: $why"
        done
        return
    fi
    for run in $(seq "$repeat"); do
        suffix=
        [ "$repeat" -eq 1 ] || suffix=" [run $run/$repeat]"
        # session() sees "SERVER_CMD... -- CLIENT_CMD..." after its own arguments.
        direction "mixed $label x64-server/x86-client$suffix" 64 32 "${b64[@]}" -- "${b32[@]}"
        direction "mixed $label x86-server/x64-client$suffix" 32 64 "${b32[@]}" -- "${b64[@]}"
    done
}

# ---- 1. the layout asserts --------------------------------------------------

out=$("$root/tests/mixed/check-layout-asserts.sh" 2>&1)
if [ $? -eq 0 ]; then
    pass "mixed layout asserts: $(tail -n 1 <<<"$out")"
else
    failure "mixed layout asserts: src/shm_ringbuffer.c does not assert the whole shared layout"
    sed 's/^/   /' <<<"$out"
fi

# ---- 2. native: gcc -m64 against gcc -m32 ------------------------------------

case " $parts " in
*" native "*)
    missing=
    for d in "$x64" "$x86"; do
        [ -x "$d/example_mixed_arch" ] || missing="$missing $d/example_mixed_arch"
    done
    if [ -n "$missing" ]; then
        why="not built:$missing (build the example_mixed_arch target)"
        for run in $(seq "$repeat"); do
            failure "mixed linux-x64/linux-x86 x64-server/x86-client: $why"
            failure "mixed linux-x64/linux-x86 x86-server/x64-client: $why"
        done
    else
        both_directions "linux-x64/linux-x86" "$x64" "$x86"
    fi ;;
esac

# ---- 3. Windows under Wine: MinGW x64 against MinGW i686 ---------------------

# Why 32-bit Windows programs cannot run here (printed), or status 1 if they can.
wine32_missing() {
    if [ -x /usr/lib/wine/wine ]; then
        return 1
    fi
    if [ -s "$cache/wine32.status" ] && [ "$(head -n 1 "$cache/wine32.status")" != ok ]; then
        head -n 1 "$cache/wine32.status"
    else
        echo "wine32 is not installed"
    fi
}

case " $parts " in
*" windows "*)
    directions=(x64-server/x86-client x86-server/x64-client)
    reason=
    if ! command -v wine >/dev/null 2>&1; then
        reason="wine is not installed"
    elif [ ! -f "$wx64/example_mixed_arch.exe" ] || [ ! -f "$wx86/example_mixed_arch.exe" ]; then
        if reason=$(wine32_missing); then
            :
        else
            reason=
            for run in $(seq "$repeat"); do
                for d in "${directions[@]}"; do
                    failure "mixed win-x64/win-x86 $d: not built: $wx64/example_mixed_arch.exe or $wx86/example_mixed_arch.exe"
                done
            done
            directions=()
        fi
    else
        # Can Wine run a PE32 program? Ask the x86 example itself.
        prc=0
        probe=$(timeout 120 wine "$wx86/example_mixed_arch.exe" --version 2>&1) || prc=$?
        probe=${probe//$'\r'/}
        [ -n "$probe" ] || probe="no output, exit status $prc"
        if [ "$prc" -eq 0 ] && grep -q ' 32-bit$' <<<"$probe"; then
            reason=
        elif reason=$(wine32_missing); then
            reason="$reason (wine ran $wx86/example_mixed_arch.exe --version: $(head -n 1 <<<"$probe" | cut -c1-120))"
        else
            reason=
            for run in $(seq "$repeat"); do
                for d in "${directions[@]}"; do
                    failure "mixed win-x64/win-x86 $d: wine32 is installed but cannot run $wx86/example_mixed_arch.exe: $(head -n 2 <<<"$probe" | tr '\n' ' ')"
                done
            done
            directions=()
        fi
    fi
    if [ -n "$reason" ]; then
        for run in $(seq "$repeat"); do
            for d in "${directions[@]}"; do
                skip "mixed win-x64/win-x86 $d: $reason"
            done
        done
    elif [ ${#directions[@]} -gt 0 ]; then
        both_directions "win-x64/win-x86" "$wx64" "$wx86" wine
    fi ;;
esac

echo "== done in $((SECONDS - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
