#!/usr/bin/env bash
# soak.sh - the full two-process soak, natively.
#
#   scripts/soak.sh [--build DIR] [soak options...]
#
# Runs DIR/soak (default DIR: build/linux-x64, built by scripts/test.sh or
# `cmake --build --preset linux-x64`) with 10,000,000 messages of 1..65512
# bytes through a 64 KiB ring, random reader stalls, every message checked,
# and received + lost == sent exactly at the end (tests/soak.c). Options
# after --build are passed to the program and override the defaults, e.g.
#   scripts/soak.sh --ring 131072            # messages of 1..65536 bytes
#   scripts/soak.sh --messages 100000000 --seconds 3600
# Prints the program's figures and keeps them in DIR/soak.log; the exit
# status is the program's (0: every check passed).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build/linux-x64
case ${1:-} in
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    --build=*) build=${1#*=}; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

exe=$build/soak
if [ ! -x "$exe" ]; then
    echo "soak.sh: $exe not found: build it first (scripts/test.sh --targets linux-x64," >&2
    echo "         or cmake --preset linux-x64 && cmake --build --preset linux-x64)" >&2
    exit 1
fi
log=$build/soak.log
echo "soak.sh: $exe --messages 10000000 $* (log: $log)"
"$exe" --messages 10000000 "$@" 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
