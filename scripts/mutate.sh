#!/usr/bin/env bash
# mutate.sh - the mutation run: plant each listed bug in a scratch copy of the
# sources, run the tests, and report which bugs the tests catch.
#
#   scripts/mutate.sh [--check] [--only ID,...] [--target T] [-j N]
#
# The bugs ("mutants") are listed in tests/mutants/*.txt, one entry each:
#
#   mutant ipc-stats-max            unique id, prefixed by the layer
#   why: server stats take the max over clients instead of the sum
#   file: src/shm_ipc_server.c      path from the source root
#   find: total += n;               exact text, found exactly once in the file
#   replace: total = n > total ? n : total;
#   target: linux-x64               optional: the preset whose tests run it
#   killer: test_ipc_stats:test_stats_two_clients  the test(s) expected to catch it
#   survives: <reason>              optional: why a survivor is expected
#                                   (an equivalent mutant, or a race no test
#                                   can place)
#
# Entries are separated by blank lines; '#' starts a comment line.
#
# For each target the run copies the tracked sources (with uncommitted
# changes) to build/mutate/<target>/src, builds them once unchanged and runs
# CTest (without the label "loaded", whose repeated runs add time and no
# checks, nor "mutate", the check of this list, which a planted bug fails)
# to make sure the suite is green. Then, for each mutant, it applies
# the replacement, rebuilds, runs the test programs its entry names as
# killers and, only if they all pass, the whole suite; it records the failing
# test programs and the CMocka tests within them, and restores the file. A
# mutant is
#   killed     some test failed (or the suite timed out),
#   survived   every test passed: a promise without a test,
#   stillborn  it did not build (not counted in the kill rate).
# The table goes to stdout and build/mutate/report.txt (report-T.txt with
# --target T); the exit status is
# non-zero when a mutant survived without a "survives:" reason, or a
# mutant no longer applies.
#
#   --check      only check the list: every entry complete, ids and edits
#                unique, each find text present exactly once (a fast test, run
#                by CTest)
#   --only IDS   run only these mutants (comma-separated ids)
#   --target T   run only the mutants of target T
#
# A full run takes about a minute per mutant natively (Wine targets more):
# run it before each release (README, "Before a release").
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

check_only=0 only="" only_target="" jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
    case $1 in
        --check) check_only=1; shift ;;
        --only) only=${2:-}; shift 2 ;;
        --only=*) only=${1#*=}; shift ;;
        --target) only_target=${2:-}; shift 2 ;;
        --target=*) only_target=${1#*=}; shift ;;
        -j) jobs=${2:-}; shift 2 ;;
        -j*) jobs=${1#-j}; shift ;;
        -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "mutate.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
case $jobs in ''|*[!0-9]*|0) echo "mutate.sh: -j needs a positive number" >&2; exit 2 ;; esac

