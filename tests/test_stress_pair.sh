#!/usr/bin/env bash
# test_stress_pair.sh - the stress pair, shortened (--quick), as one test.
#
#   test_stress_pair.sh SERVER CLIENT WORKDIR [EMULATOR...]
#
# Starts SERVER in the background and CLIENT in the foreground (both under
# EMULATOR, e.g. wine, when given), in WORKDIR, with a channel name of its
# own, once unpaced and once --paced; prints the reports; fails unless both
# programs exit 0 both times within the time limit.
set -u
server=$1 client=$2 work=$3
shift 3
emu=("$@")
mkdir -p "$work" && cd "$work" || exit 1
rc=0
# Unpaced (loss allowed, counted exactly) and paced (nothing may be lost).
for mode in "" --paced; do
    name="stress-quick-$$-$RANDOM"
    rm -f server_report.txt test_log.txt
    timeout 300 "${emu[@]}" "$server" --quick $mode --name "$name" >server.out 2>&1 &
    spid=$!
    # The client retries while the server is not there yet.
    timeout 300 "${emu[@]}" "$client" --quick $mode --name "$name" >client.out 2>&1
    crc=$?
    wait "$spid"
    src=$?
    echo "==== stress pair --quick ${mode:-(unpaced)}"
    echo "---- server_report.txt"
    cat server_report.txt 2>/dev/null || { echo "(missing)"; cat server.out; }
    echo "---- test_log.txt"
    cat test_log.txt 2>/dev/null || { echo "(missing)"; cat client.out; }
    echo "---- exit status: server $src, client $crc"
    if [ "$src" -ne 0 ] || [ "$crc" -ne 0 ]; then rc=1; fi
done
exit $rc
