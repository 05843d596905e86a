#!/usr/bin/env bash
# check-layout-asserts.sh - are the static asserts on the shared layout complete?
#
#   tests/mixed/check-layout-asserts.sh [HEADER [SOURCE]]
#
# HEADER (default src/shm_ringbuffer.h) declares the structs of the shared
# segment between the lines "---- shared layout" and "---- process-local";
# SOURCE (default src/shm_ringbuffer.c) holds their static asserts
# (SHM_STATIC_ASSERT(sizeof(T) == N, ...) and SHM_ASSERT_OFFSET(T, field, N)).
# For every struct of that section this checks that
#   - every field has a fixed-width integer type (uint8_t .. int64_t, or an
#     array of one), the same size on x86 and x64;
#   - sizeof is asserted, and the offset of every field is asserted;
#   - the asserted offsets and the field sizes tile the struct with no gap
#     and no overlap, ending at the asserted size (explicit padding only);
#   - every 64-bit field is at a multiple of 8.
# Prints one line per struct and the problems found; exit status 1 if any.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
header=${1:-$root/src/shm_ringbuffer.h}
source=${2:-$root/src/shm_ringbuffer.c}
for f in "$header" "$source"; do
    [ -r "$f" ] || { echo "check-layout-asserts: cannot read $f" >&2; exit 2; }
done

awk '
function strip(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
function num(s,   v) {
    s = strip(s)
    if (s in macro) s = macro[s]
    sub(/[uU]$/, "", s)
    if (s ~ /^[0-9]+$/) return s + 0
    return -1
}
# ---- pass 1: the header ----
FNR == NR {
    line = $0
    if (line ~ /^#define[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]+[0-9]+[uU]?([ \t]|$)/) {
        split(line, w, /[ \t]+/); v = w[3]; sub(/[uU]$/, "", v); macro[w[2]] = v
    }
    if (line ~ /----[ \t]*shared layout/) { in_shared = 1; next }
    if (line ~ /----[ \t]*process-local/) { in_shared = 0; next }
    if (!in_shared) next
    # Comments: drop /* ... */ on one line, and the lines of block comments.
    gsub(/\/\*.*\*\//, "", line)
    if (in_comment) { if (line ~ /\*\//) in_comment = 0; next }
    if (line ~ /\/\*/) { sub(/\/\*.*/, "", line); in_comment = 1 }
    line = strip(line)
    if (line == "") next
    if (line ~ /^typedef[ \t]+struct[ \t]+[A-Za-z_0-9]+[ \t]*\{/) { cur = "?"; nf = 0; in_struct = 1; next }
    if (in_struct && line ~ /^\}[ \t]*[A-Za-z_0-9]+[ \t]*;/) {
        name = line; sub(/^\}[ \t]*/, "", name); sub(/[ \t]*;.*/, "", name)
        structs[++ns] = name; nfields[name] = nf
        for (i = 1; i <= nf; i++) {
            fname[name, i] = pend_name[i]; ftype[name, i] = pend_type[i]; fcount[name, i] = pend_count[i]
        }
        in_struct = 0
        next
    }
    if (!in_struct) next
    # One declaration per line: "type name;" or "type name[N];"
    if (match(line, /^[A-Za-z_][A-Za-z0-9_ \t]*[ \t]+\**[A-Za-z_][A-Za-z0-9_]*[ \t]*(\[[^]]*\])?[ \t]*;$/)) {
        decl = line; sub(/[ \t]*;$/, "", decl)
        count = 1
        if (decl ~ /\]$/) {
            dim = decl; sub(/^[^[]*\[/, "", dim); sub(/\]$/, "", dim)
            count = num(dim)
            sub(/[ \t]*\[[^]]*\]$/, "", decl)
        }
        n = split(decl, w, /[ \t]+/)
        nf++
        pend_name[nf] = w[n]
        t = ""; for (k = 1; k < n; k++) t = t (k > 1 ? " " : "") w[k]
        pend_type[nf] = t
        pend_count[nf] = count
    } else {
        problems[++np] = "cannot parse the declaration \"" line "\""
    }
    next
}
# ---- pass 2: the asserts ----
{
    line = $0
    if (match(line, /SHM_ASSERT_OFFSET\([^)]*\)/)) {
        a = substr(line, RSTART + 18, RLENGTH - 19)
        split(a, p, ",")
        off[strip(p[1]), strip(p[2])] = num(p[3])
    }
    if (match(line, /sizeof\([A-Za-z_0-9]+\)[ \t]*==[ \t]*[A-Za-z_0-9]+/)) {
        a = substr(line, RSTART, RLENGTH)
        t = a; sub(/^sizeof\(/, "", t); sub(/\).*/, "", t)
        v = a; sub(/.*==[ \t]*/, "", v)
        size[t] = num(v)
    }
}
END {
    tsize["uint8_t"] = 1; tsize["int8_t"] = 1; tsize["uint16_t"] = 2; tsize["int16_t"] = 2
    tsize["uint32_t"] = 4; tsize["int32_t"] = 4; tsize["uint64_t"] = 8; tsize["int64_t"] = 8
    if (ns == 0) problems[++np] = "no struct found in the shared layout section of the header"
    total_fields = 0
    for (s = 1; s <= ns; s++) {
        name = structs[s]; bad0 = np; end = 0
        if (!(name in size) || size[name] < 0)
            problems[++np] = name ": no static assert on sizeof"
        for (i = 1; i <= nfields[name]; i++) {
            f = fname[name, i]; t = ftype[name, i]; total_fields++
            if (!(t in tsize)) {
                problems[++np] = name "." f ": type \"" t "\" is not a fixed-width integer"
                end = -1
                continue
            }
            if (fcount[name, i] < 0) {
                problems[++np] = name "." f ": array size is not a number"
                end = -1
                continue
            }
            if (!((name, f) in off)) {
                problems[++np] = name "." f ": no static assert on its offset"
                end = -1
                continue
            }
            o = off[name, f]
            if (end >= 0 && o != end)
                problems[++np] = name "." f ": asserted at offset " o ", the field before ends at " end
            if (tsize[t] == 8 && o % 8 != 0)
                problems[++np] = name "." f ": 64-bit field at offset " o
            end = o + tsize[t] * fcount[name, i]
        }
        if (end >= 0 && (name in size) && size[name] >= 0 && end != size[name])
            problems[++np] = name ": fields end at " end ", asserted sizeof is " size[name]
        printf "  %-22s %2d fields, sizeof %s: %s\n", name, nfields[name], \
            (name in size) ? size[name] : "?", (np == bad0) ? "every offset asserted, no implicit padding" : "INCOMPLETE"
    }
    for (i = 1; i <= np; i++) print "  problem: " problems[i]
    printf "%d shared structs, %d fields, %d problems\n", ns, total_fields, np
    exit np > 0 ? 1 : 0
}
' "$header" "$source"
