#!/usr/bin/env bash
# test_cli.sh - end-to-end test of the xshm command-line tool.
#
#   test_cli.sh XSHM SERVER [EMULATOR...]
#
# XSHM is the xshm program, SERVER the echo server of the examples
# (example_server NAME WAIT_SECONDS: it sends every message it receives back
# to every client, and exits once its clients have come and gone). With an
# EMULATOR (wine for Windows builds, qemu-user for a Linux build for another
# processor), both run under it. Windows programs (XSHM ends in .exe): then
# `list` must say it is unsupported, process ids are read from the programs'
# output, and the cases that handle /dev/shm objects directly are skipped.
#
# The server runs on a channel of its own; `xshm tail` is the long-lived
# client, `xshm send` a short one. Checked: usage errors (exit 2), unknown
# channel (exit 1), list / stat / stat --json / watch with a connected
# client, send delivered to the server (its echo comes back), tail --count 1,
# tail --timeout, Ctrl-C on tail (SIGINT to its process group, as from a
# terminal; under Wine it arrives as CTRL_C_EVENT), a channel whose server
# was killed, an invalid segment, access denied (as root: a second user
# through setpriv), and that list / stat / watch write nothing into a
# segment.
# Nothing sleeps in place of waiting: every wait polls its condition with a
# deadline. The JSON of stat --json and watch --json is checked with
# python3 (scripts/bootstrap.sh installs it): without it those checks fail.
# A check that cannot run on this platform prints "skip - WHAT (WHY)".
# Ends with "# N passed, N failed, N skipped"; exit status 0 when no check
# failed.
set -u

if [ $# -lt 2 ] || [ ! -f "$1" ] || [ ! -f "$2" ]; then
    echo "usage: test_cli.sh XSHM SERVER [EMULATOR...]" >&2
    exit 2
fi
XSHM=$1
SERVER=$2
shift 2
emu=("$@")
windows=0
case $XSHM in *.exe) windows=1 ;; esac

# xshm ARGS...: the program under test (under the emulator, if any).
xshm() { ${emu[@]+"${emu[@]}"} "$XSHM" "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xshm-cli.XXXXXX") || exit 1
name=clitest-$$-$RANDOM
stale=clistale-$$-$RANDOM
bad=clibad-$$-$RANDOM
pids=()
objects=()

tail_job=
cleanup() {
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    # the long-lived tail's process group (see below), whatever is left of it
    [ -z "$tail_job" ] || kill -9 -- "-$tail_job" 2>/dev/null
    for o in "${objects[@]}"; do
        rm -f "/dev/shm/xshm.$o"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

npass=0
nfail=0
nskip=0
pass() { npass=$((npass + 1)); echo "ok   - $*"; }
bad() {
    nfail=$((nfail + 1))
    echo "FAIL - $*"
}
# skip WHAT WHY: a check that does not apply here, said by name with the reason.
skip() {
    nskip=$((nskip + 1))
    echo "skip - $1 ($2)"
}
summary() { echo "# $npass passed, $nfail failed, $nskip skipped"; }
# have_python WHAT: python3 is there to check WHAT; otherwise WHAT fails.
have_python() {
    command -v python3 >/dev/null 2>&1 && return 0
    bad "$1: python3 is missing (scripts/bootstrap.sh installs it)"
    return 1
}
# show FILE: the file, indented, after a failure
show() { sed 's/^/       | /' "$1"; }

# unix FILE...: drop the carriage returns of Windows text output (only of
# files no process writes any more).
unix() { [ "$windows" = 0 ] || sed -i 's/\r$//' "$@"; }

# run CMD...: run it; $rc is its exit status, $tmp/out and $tmp/err its output.
run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    unix "$tmp/out" "$tmp/err"
}

# check_rc WANT WHAT
check_rc() {
    if [ "$rc" -eq "$1" ]; then
        pass "$2 (exit $rc)"
    else
        bad "$2: exit $rc, expected $1"
        show "$tmp/out"
        show "$tmp/err"
    fi
}

# check_grep FILE REGEX WHAT: FILE has a line matching the extended REGEX.
check_grep() {
    if file_has "$1" "$2"; then
        pass "$3"
    else
        bad "$3: no line matching /$2/ in:"
        show "$1"
    fi
}

