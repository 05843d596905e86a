#!/usr/bin/env bash
# against.sh REV [test_explore arguments] - run the explorer's scenarios
# (tests/test_explore.c) against the protocol code of git revision REV.
#
# Builds REV's src/ (its ring, events and ipc layers) with this tree's
# explorer hooks (src/platform/atomics.h, explore_hooks.h), the simulated
# platform and the scenarios, natively with cc and Debian's libcmocka-dev,
# in a temporary folder, and runs it. This is how a scenario is shown to
# find a bug in the code before its fix: e.g. `against.sh 1ffe5f4`.
# A scenario that needs an internal API REV lacks is skipped by name.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
rev=$1
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$root" archive "$rev" src include | tar -x -C "$tmp"
cp "$root/src/platform/atomics.h" "$root/src/platform/explore_hooks.h" "$tmp/src/platform/"
# The bound of a read's tries, lowered as in this tree's explorer build
# (SHM_RING_READ_TRIES), where REV has it as a literal.
sed -i 's/iter < (1u << 20)/iter < SHM_RING_READ_TRIES/' "$tmp/src/shm_ringbuffer.c"
inc=(-I"$tmp/include" -I"$tmp/src" -I"$tmp/src/platform" -I"$root/tests/explore" -I"$root/tests/support")
flags=(-std=c11 -O2 -g -D_GNU_SOURCE -DXSHM_EXPLORE -DSHM_STATIC -DSHM_RING_READ_TRIES=2 -Wall -Wextra)
objs=()
# Every file of src/ itself (not src/platform/): the layers above the
# platform, however REV divides them into files.
for c in "$tmp"/src/*.c; do
    f=$(basename "$c" .c)
    cc "${flags[@]}" "${inc[@]}" -DXE_ALLOC_REDIRECT -include "$root/tests/explore/xe_alloc.h" \
        -c "$c" -o "$tmp/$f.o"
    objs+=("$tmp/$f.o")
done
for f in explore/sim_platform explore/explore explore/xe_alloc support/testmsg test_explore; do
    o=$tmp/$(basename "$f").o
    cc "${flags[@]}" "${inc[@]}" -c "$root/tests/$f.c" -o "$o"
    objs+=("$o")
done
cc -o "$tmp/test_explore" "${objs[@]}" -lcmocka -lpthread
echo "test_explore built against $(git -C "$root" rev-parse --short "$rev") ($(git -C "$root" log -1 --format=%s "$rev" | cut -c1-60))"
CMOCKA_MESSAGE_OUTPUT=${CMOCKA_MESSAGE_OUTPUT:-stdout} "$tmp/test_explore" "$@"