# parse_list SRCROOT: check tests/mutants/*.txt against the sources in SRCROOT
# and print one tab-separated line per mutant:
#   id  target  file  killer  survives  why
# Problems go to stderr; the exit status is 1 if there were any.
parse_list() {
    perl -e '
        use strict; use warnings;
        my ($src, @lists) = @ARGV;
        my ($bad, %seen, %edits, @out) = (0);
        my %known = map { $_ => 1 } qw(mutant why file find replace target killer survives);
        # The CTest tests a killer may name: tests/<name>.c (its text, to
        # find a named test in it) and every add_test(NAME ...) of CMake.
        my (%programs, @patterns);
        for my $c (glob("$src/tests/*.c $src/tests/*.cpp")) {
            my ($name) = $c =~ m{([^/]+)\.c(?:pp)?$};
            open(my $cf, "<", $c) or next; local $/; $programs{$name} = <$cf>; close $cf;
        }
        for my $cm (glob("$src/CMakeLists.txt $src/*/CMakeLists.txt $src/*/*.cmake")) {
            open(my $cf, "<", $cm) or next; local $/; my $t = <$cf>; close $cf;
            while ($t =~ /add_test\(NAME\s+([A-Za-z0-9_\${}]+)/g) {
                my $n = $1;
                if ($n =~ /\$/) { (my $re = quotemeta $n) =~ s/\\\$\\\{\w+\\\}/\\w+/g; push @patterns, $re }
                else { $programs{$n} //= "1" }
            }
        }
        for my $list (@lists) {
            open(my $fh, "<", $list) or die "$list: $!\n";
            local $/ = "";                         # paragraph mode: one entry each
            while (my $para = <$fh>) {
                my (%e, $line0);
                my $n = $. ;
                for my $l (split /\n/, $para) {
                    next if $l =~ /^\s*#/ || $l =~ /^\s*$/;
                    if ($l =~ /^mutant\s+(\S+)\s*$/) { $e{mutant} = $1; next }
                    if ($l =~ /^(\w+): (.*)$/ && $known{$1}) {
                        if (exists $e{$1}) { warn "$list: entry $n: $1 given twice\n"; $bad = 1 }
                        $e{$1} = $2; next;
                    }
                    warn "$list: entry $n: cannot read line: $l\n"; $bad = 1;
                }
                next unless %e;
                my $id = $e{mutant} // "(entry $n)";
                for my $k (qw(mutant why file find replace killer)) {
                    next if defined $e{$k} && ($k eq "replace" || length $e{$k});
                    warn "$list: $id: no $k\n"; $bad = 1;
                }
                next unless defined $e{mutant} && defined $e{file} && defined $e{find} && defined $e{replace};
                if ($seen{$id}++) { warn "$list: $id: the id is used twice\n"; $bad = 1 }
                if ($id !~ /^(ring|events|ipc|common|posix|win32|platform|security)-[a-z0-9-]+$/) {
                    warn "$list: $id: an id is <layer>-<words> (lowercase, dashes)\n"; $bad = 1;
                }
                if ($e{find} eq $e{replace}) { warn "$list: $id: replace is the same as find\n"; $bad = 1 }
                my $edit = join("\0", $e{file}, $e{find}, $e{replace});
                if (my $twin = $edits{$edit}) { warn "$list: $id: the same edit as $twin\n"; $bad = 1 }
                $edits{$edit} //= $id;
                my $path = "$src/$e{file}";
                if (open(my $s, "<", $path)) {
                    local $/; my $text = <$s>; close $s;
                    my $count = () = $text =~ /\Q$e{find}\E/g;
                    if ($count != 1) {
                        warn "$list: $id: the find text occurs $count times in $e{file} (needs exactly 1): $e{find}\n";
                        $bad = 1;
                    }
                } else {
                    warn "$list: $id: no file $e{file}\n"; $bad = 1;
                }
                for my $w (split /[\s,]+/, $e{killer} // "") {
                    my ($prog, $test) = split /:/, $w, 2;
                    $programs{$prog} //= "1" if grep { $prog =~ /^$_$/ } @patterns;
                    if (!$programs{$prog}) {
                        warn "$list: $id: killer $prog is no CTest test of the sources\n"; $bad = 1;
                    } elsif (defined $test && $programs{$prog} ne "1" &&
                             $programs{$prog} !~ /\bstatic void \Q$test\E\(/) {
                        warn "$list: $id: killer $prog has no test $test\n"; $bad = 1;
                    }
                }
                push @out, join("\x1f", $id, $e{target} // "linux-x64", $e{file},
                                $e{killer} // "", $e{survives} // "", $e{why} // "");
            }
            close $fh;
        }
        print "$_\n" for @out;
        exit $bad;
    ' "$1" tests/mutants/*.txt
}

# apply_mutant SRCROOT FILE: replace the mutant's find text (env MUT_FIND) by
# MUT_REPLACE in SRCROOT/FILE.
apply_mutant() {
    perl -e '
        my ($path) = @ARGV;
        open(my $fh, "<", $path) or die "$path: $!\n"; local $/; my $t = <$fh>; close $fh;
        my ($f, $r) = ($ENV{MUT_FIND}, $ENV{MUT_REPLACE});
        die "$path: no find text (the entry is gone from the list?)\n" if $f eq "";
        my $i = index($t, $f); die "$path: find text missing\n" if $i < 0;
        substr($t, $i, length $f) = $r;
        open($fh, ">", $path) or die "$path: $!\n"; print $fh $t; close $fh;
    ' "$1/$2"
}

# field ID NAME: the named field of a mutant's entry.
field() {
    perl -e '
        my ($id, $name) = @ARGV;
        local $/ = "";
        for my $list (glob "tests/mutants/*.txt") {
            open(my $fh, "<", $list) or next;
            while (my $p = <$fh>) {
                next unless $p =~ /^mutant\s+\Q$id\E\s*$/m;
                print $1 if $p =~ /^\Q$name\E: (.*)$/m;
                exit 0;
            }
        }
    ' "$1" "$2"
}

if [ "$check_only" = 1 ]; then
    if table=$(parse_list "$root"); then
        n=$(printf '%s\n' "$table" | grep -c .)
        echo "mutate.sh --check: $n mutants, each applies exactly once"
        printf '%s\n' "$table" | cut -d $'\x1f' -f1 | cut -d- -f1 | sort | uniq -c | awk '{ printf "   %-10s %d\n", $2, $1 }'
        exit 0
    fi
    echo "mutate.sh --check: the list has problems (above)"
    exit 1
fi

table=$(parse_list "$root") || { echo "mutate.sh: fix the list first (scripts/mutate.sh --check)"; exit 1; }
if [ -n "$only" ]; then
    table=$(printf '%s\n' "$table" | awk -F '\037' -v ids=",$only," 'index(ids, "," $1 ",")')
    [ -n "$table" ] || { echo "mutate.sh: no mutant matches --only $only"; exit 2; }
fi
if [ -n "$only_target" ]; then
    table=$(printf '%s\n' "$table" | awk -F '\037' -v t="$only_target" '$2 == t')
    [ -n "$table" ] || { echo "mutate.sh: no mutant for target $only_target"; exit 2; }
fi

"$root/scripts/bootstrap.sh" >/dev/null || { echo "mutate.sh: bootstrap failed"; exit 1; }
cache=${XSHM_CACHE:-$HOME/.cache/xshm}
export WINEPREFIX=$cache/wine WINEDEBUG=-all CMOCKA_MESSAGE_OUTPUT=stdout

work=$root/build/mutate
mkdir -p "$work"
report=$work/report${only_target:+-$only_target}.txt
: >"$report"
start=$SECONDS
killed=0 survived=0 stillborn=0 unexplained=0 expected=0

# run_suite TARGET SRC LOG [PROGRAM...]: run the target's CTest suite (without
# the labels loaded, mutate and the whole-tree checks memcheck, fuzz and install:
# valgrind, fuzzing and installing once per mutant would take hours), or only
# the named test programs; print the failing test
# programs and, in parentheses, the first CMocka tests that failed in them.
run_suite() {
    local t=$1 src=$2 log=$3 par=() sel=(-LE 'loaded|mutate|memcheck|fuzz|install')
    shift 3
    if [ $# -gt 0 ]; then sel=(-R "^($(IFS='|'; echo "$*"))\$"); fi
    case $t in win-*) ;; *) par=(-j "$jobs") ;; esac
    (cd "$src" && timeout 1800 ctest --preset "$t" "${sel[@]}" --output-on-failure "${par[@]}") >"$log" 2>&1
    local rc=$?
    awk '
        /^[ \t]*[0-9]+ - [^ ]+ \(/ && !/\(Skipped\)/ {
            # a failed test (a skipped one is listed too, and is no failure)
            sub(/^[ \t]*[0-9]+ - /, ""); sub(/ \(.*/, ""); prog[$0] = 1; order[++n] = $0
        }
        /\[  FAILED  \] [A-Za-z_0-9]+$/ && !/tests?, listed/ { t = $NF; if (!(t in seen)) { seen[t] = 1; tests[++m] = t } }
        END {
            out = ""
            for (i = 1; i <= n; i++) out = out " " order[i]
            if (m > 0) {
                out = out " ("
                for (i = 1; i <= m && i <= 3; i++) out = out (i > 1 ? " " : "") tests[i]
                if (m > 3) out = out sprintf(" +%d more", m - 3)
                out = out ")"
            }
            print substr(out, 2)
        }' "$log"
    return $rc
}

# killer_programs KILLER KNOWN: the test programs named in a killer field
# ("test_ipc_connect:test_names, test_platform") that CTest knows (KNOWN: " a b c ").
killer_programs() {
    local w p out=""
    for w in $(printf '%s' "$1" | tr ',' ' '); do
        p=${w%%:*}
        case "$2" in *" $p "*) ;; *) continue ;; esac
        case " $out " in *" $p "*) continue ;; esac
        out="$out $p"
    done
    printf '%s' "${out# }"
}

wine_up=0
for t in $(printf '%s\n' "$table" | cut -d $'\x1f' -f2 | sort -u); do
    src=$work/$t/src
    echo "== $t: copying the sources to $src and building them unchanged"
    rm -rf "$src"
    mkdir -p "$src"
    git ls-files -z | tar --null -T - -cf - | tar -C "$src" -xf -
    case $t in
        win-*) if [ "$wine_up" = 0 ]; then
                   # one wineserver for every test; stopped at the end only if
                   # this run started it (exit status 2: one already serves)
                   if wineserver -p >/dev/null 2>&1; then wine_up=ours; else wine_up=shared; fi
                   wine cmd /c exit </dev/null >/dev/null 2>&1 || true
               fi ;;
    esac
    if ! (cd "$src" && cmake --preset "$t" -DXSHM_WERROR=OFF && cmake --build --preset "$t" -j "$jobs") \
            >"$work/$t/build.log" 2>&1; then
        echo "mutate.sh: $t does not build unchanged (build/mutate/$t/build.log)"; exit 1
    fi
    if ! failing=$(run_suite "$t" "$src" "$work/$t/baseline.log"); then
        echo "mutate.sh: the $t suite fails without a mutant ($failing): build/mutate/$t/baseline.log"; exit 1
    fi
    echo "   the unchanged suite passes ($((SECONDS - start)) s so far)"
    known=" $(cd "$src" && ctest --preset "$t" -N 2>/dev/null | sed -nE 's/^ *Test +#[0-9]+: +//p' | tr '\n' ' ')"
    printf '%-34s %-9s %s\n' "mutant" "result" "caught by (failing tests)" | tee -a "$report"
    while IFS=$'\x1f' read -r id target file killer survives why; do
        [ "$target" = "$t" ] || continue
        cp -p "$src/$file" "$work/$t/pristine"
        if ! MUT_FIND=$(field "$id" find) MUT_REPLACE=$(field "$id" replace) \
                apply_mutant "$src" "$file"; then
            printf '%-34s %-9s %s\n' "$id" "ERROR" "(could not be applied)" | tee -a "$report"
            unexplained=$((unexplained + 1))
            continue
        fi
        log=$work/$t/$id.log
        # Build the killers' programs first (when they are build targets),
        # the rest only if they do not catch it: most mutants cost one
        # program's build and run, not the whole tree's.
        progs=$(killer_programs "$killer" "$known")
        built=none
        if [ -n "$progs" ] &&
           (cd "$src" && cmake --build --preset "$t" -j "$jobs" --target $progs) >"$log.build" 2>&1; then
            built=killers
        elif (cd "$src" && cmake --build --preset "$t" -j "$jobs") >"$log.build" 2>&1; then
            built=all
        fi
        if [ "$built" = none ]; then
            result=stillborn caught="(does not build: $log.build)"
            stillborn=$((stillborn + 1))
        elif [ -n "$progs" ] && ! failing=$(run_suite "$t" "$src" "$log.first" $progs); then
            # caught by the tests named as its killers, run first to save time
            result=killed caught=${failing:-"(the suite failed: $log.first)"}
            killed=$((killed + 1))
        elif [ "$built" = killers ] &&
             ! (cd "$src" && cmake --build --preset "$t" -j "$jobs") >>"$log.build" 2>&1; then
            result=stillborn caught="(the killers build, the rest does not: $log.build)"
            stillborn=$((stillborn + 1))
        elif failing=$(run_suite "$t" "$src" "$log"); then
            result=SURVIVED caught="-- expected: $killer"
            survived=$((survived + 1))
            if [ -n "$survives" ]; then
                result=survived caught="(expected: $survives)"
                expected=$((expected + 1))
            else
                unexplained=$((unexplained + 1))
            fi
        else
            result=killed caught=${failing:-"(the suite failed: $log)"}
            killed=$((killed + 1))
        fi
        cp -p "$work/$t/pristine" "$src/$file"
        touch "$src/$file"
        printf '%-34s %-9s %s\n' "$id" "$result" "$caught" | tee -a "$report"
    done <<<"$table"
done
if [ "$wine_up" = ours ]; then wineserver -k >/dev/null 2>&1; fi

total=$((killed + survived))
rate=0
[ "$total" -gt 0 ] && rate=$((killed * 1000 / total))
{
    echo "== $((total + stillborn)) mutants in $((SECONDS - start)) s: $killed killed, $survived survived" \
         "($expected of them expected, explained in their entries), $stillborn did not build"
    printf 'kill rate %d.%d %% (%d of %d)\n' $((rate / 10)) $((rate % 10)) "$killed" "$total"
} | tee -a "$report"
[ "$unexplained" -eq 0 ]