# wait_for SECONDS CMD...: poll CMD until it succeeds; false at the deadline.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || { "$@" >/dev/null 2>&1; return; }
        sleep 0.02
    done
}

# wait_exit SECONDS PID: wait for the background job PID to end; its exit
# status in $rc (124 if it is still running at the deadline).
wait_exit() {
    local deadline=$((SECONDS + $1))
    while kill -0 "$2" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            rc=124
            return 1
        fi
        sleep 0.02
    done
    wait "$2"
    rc=$?
    return 0
}

# list_has REGEX: `xshm list` has a line for our channel matching REGEX.
# (Output goes to files, never to a pipe: a program started under Wine may
# leave Wine's helper processes holding a pipe open.)
list_has() { xshm list >"$tmp/poll" 2>&1 && grep -E "^$name +" "$tmp/poll" | grep -Eq -- "$1"; }
# clients_are N: the channel has N clients connected (list, or stat where
# list is unsupported).
clients_are() {
    if [ "$windows" = 1 ]; then
        xshm stat "$name" >"$tmp/poll" 2>&1 && file_has "$tmp/poll" "^clients +$1 connected of 4\$"
    else
        list_has " ready +$1/4 "
    fi
}
# file_has FILE REGEX
file_has() { tr -d '\r' <"$1" | grep -Eq -- "$2"; }
# count_lines FILE REGEX
count_lines() { tr -d '\r' <"$1" | grep -Ec -- "$2"; }

echo "# xshm: $XSHM"
echo "# server: $SERVER"
echo "# channel: $name"

# ---- usage, help, version -------------------------------------------------

run xshm
check_rc 2 "no arguments is a usage error"
check_grep "$tmp/err" '^usage: xshm' "no arguments prints the usage"
run xshm --help
check_rc 0 "--help"
check_grep "$tmp/out" '^usage: xshm <command>' "--help prints the usage"
run xshm help tail
check_rc 0 "help tail"
check_grep "$tmp/out" 'real client' "tail's help says it is a real client"
run xshm watch --help
check_rc 0 "watch --help"
check_grep "$tmp/out" '^usage: xshm watch NAME' "watch --help prints watch's usage"
run xshm --version
check_rc 0 "--version"
check_grep "$tmp/out" '^xshm [0-9]+\.[0-9]+\.[0-9]+ \(library [0-9]+\.[0-9]+\.[0-9]+' \
    "--version names the tool's and the library's versions"
run xshm frobnicate
check_rc 2 "unknown command"
check_grep "$tmp/err" "unknown command 'frobnicate'" "unknown command is named"
run xshm stat
check_rc 2 "stat without NAME"
check_grep "$tmp/err" 'missing channel NAME' "missing NAME is explained"
run xshm stat 'no/slash'
check_rc 2 "invalid channel name"
check_grep "$tmp/err" "invalid channel name 'no/slash'" "invalid name is explained"
run xshm watch "$name" --interval soon
check_rc 2 "watch --interval with a non-number"
run xshm stat "$name" --hex
check_rc 2 "an option of another command"
run xshm tail "$name" --count 0
check_rc 2 "tail --count 0"
run xshm send "$name" ''
check_rc 2 "send of an empty message"
run xshm send "$name" --hex 'de a'
check_rc 2 "send --hex with an odd digit"
run xshm stat "$name" extra
check_rc 2 "stat with an extra argument"

# ---- a channel that does not exist -----------------------------------------

for cmd in stat watch send tail; do
    case $cmd in
        send) run xshm send "$name" hello ;;
        watch) run xshm watch "$name" --count 1 --interval 10 ;;
        *) run xshm "$cmd" "$name" ;;
    esac
    check_rc 1 "$cmd of an unknown channel"
    check_grep "$tmp/err" "no channel named $name\$" "$cmd says: no channel named $name"
done

# ---- server and a long-lived client ------------------------------------------

${emu[@]+"${emu[@]}"} "$SERVER" "$name" 60 >"$tmp/server.log" 2>&1 &
server_job=$!
pids+=("$server_job")
objects+=("$name")
if wait_for 20 xshm stat "$name"; then
    pass "the server's channel appears"
else
    bad "the server's channel did not appear within 20 s"
    show "$tmp/server.log"
    summary
    exit 1
