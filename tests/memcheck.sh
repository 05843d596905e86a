#!/usr/bin/env bash
# memcheck.sh - one test program under valgrind's memcheck, as one test.
#
#   memcheck.sh LOGDIR PROGRAM [ARG...]
#
# Runs PROGRAM under
#   valgrind --tool=memcheck --leak-check=full
#            --errors-for-leak-kinds=definite,indirect --error-exitcode=1
#            --trace-children=yes --fair-sched=yes
# with each process's log in LOGDIR/<program>.<pid>.log, and prints "no
# leaks, no errors" or what failed with valgrind's first report of each
# failing process. --trace-children: the helper processes a test starts
# (copies of itself) are checked too. --fair-sched: the tests spin-wait for
# other threads, and valgrind's default thread lock can starve the thread
# being waited for. Exit status 77 (skipped) when valgrind is not installed.
set -uo pipefail
logdir=$1 exe=$2
shift 2
name=$(basename "$exe")

command -v valgrind >/dev/null 2>&1 ||
    { echo "SKIPPED: valgrind is not installed (scripts/bootstrap.sh installs it)"; exit 77; }
mkdir -p "$logdir"
rm -f "$logdir/$name".*.log
rc=0
valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=1 --trace-children=yes --fair-sched=yes --vgdb=no \
    --log-file="$logdir/$name.%p.log" "$exe" "$@" || rc=$?

logs=("$logdir/$name".*.log)
errors=$(cat "${logs[@]}" 2>/dev/null | sed -nE 's/.*ERROR SUMMARY: ([0-9]+) errors.*/\1/p' |
         awk '{ s += $1 } END { print s + 0 }')
leaks=$(cat "${logs[@]}" 2>/dev/null | grep -E '(definitely|indirectly) lost: [1-9]' |
        head -n 2 | sed -E 's/^==[0-9]+== +//' | tr '\n' ';')
if [ "$rc" -eq 0 ] && [ "$errors" -eq 0 ] && [ -z "$leaks" ]; then
    echo "memcheck: $name: no leaks, no errors (${#logs[@]} processes)"
    exit 0
fi
for log in "${logs[@]}"; do
    if grep -qE 'ERROR SUMMARY: [1-9]' "$log"; then
        echo "--- $log:"
        grep -m 1 -A 12 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|[0-9,]+ bytes in)' "$log"
    fi
done
echo "memcheck: $name: FAILED: exit status $rc, $errors memcheck error(s)${leaks:+, leaks: $leaks}"
exit 1
