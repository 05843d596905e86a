#!/usr/bin/env bash
# docs.sh - build the HTML reference of xshm with Doxygen.
#
#   scripts/docs.sh [--out DIR]
#
# Input: include/shm_ipc.h (the API) and docs/*.md (the guide), as set in
# Doxyfile. Output: build/docs/html/index.html (--out DIR: DIR/html/).
# Any Doxygen warning (an undocumented declaration, a wrong @param, a broken
# reference) fails the build; the warnings are printed. Installs Doxygen with
# apt-get when it is missing.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/build/docs
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --out=*) out=${1#*=}; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "docs.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
cd "$root" || exit 1

if ! command -v doxygen >/dev/null 2>&1; then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "docs: installing doxygen"
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y -qq --no-install-recommends doxygen >/dev/null 2>&1; then
        $sudo apt-get update -qq >/dev/null 2>&1
        if ! $sudo apt-get install -y -qq --no-install-recommends doxygen >/dev/null; then
            echo "docs: FAILED: could not install doxygen (apt-get install doxygen)"
            exit 1
        fi
    fi
fi

version=$(for p in MAJOR MINOR PATCH; do
              sed -nE "s/^#define SHM_VERSION_$p +([0-9]+).*/\1/p" include/shm_ipc.h
          done | paste -sd.)
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
rm -rf "$out/html"
log=$out/doxygen.log

# The Doxyfile, with the version and the output folder of this run.
rc=0
{ cat Doxyfile; echo "PROJECT_NUMBER = $version"; echo "OUTPUT_DIRECTORY = $out"; } |
    doxygen - >"$log" 2>&1 || rc=$?
warnings=$(grep -E '(warning|error):' "$log")
if [ "$rc" -ne 0 ] || [ -n "$warnings" ] || [ ! -f "$out/html/index.html" ]; then
    echo "docs: FAILED ($(doxygen --version), exit status $rc):"
    if [ -n "$warnings" ]; then echo "$warnings"; else cat "$log"; fi
    exit 1
fi
echo "docs: xshm $version reference in $out/html/index.html (doxygen $(doxygen --version), no warnings)"