fi
# The server's process id as the OS of the program knows it (under Wine, a
# Windows process id: not the job's).
xshm stat "$name" >"$tmp/poll" 2>&1
server_pid=$(sed -nE 's/^server +pid ([0-9]+),.*/\1/p' "$tmp/poll")
if [ "$windows" = 1 ]; then
    skip "stat names the server's pid" "a Windows process id, which the script cannot know"
elif [ "$server_pid" = "$server_job" ]; then
    pass "stat names the server's pid ($server_pid)"
else
    bad "stat names server pid '$server_pid', the server is $server_job"
fi

if [ "$windows" = 1 ]; then
    run xshm list
    check_rc 2 "list on Windows"
    check_grep "$tmp/err" 'not supported on Windows.*use xshm stat NAME' "list explains it is unsupported"
elif wait_for 5 list_has ' ready +0/4 '; then
    pass "list shows the channel ready, 0 of 4 clients"
else
    bad "list does not show the channel ready with 0 of 4 clients"
    xshm list >"$tmp/list" 2>&1
    show "$tmp/list"
fi

# The long-lived tail runs as a process group of its own (job control on
# for this one start), so that Ctrl-C can be sent to it the way a terminal
# sends it: to the whole foreground process group. Under Wine the job's
# process may be a launcher rather than the program itself: the 32-bit
# loader runs a 64-bit program as a child of `start.exe /exec`, which
# ignores Ctrl-C (a child with a console would get it from the console; with
# Unix stdio nothing forwards it). The program stays in the job's group.
set -m
${emu[@]+"${emu[@]}"} "$XSHM" tail "$name" --timeout 60000 >"$tmp/a.out" 2>"$tmp/a.err" </dev/null &
tail_job=$!
set +m
pids+=("$tail_job")
if wait_for 20 clients_are 1; then
    pass "1 client once tail has connected"
else
    bad "the tail did not show up as a client"
    xshm stat "$name" >"$tmp/stat" 2>&1
    show "$tmp/stat"
    show "$tmp/a.err"
fi
# The tail says so once it has connected: a moment after its slot shows up
# (longer under an emulator).
wait_for 10 file_has "$tmp/a.err" 'connected to .* as a client \(pid [0-9]+\)'
tail_pid=$(tr -d '\r' <"$tmp/a.err" | sed -nE 's/.*connected to .* as a client \(pid ([0-9]+)\).*/\1/p')
if [ -n "$tail_pid" ] && { [ "$windows" = 1 ] || [ "$tail_pid" = "$tail_job" ]; }; then
    pass "tail reports its pid ($tail_pid)"
else
    bad "tail reports pid '$tail_pid' (job $tail_job)"
    show "$tmp/a.err"
fi
if [ "$windows" = 1 ]; then
    skip "tail's pid is its job's" "a Windows process id, which the script cannot know"
fi
owner=$(id -un)
if [ "$windows" = 0 ]; then
    run xshm list
    check_rc 0 "list"
    check_grep "$tmp/out" "^$name +$owner +ready +1/4 +4 MiB +$server_pid\$" \
        "list: owner $owner, ready, 1/4 clients, 4 MiB rings, server pid $server_pid"
else
    skip "list with one client" "list is not supported on Windows, as checked above"
fi

run xshm stat "$name"
check_rc 0 "stat"
check_grep "$tmp/out" '^state +ready$' "stat: state ready"
check_grep "$tmp/out" "^server +pid $server_pid, (32|64)-bit, alive\$" "stat: the server's identity"
check_grep "$tmp/out" '^generation +0x[0-9a-f]{16}$' "stat: the generation"
check_grep "$tmp/out" '^receive +blocking, timeout 200 ms$' "stat: the server's receive config"
check_grep "$tmp/out" '^clients +1 connected of 4$' "stat: 1 client connected"
check_grep "$tmp/out" "^ +0 +active +$tail_pid +(32|64) +yes +[0-9]+ +0 +0 +0 +0" \
    "stat: slot 0 active with the tail's pid, nothing received yet"

# ---- send: the server receives it (and echoes it to the tail) ---------------

run xshm send "$name" hello-cli
check_rc 0 "send TEXT"
check_grep "$tmp/out" "^sent 9 bytes to $name\$" "send reports what it sent"
if wait_for 10 file_has "$tmp/a.out" 'hello-cli$'; then
    pass "the server received the message (its echo reached the tail)"
