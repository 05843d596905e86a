#!/usr/bin/env bash
# check.sh - the installed tree of a build, and programs built against it.
#
#   check.sh install BUILD_DIR     cmake --install BUILD_DIR into the prefix;
#                                  the installed files (SONAME, or the DLL's
#                                  version resource)
#   check.sh version               find_package(xshm M.m) finds the tree and
#                                  find_package(xshm M+1) rejects it
#   check.sh cmake shared|static   tests/consumer with xshm::xshm or
#                                  xshm::xshm_static, built and run
#   check.sh pkgconfig xshm|xshm-static
#                                  cc main.c $(pkg-config --cflags --libs ...)
#
# The CTest tests install_* (label install) run it; the environment gives:
#   XSHM_PREFIX     the prefix to install into and build against
#   XSHM_WORK       a folder for this case's work files (log.txt)
#   XSHM_OS         linux or windows
#   XSHM_CC         the C compiler of the build (pkg-config cases)
#   XSHM_TOOLCHAIN  the build's toolchain file, if any
#   XSHM_EMULATOR   what runs the programs (wine), if anything
#   XSHM_READELF    readelf (linux); XSHM_OBJDUMP, XSHM_OBJCOPY (windows)
# A program built must print OK. Exit status 77 (skipped, with the reason)
# when pkg-config is not installed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=$XSHM_PREFIX work=$XSHM_WORK os=$XSHM_OS
IFS=';' read -r -a emu <<<"${XSHM_EMULATOR:-}"
ver() { sed -nE "s/^#define SHM_VERSION_$1 +([0-9]+).*/\1/p" "$root/include/shm_ipc.h"; }
major=$(ver MAJOR) minor=$(ver MINOR) patch=$(ver PATCH)
version=$major.$minor.$patch

rm -rf "$work"
mkdir -p "$work"
log=$work/log.txt
: >"$log"

fail() {
    echo "FAILED: $*"
    tail -n 40 "$log" | sed 's/^/   | /'
    echo "   (full log: $log)"
    exit 1
}
# logged CMD...: run CMD with its output in the log.
logged() { printf '$ %s\n' "$*" >>"$log"; "$@" >>"$log" 2>&1; }

# run_ok EXE [ENV...]: EXE must print OK.
run_ok() {
    local exe=$1 out rc=0
    shift
    out=$(env "$@" timeout 120 "${emu[@]}" "$exe" 2>>"$log") || rc=$?
    out=${out//$'\r'/}
    printf '%s\n' "$out" >>"$log"
    [ "$rc" -eq 0 ] && [ "$out" = OK ] || fail "$exe printed '$out' (exit status $rc)"
}

# shared_needed EXE: true if EXE loads libxshm.so / xshm.dll.
shared_needed() {
    if [ "$os" = windows ]; then
        "${XSHM_OBJDUMP:-objdump}" -p "$1" | grep -qi 'DLL Name: xshm.dll'
    else
        "${XSHM_READELF:-readelf}" -d "$1" | grep -q 'NEEDED.*libxshm\.so'
    fi
}

consumer_args() {
    echo "-DCMAKE_PREFIX_PATH=$prefix"
    if [ -n "${XSHM_TOOLCHAIN:-}" ]; then
        echo "-DCMAKE_TOOLCHAIN_FILE=$XSHM_TOOLCHAIN"
        # A toolchain file may confine find_package to its roots: name the folder.
        echo "-Dxshm_DIR=$prefix/lib/cmake/xshm"
    fi
}

case ${1:-} in
install)
    rm -rf "$prefix"
    logged cmake --install "$2" --prefix "$prefix" || fail "cmake --install $2 --prefix $prefix"
    files=(include/shm_ipc.h lib/cmake/xshm/xshm-config.cmake lib/cmake/xshm/xshm-config-version.cmake
           lib/cmake/xshm/xshm-targets.cmake lib/pkgconfig/xshm.pc lib/pkgconfig/xshm-static.pc
           lib/libxshm_static.a)
    if [ "$os" = windows ]; then
        files+=(bin/xshm.dll lib/libxshm.dll.a)
    else
        files+=(lib/libxshm.so "lib/libxshm.so.$major" "lib/libxshm.so.$version")
    fi
    for f in "${files[@]}"; do
        [ -e "$prefix/$f" ] || fail "$f is not installed in $prefix"
    done
    if [ "$os" = windows ]; then
        # The string table (UTF-16), then VS_FIXEDFILEINFO: signature FEEF04BD,
        # struct version, then (major << 16 | minor), (patch << 16), little-endian.
        dll=$prefix/bin/xshm.dll
        strs=$(strings -el "$dll" | grep -A1 -E '^(FileVersion|ProductVersion)$' | tr '\n' ' ')
        grep -q "FileVersion $version " <<<"$strs" && grep -q "ProductVersion $version " <<<"$strs" ||
            fail "xshm.dll has no FileVersion/ProductVersion $version (found: ${strs:-nothing})"
        logged "${XSHM_OBJCOPY:-objcopy}" -O binary --only-section=.rsrc "$dll" "$work/rsrc.bin" ||
            fail "objcopy could not extract .rsrc"
        hex=$(od -An -v -tx1 "$work/rsrc.bin" | tr -d ' \n')
        fixed=${hex#*bd04effe}
        [ "$fixed" != "$hex" ] || fail "no VS_FIXEDFILEINFO in xshm.dll"
        le16() { printf '%02x%02x' $(($1 & 255)) $(($1 >> 8)); }
        want=$(le16 "$minor")$(le16 "$major")0000$(le16 "$patch")
        [ "${fixed:8:16}" = "$want" ] ||
            fail "FILEVERSION bytes ${fixed:8:16}, expected $want ($major,$minor,$patch,0)"
        echo "installed: bin/xshm.dll (FILEVERSION $major,$minor,$patch,0), lib/libxshm.dll.a, static library, CMake package, .pc files"
    else
        soname=$("${XSHM_READELF:-readelf}" -d "$prefix/lib/libxshm.so.$version" | sed -nE 's/.*SONAME.*\[(.*)\].*/\1/p')
        [ "$soname" = "libxshm.so.$major" ] || fail "SONAME is '$soname', not libxshm.so.$major"
        echo "installed: libxshm.so.$version (SONAME $soname), static library, CMake package, .pc files"
    fi ;;
version)
    mapfile -t args < <(consumer_args)
    mkdir -p "$work/src"
    cat >"$work/src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.15)