else
    bad "no echo of the message sent"
    show "$tmp/a.out"
    show "$tmp/server.log"
fi
check_grep "$tmp/a.out" '^message 1: 9 bytes$' "tail: message number and size"
check_grep "$tmp/a.out" '^00000000: 6865 6c6c 6f2d 636c 69 +hello-cli$' "tail: hex and ASCII dump"

run xshm stat "$name"
check_grep "$tmp/out" '^  written +1 messages, 9 bytes' "stat: ring 0 shows 1 message written"
check_grep "$tmp/out" "^ +0 +active +$tail_pid +(32|64) +yes +[0-9]+ +0 +1 +0 +9" \
    "stat: the tail's slot received 1 message, 9 bytes"
check_grep "$tmp/out" '^ring 2: client slot 1 -> server$' "stat: the sender's ring (client slot 1)"
check_grep "$tmp/out" '^  \(3 free slots not shown\)$' "stat: ring 0's free slots summarised"
run xshm stat "$name" --all
check_rc 0 "stat --all"
check_grep "$tmp/out" '^ring 4: client slot 3 -> server$' "stat --all: every client ring"
check_grep "$tmp/out" '^ring 8: server -> client slot 3 \(addressed\)$' "stat --all: every addressed ring"
check_grep "$tmp/out" '^ +3 +free +- ' "stat --all: free slots"

# The figures move: one more message, and the counters follow.
run xshm send "$name" again
if wait_for 10 file_has "$tmp/a.out" '^message 2: 5 bytes$'; then
    pass "second message echoed"
else
    bad "second message not echoed"
    show "$tmp/a.out"
fi
run xshm stat "$name"
check_grep "$tmp/out" '^  written +2 messages, 14 bytes' "stat: ring 0 now 2 messages, 14 bytes"
check_grep "$tmp/out" "^ +0 +active +$tail_pid +(32|64) +yes +[0-9]+ +0 +2 +0 +14" \
    "stat: the tail's slot received 2 messages"

# ---- stat --json ----------------------------------------------------------------

run xshm stat "$name" --json
check_rc 0 "stat --json"
if have_python "stat --json contents"; then
    if python3 - "$tmp/out" "$tail_pid" "$server_pid" >"$tmp/py" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
tail_pid, server_pid = int(sys.argv[2]), int(sys.argv[3])
assert d["state"] == "ready", d["state"]
assert d["clients"] == 1, d["clients"]
assert d["server"]["pid"] == server_pid and d["server"]["alive"] is True
assert d["config"]["blocking"] is True and d["config"]["timeout_ms"] == 200
assert d["config"]["max_clients"] == 4 and d["config"]["ring_size"] == 4194304
assert len(d["rings"]) == 9
assert d["rings"][5]["direction"] == "server->client" and d["rings"][5]["client_slot"] == 0
assert d["rings"][5]["capacity"] == 262144, d["rings"][5]
r0 = d["rings"][0]
assert r0["messages_written"] == 2 and r0["bytes_written"] == 14, r0
assert r0["writer"]["pid"] == server_pid
s0 = r0["readers"][0]
assert s0["state"] == "active" and s0["pid"] == tail_pid and s0["alive"] is True, s0
assert s0["received"] == 2 and s0["lost"] == 0 and s0["lag"] == 0, s0
assert all(s["state"] == "free" for s in r0["readers"][1:])
assert d["rings"][2]["messages_written"] == 2 and d["rings"][2]["client_slot"] == 1
EOF
    then
        pass "stat --json is valid JSON with the expected figures"
    else
        bad "stat --json"
        show "$tmp/py"
        show "$tmp/out"
    fi
fi

# ---- watch: two refreshes with rates, while messages flow -----------------------

(for i in $(seq 1 20); do xshm send "$name" "burst-$i" >>"$tmp/sends" 2>&1 || exit 1; done) &
sender_pid=$!
pids+=("$sender_pid")
run xshm watch "$name" --count 2 --interval 200
check_rc 0 "watch --count 2"
n=$(count_lines "$tmp/out" "^== xshm watch $name: refresh [12] of 2, every 200 ms")
if [ "$n" -eq 2 ]; then pass "watch made 2 refreshes"; else bad "watch made $n refreshes, not 2"; show "$tmp/out"; fi
n=$(count_lines "$tmp/out" '^  rate +[0-9]+\.[0-9] msg/s, [0-9]+\.[0-9]{3} MB/s$')
if [ "$n" -ge 4 ]; then
    pass "watch printed rates per ring ($n rate lines)"
else
    bad "watch printed $n rate lines"
    show "$tmp/out"
fi
grep -E '^(== |ring |  rate )' "$tmp/out" | sed 's/^/     # /'
wait_exit 30 "$sender_pid"
[ "$rc" -eq 0 ] && pass "20 sends while watching" || bad "the sends while watching failed ($rc)"
if wait_for 10 file_has "$tmp/a.out" '^message 22: '; then
    pass "the tail got all 22 echoes"
else
    bad "the tail did not get 22 echoes"
    tail -5 "$tmp/a.out" | show /dev/stdin
fi

run xshm watch "$name" --count 2 --interval 100 --json
check_rc 0 "watch --json"
if have_python "watch --json contents"; then
    if python3 - "$tmp/out" >"$tmp/py" 2>&1 <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, len(lines)
for k, line in enumerate(lines, 1):
    d = json.loads(line)
    assert d["refresh"] == k
    for r in d["channel"]["rings"]:
        assert r["rate"] is not None and r["rate"]["messages_per_s"] >= 0, r
EOF
    then
        pass "watch --json: one JSON document per refresh, with rates"
    else
        bad "watch --json"
        show "$tmp/py"
        show "$tmp/out"
    fi
fi

# ---- tail --count 1: a second client gets what the server sends --------------------

${emu[@]+"${emu[@]}"} "$XSHM" tail "$name" --count 1 --timeout 20000 >"$tmp/b.out" 2>"$tmp/b.err" &
tail2_job=$!
pids+=("$tail2_job")
if wait_for 20 clients_are 2; then
    pass "2 clients once the second tail has connected"
else
    bad "the second tail did not connect"
    show "$tmp/b.err"
fi
run xshm send "$name" --hex 'de ad be ef 00 41'
check_rc 0 "send --hex"
check_grep "$tmp/out" "^sent 6 bytes to $name\$" "send --hex sent 6 bytes"
wait_exit 20 "$tail2_job"
check_rc 0 "tail --count 1 ends after one message"
check_grep "$tmp/b.out" '^message 1: 6 bytes$' "tail --count 1: size"
check_grep "$tmp/b.out" '^00000000: dead beef 0041 +\.\.\.\.\.A$' "tail --count 1: hex dump of the bytes"
check_grep "$tmp/b.err" '1 message \(6 bytes\) received, 0 lost; done' "tail --count 1: summary"

# tail --timeout: nothing comes, so it gives up; --count not reached is an error.
t0=$SECONDS
run xshm tail "$name" --count 1 --timeout 300
check_rc 1 "tail --timeout with no message"
check_grep "$tmp/err" 'tail: 0 of 1 messages received \(timed out\)' "tail --timeout explains"
[ $((SECONDS - t0)) -le 5 ] && pass "tail --timeout 300 returned promptly" || bad "tail --timeout took $((SECONDS - t0)) s"

# ---- Ctrl-C on the long-lived tail; the server then leaves ------------------------

kill -INT -- "-$tail_job"
wait_exit 10 "$tail_job"
check_rc 0 "tail stops on Ctrl-C"
check_grep "$tmp/a.err" 'messages \([0-9]+ bytes\) received, 0 lost; interrupted$' "tail's summary after Ctrl-C"
if wait_exit 20 "$server_job"; then
    [ "$rc" -eq 0 ] && pass "the server saw its clients leave and exited" || bad "server exit $rc"
else
    bad "the server did not exit after its clients left"
fi
check_grep "$tmp/server.log" 'client connected \(pid '"$tail_pid"', ' "the server saw the tail connect"
check_grep "$tmp/server.log" 'client disconnected \(pid '"$tail_pid"'\)' "the server saw the tail leave"
run xshm stat "$name"
check_rc 1 "stat after the server left"
check_grep "$tmp/err" "no channel named $name\$" "stat: no channel named $name"
if [ "$windows" = 0 ]; then
    run xshm list
    if grep -Eq "^$name " "$tmp/out"; then bad "list still shows $name"; else pass "list no longer shows $name"; fi