project(xshm_version_check LANGUAGES C)
find_package(xshm $major.$minor REQUIRED)
if(NOT xshm_VERSION VERSION_EQUAL "$version" OR NOT TARGET xshm::xshm OR NOT TARGET xshm::xshm_static)
    message(FATAL_ERROR "found xshm \${xshm_VERSION} without its targets")
endif()
find_package(xshm $((major + 1)) QUIET)
if(xshm_FOUND OR NOT "$version" IN_LIST xshm_CONSIDERED_VERSIONS)
    message(FATAL_ERROR "find_package(xshm $((major + 1))) accepted or did not consider xshm \${xshm_VERSION}")
endif()
EOF
    logged cmake -S "$work/src" -B "$work/build" "${args[@]}" || fail "the version check project"
    echo "find_package(xshm $major.$minor) found $version; find_package(xshm $((major + 1))) rejected it" ;;
cmake)
    link=$2
    mapfile -t args < <(consumer_args)
    logged cmake -S "$root/tests/consumer" -B "$work/build" "${args[@]}" -DCMAKE_BUILD_TYPE=Release \
        "-DXSHM_CONSUMER_LINK=$link" && logged cmake --build "$work/build" -v ||
        fail "tests/consumer did not build"
    # The package found must be this tree's, not one installed elsewhere.
    found=$(sed -n 's/^xshm_DIR:[A-Z]*=//p' "$work/build/CMakeCache.txt")
    [ "$(cd "$found" 2>/dev/null && pwd -P)" = "$(cd "$prefix/lib/cmake/xshm" && pwd -P)" ] ||
        fail "find_package found xshm in '$found', not in $prefix"
    exe=$work/build/consumer
    [ "$os" = windows ] && exe=$exe.exe
    if [ "$link" = static ] && shared_needed "$exe"; then fail "the static build loads the shared library"; fi
    run_ok "$exe"
    target=xshm::xshm
    [ "$link" = static ] && target=xshm::xshm_static
    echo "find_package(xshm 1) + $target: built and printed OK" ;;
pkgconfig)
    pc=$2
    command -v pkg-config >/dev/null 2>&1 ||
        { echo "SKIPPED: pkg-config is not installed (scripts/bootstrap.sh installs it)"; exit 77; }
    env=()
    if [ "$os" = windows ]; then
        # Cross: only this tree's .pc files.
        flags=$(PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config --cflags --libs "$pc" 2>>"$log")
        exe=$work/consumer.exe
        env=("WINEPATH=$(winepath -w "$prefix/bin" 2>/dev/null || echo "$prefix/bin")")
    else
        flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs "$pc" 2>>"$log")
        exe=$work/consumer
        env=("LD_LIBRARY_PATH=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=libdir "$pc")")
    fi
    [ -n "$flags" ] || fail "pkg-config found no $pc in $prefix/lib/pkgconfig"
    # shellcheck disable=SC2086  # the flags are words
    logged "$XSHM_CC" -o "$exe" "$root/tests/consumer/main.c" $flags ||
        fail "$XSHM_CC main.c \$(pkg-config --cflags --libs $pc)"
    if [ "$pc" = xshm-static ] && shared_needed "$exe"; then fail "the static build loads the shared library"; fi
    run_ok "$exe" "${env[@]}"
    echo "pkg-config $pc: built and printed OK" ;;
*)
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