else
    skip "list no longer shows the channel" "list is not supported on Windows"
fi

if [ "$windows" = 1 ]; then
    for what in "a channel whose server was killed" "list, stat and watch leave a segment untouched" \
                "access denied" "a segment that is not a channel"; do
        skip "$what" "the script makes these cases with /dev/shm objects: Linux only"
    done
    summary
    [ "$nfail" -eq 0 ]
    exit
fi

# ---- a channel whose server was killed --------------------------------------------

${emu[@]+"${emu[@]}"} "$SERVER" "$stale" 60 >"$tmp/stale.log" 2>&1 &
stale_pid=$!
pids+=("$stale_pid")
objects+=("$stale")
if wait_for 10 xshm stat "$stale"; then
    # A tail connected to it sees the server die and stops.
    ${emu[@]+"${emu[@]}"} "$XSHM" tail "$stale" >"$tmp/c.out" 2>"$tmp/c.err" &
    tail3_job=$!
    pids+=("$tail3_job")
    stale_clients() { xshm stat "$stale" >"$tmp/poll" 2>&1 && file_has "$tmp/poll" '^clients +1 connected'; }
    wait_for 10 stale_clients || bad "the tail of $stale did not connect"
    kill -9 "$stale_pid"
    wait "$stale_pid" 2>/dev/null
    wait_exit 10 "$tail3_job"
    check_rc 0 "tail ends when its server is killed"
    check_grep "$tmp/c.err" '0 messages \(0 bytes\) received, 0 lost; the server went away$' \
        "tail says the server went away"
    run xshm list
    check_grep "$tmp/out" "^$stale +$owner +creator dead +0/4 " "list: a killed server's channel is 'creator dead'"
    run xshm stat "$stale"
    check_rc 0 "stat of a channel whose server died"
    check_grep "$tmp/out" '^state +creator dead$' "stat: state creator dead"
    check_grep "$tmp/out" "^server +pid $stale_pid, (32|64)-bit, dead\$" "stat: the server is dead"
    run xshm send "$stale" hello
    check_rc 1 "send to a channel whose server died"
    check_grep "$tmp/err" "channel $stale exists but its server is gone" "send explains the server is gone"

    # Observers write nothing: the segment is byte for byte the same after them.
    before=$(cksum <"/dev/shm/xshm.$stale")
    xshm stat "$stale" >/dev/null 2>&1
    xshm stat "$stale" --json --all >/dev/null 2>&1
    xshm list >/dev/null 2>&1
    xshm watch "$stale" --count 1 --interval 10 >/dev/null 2>&1
    after=$(cksum <"/dev/shm/xshm.$stale")
    [ "$before" = "$after" ] && pass "list, stat and watch leave the segment untouched" ||
        bad "the segment changed under list/stat/watch"

    # Access denied: another user (root can test it by switching to nobody).
    if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
        setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$XSHM" 2>/dev/null; then
        run setpriv --reuid=65534 --regid=65534 --clear-groups ${emu[@]+"${emu[@]}"} "$XSHM" stat "$stale"
        check_rc 1 "stat of another user's channel"
        check_grep "$tmp/err" "access denied to channel $stale: it belongs to $owner" "access denied is explained"
        run setpriv --reuid=65534 --regid=65534 --clear-groups ${emu[@]+"${emu[@]}"} "$XSHM" list
        check_grep "$tmp/out" "^$stale +$owner +access denied " "list: another user's channel is 'access denied'"
    else
        skip "access denied" "needs root, setpriv, and $XSHM executable by user nobody"
    fi
else
    bad "the second server's channel did not appear"
fi

# ---- a segment that is not a channel -------------------------------------------------

objects+=("$bad")
# Mode 0600, as the library's own objects: one of another mode is refused
# before it is read (access denied), whatever it holds.
( umask 077; { printf 'not an xshm segment'; head -c 4077 /dev/zero; } >"/dev/shm/xshm.$bad" )
run xshm stat "$bad"
check_rc 1 "stat of an invalid segment"
check_grep "$tmp/err" "$bad is not a valid xshm channel: it does not start with the xshm magic number" \
    "invalid segment is explained"
run xshm list
check_grep "$tmp/out" "^$bad +[^ ]+ +invalid " "list: the segment is 'invalid'"

summary
[ "$nfail" -eq 0 ]
