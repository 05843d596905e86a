#!/usr/bin/env bash
# test-install.sh - install xshm and build programs against the installed tree.
#
#   scripts/test-install.sh [--targets linux-x64,win-x64] [--build DIR] [-j N]
#
# For each target, from its build folder DIR/<target> (default build/<target>,
# configured with the CMake preset, after scripts/bootstrap.sh, if it does not
# exist yet): builds it, installs it with `cmake --install` into
# DIR/install/<target>, checks the installed files and find_package's version
# check, then builds tests/consumer/main.c against that tree four ways and
# runs it (it must print OK):
#   find_package   tests/consumer/CMakeLists.txt, xshm::xshm and xshm::xshm_static
#   pkg-config     cc main.c $(pkg-config --cflags --libs xshm), and xshm-static
# win-x64 is built with MinGW-w64 (the CMake builds with
# cmake/toolchain-mingw-x64.cmake) and run under Wine, with xshm.dll copied
# beside the program (CMake) or found through WINEPATH (pkg-config); its
# xshm.dll must carry a version resource with the header's version.
#
# Prints one PASS / FAIL / SKIPPED line per case, the log of each failure,
# and last "N passed, N failed, N skipped"; exits non-zero if a case failed.
# Work files: DIR/test-install/<target>/<case>/ (log.txt in each).
set -uo pipefail

all_targets=(linux-x64 win-x64)

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
targets=("${all_targets[@]}")
build=$root/build
jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
    case $1 in
        --targets) IFS=, read -r -a targets <<<"${2:-}"; shift 2 ;;
        --targets=*) IFS=, read -r -a targets <<<"${1#*=}"; shift ;;
        --build) build=${2:?--build needs a folder}; shift 2 ;;
        --build=*) build=${1#*=}; shift ;;
        -j) jobs=${2:-}; shift 2 ;;
        -j*) jobs=${1#-j}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "test-install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case $jobs in ''|*[!0-9]*|0) echo "test-install.sh: -j needs a positive number" >&2; exit 2 ;; esac
for t in "${targets[@]}"; do
    case " ${all_targets[*]} " in
        *" $t "*) ;;
        *) echo "test-install.sh: unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2 ;;
    esac
done
mkdir -p "$build" || exit 1
build=$(cd "$build" && pwd)
cd "$root" || exit 1

consumer=$root/tests/consumer
cache=${XSHM_CACHE:-$HOME/.cache/xshm}
export WINEPREFIX=${WINEPREFIX:-$cache/wine} WINEDEBUG=-all

# The version of the header, as CMake reads it.
ver() { sed -nE "s/^#define SHM_VERSION_$1 +([0-9]+).*/\1/p" "$root/include/shm_ipc.h"; }
major=$(ver MAJOR) minor=$(ver MINOR) patch=$(ver PATCH)
version=$major.$minor.$patch

passed=0 failed=0 skipped=0
bootstrapped=0

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
skip() { echo "SKIPPED: $1: $2"; skipped=$((skipped + 1)); }
# fail NAME WHY [LOG]: report, with the end of the log.
fail() {
    echo "FAIL: $1: $2"
    if [ -n "${3:-}" ] && [ -s "$3" ]; then
        tail -n 40 "$3" | sed 's/^/   | /'
        echo "   (full log: $3)"
    fi
    failed=$((failed + 1))
}

# logged LOG CMD...: run CMD with its output appended to LOG.
logged() {
    local log=$1
    shift
    printf '$ %s\n' "$*" >>"$log"
    "$@" >>"$log" 2>&1
}

# pkg-config, installed like scripts/bootstrap.sh installs packages.
pkgconfig_reason=
if ! command -v pkg-config >/dev/null 2>&1; then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "test-install: installing pkg-config"
    if ! { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends pkg-config ||
           { $sudo apt-get update -qq &&
             DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends pkg-config; }; } \
         >/dev/null 2>&1; then
        pkgconfig_reason="pkg-config is not installed and apt-get could not install it"
    fi
fi

wine_reason=
if ! command -v wine >/dev/null 2>&1; then
    wine_reason="wine is not installed (scripts/bootstrap.sh installs it)"
fi

# ---- per target ----------------------------------------------------------------

# prepare TARGET: configure (if needed), build and install; 0 on success.
prepare() {
    local t=$1 dir=$build/$1 prefix=$build/install/$1 work=$build/test-install/$1
    rm -rf "$work" "$prefix"
    mkdir -p "$work"
    local log=$work/install.log
    : >"$log"
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        # A first build of the target needs the compilers and CMocka.
        if [ "$bootstrapped" = 0 ]; then
            if ! logged "$log" "$root/scripts/bootstrap.sh"; then
                fail "$t: install" "scripts/bootstrap.sh failed" "$log"
                return 1
            fi
            bootstrapped=1
        fi
        if ! logged "$log" cmake --preset "$t" -B "$dir"; then
            fail "$t: install" "cmake --preset $t failed" "$log"
            return 1
        fi
    fi
    if ! logged "$log" cmake --build "$dir" -j "$jobs"; then
        fail "$t: install" "cmake --build $dir failed" "$log"
        return 1
    fi
    if ! logged "$log" cmake --install "$dir" --prefix "$prefix"; then
        fail "$t: install" "cmake --install $dir --prefix $prefix failed" "$log"
        return 1
    fi
    return 0
}

# check_layout TARGET: the installed files.
check_layout() {
    local t=$1 prefix=$build/install/$1 missing=() f
    local files=(include/shm_ipc.h
                 lib/cmake/xshm/xshm-config.cmake
                 lib/cmake/xshm/xshm-config-version.cmake
                 lib/cmake/xshm/xshm-targets.cmake
                 lib/pkgconfig/xshm.pc
                 lib/pkgconfig/xshm-static.pc
                 lib/libxshm_static.a)
    case $t in
        win-*) files+=(bin/xshm.dll lib/libxshm.dll.a) ;;
        *)     files+=(lib/libxshm.so "lib/libxshm.so.$major" "lib/libxshm.so.$version") ;;
    esac
    for f in "${files[@]}"; do
        [ -e "$prefix/$f" ] || missing+=("$f")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        fail "$t: installed files" "missing in $prefix: ${missing[*]}"
        return
    fi
    case $t in
        linux-*)
            local soname
            soname=$(readelf -d "$prefix/lib/libxshm.so.$version" 2>/dev/null |
                     sed -nE 's/.*SONAME.*\[(.*)\].*/\1/p')
            if [ "$soname" != "libxshm.so.$major" ]; then
                fail "$t: installed files" "SONAME is '$soname', not libxshm.so.$major"
                return
            fi
            pass "$t: installed files (libxshm.so.$version, SONAME $soname, static library, CMake package, .pc files)" ;;
        *)
            pass "$t: installed files (bin/xshm.dll, lib/libxshm.dll.a, static library, CMake package, .pc files)" ;;
    esac
}

# check_version_resource: VERSIONINFO of the installed xshm.dll.
check_version_resource() {
    local t=$1 dll=$build/install/$1/bin/xshm.dll objcopy=x86_64-w64-mingw32-objcopy
    local strs hex sig fixed
    # The string table: FileVersion and ProductVersion, UTF-16.
    strs=$(strings -el "$dll" | grep -A1 -E '^(FileVersion|ProductVersion)$' | tr '\n' ' ')
    if ! grep -q "FileVersion $version " <<<"$strs" || ! grep -q "ProductVersion $version " <<<"$strs"; then
        fail "$t: version resource" "xshm.dll has no FileVersion/ProductVersion $version (found: ${strs:-nothing})"
        return
    fi
    # The binary VS_FIXEDFILEINFO: signature FEEF04BD, struct version, then
    # the file version as (major << 16 | minor), (patch << 16 | 0), little-endian.
    local rsrc=$build/test-install/$t/rsrc.bin
    if ! "$objcopy" -O binary --only-section=.rsrc "$dll" "$rsrc" 2>/dev/null; then
        fail "$t: version resource" "$objcopy could not extract .rsrc"
        return
    fi
    hex=$(od -An -v -tx1 "$rsrc" | tr -d ' \n')
    sig=bd04effe
    fixed=${hex#*"$sig"}
    if [ "$fixed" = "$hex" ]; then
        fail "$t: version resource" "no VS_FIXEDFILEINFO in xshm.dll"
        return
    fi
    le16() { printf '%02x%02x' $(($1 & 255)) $(($1 >> 8)); }
    local want
    want=$(le16 "$minor")$(le16 "$major")0000$(le16 "$patch")
    if [ "${fixed:8:16}" != "$want" ]; then
        fail "$t: version resource" "FILEVERSION bytes ${fixed:8:16}, expected $want ($major,$minor,$patch,0)"
        return
    fi
    pass "$t: version resource of xshm.dll (FILEVERSION $major,$minor,$patch,0, FileVersion \"$version\")"
}

# run_program CASE LOG EXE [ENV...]: run EXE (under Wine for .exe); it must
# print OK. Returns 0, 1 (failed) or 2 (cannot run: Wine missing).
run_program() {
    local name=$1 log=$2 exe=$3 out rc=0
    shift 3
    case $exe in
        *.exe)
            [ -z "$wine_reason" ] || return 2
            out=$(env "$@" timeout 120 wine "$exe" 2>>"$log") || rc=$? ;;
        *)
            out=$(env "$@" timeout 60 "$exe" 2>>"$log") || rc=$? ;;
    esac
    out=${out//$'\r'/}  # Wine: CRLF
    printf '%s\n' "$out" >>"$log"
    if [ "$rc" -ne 0 ] || [ "$out" != OK ]; then
        echo "exit status $rc, output '$out'" >>"$log"
        return 1
    fi
    return 0
}

# not_linked_to_shared EXE: true if EXE does not load libxshm.so / xshm.dll.
not_linked_to_shared() {
    case $1 in
        *.exe) ! x86_64-w64-mingw32-objdump -p "$1" | grep -qi 'DLL Name: xshm.dll' ;;
        *)     ! readelf -d "$1" | grep -q 'NEEDED.*libxshm\.so' ;;
    esac
}

# finish CASE LOG EXE RC [ENV...]: run EXE and report CASE.
finish() {
    local name=$1 log=$2 exe=$3 static=$4 r=0
    shift 4
    if [ "$static" = static ] && ! not_linked_to_shared "$exe"; then
        fail "$name" "the static build depends on the shared library" "$log"
        return
    fi
    run_program "$name" "$log" "$exe" "$@" || r=$?
    case $r in
        0) pass "$name" ;;
        2) skip "$name" "built, not run: $wine_reason" ;;
        *) fail "$name" "the program did not print OK" "$log" ;;
    esac
}

# case_cmake TARGET shared|static
case_cmake() {
    local t=$1 link=$2
    local work=$build/test-install/$1/cmake-$2 name="$1: find_package(xshm 1) + xshm::xshm"
    [ "$link" = static ] && name="$1: find_package(xshm 1) + xshm::xshm_static"
    local log=$work/log.txt args
    mkdir -p "$work"
    : >"$log"
    mapfile -t args < <(consumer_args "$t")
    args+=(-DCMAKE_BUILD_TYPE=Release "-DXSHM_CONSUMER_LINK=$link")
    if ! logged "$log" cmake -S "$consumer" -B "$work/build" "${args[@]}" ||
       ! logged "$log" cmake --build "$work/build" -v; then
        fail "$name" "the consumer project did not build" "$log"
        return
    fi
    # The package found must be this tree's, not one installed elsewhere.
    local found
    found=$(sed -n 's/^xshm_DIR:[A-Z]*=//p' "$work/build/CMakeCache.txt")
    if [ "$(cd "$found" 2>/dev/null && pwd -P)" != "$(cd "$build/install/$t/lib/cmake/xshm" && pwd -P)" ]; then
        fail "$name" "find_package found xshm in '$found', not in $build/install/$t" "$log"
        return
    fi
    local exe=$work/build/consumer
    [[ $t == win-* ]] && exe=$exe.exe
    finish "$name" "$log" "$exe" "$link"
}

# case_pkgconfig TARGET xshm|xshm-static
case_pkgconfig() {
    local t=$1 pc=$2 prefix=$build/install/$1
    local work=$build/test-install/$1/pkgconfig-$2 name="$1: pkg-config $2"
    local log=$work/log.txt cc=cc flags exe env=()
    mkdir -p "$work"
    : >"$log"
    if [ -n "$pkgconfig_reason" ]; then
        skip "$name" "$pkgconfig_reason"
        return
    fi
    case $t in
        win-*)
            # Cross: only the Windows tree's .pc files.
            cc=x86_64-w64-mingw32-gcc
            flags=$(PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config --cflags --libs "$pc" 2>>"$log")
            exe=$work/consumer.exe
            env=("WINEPATH=$(winepath -w "$prefix/bin" 2>/dev/null || echo "$prefix/bin")") ;;
        *)
            flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs "$pc" 2>>"$log")
            exe=$work/consumer
            env=("LD_LIBRARY_PATH=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=libdir "$pc")") ;;
    esac
    if [ -z "$flags" ]; then
        fail "$name" "pkg-config found no $pc in $prefix/lib/pkgconfig" "$log"
        return
    fi
    local link=shared
    [ "$pc" = xshm-static ] && link=static
    # shellcheck disable=SC2086  # the flags are words
    if ! logged "$log" "$cc" -o "$exe" "$consumer/main.c" $flags; then
        fail "$name" "$cc main.c \$(pkg-config --cflags --libs $pc) failed" "$log"
        return
    fi
    finish "$name" "$log" "$exe" "$link" "${env[@]}"
}

# consumer_args TARGET: the cmake arguments that find the installed package.
consumer_args() {
    local prefix=$build/install/$1
    echo "-DCMAKE_PREFIX_PATH=$prefix"
    case $1 in
        win-*)
            # The MinGW toolchain file confines find_package to its roots
            # (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY): name the package folder.
            echo "-DCMAKE_TOOLCHAIN_FILE=$root/cmake/toolchain-mingw-x64.cmake"
            echo "-Dxshm_DIR=$prefix/lib/cmake/xshm" ;;
    esac
}

# case_version TARGET: find_package accepts the installed major version only.
case_version() {
    local t=$1 work=$build/test-install/$1/version args
    local log=$work/log.txt name="$1: find_package version check (SameMajorVersion)"
    mkdir -p "$work/src"
    : >"$log"
    mapfile -t args < <(consumer_args "$t")
    cat >"$work/src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.15)
project(xshm_version_check LANGUAGES C)
find_package(xshm $major.$minor REQUIRED)
if(NOT xshm_VERSION VERSION_EQUAL "$version" OR NOT TARGET xshm::xshm OR NOT TARGET xshm::xshm_static)
    message(FATAL_ERROR "found xshm \${xshm_VERSION} without its targets")
endif()
# Second: a rejected version clears xshm_DIR.
find_package(xshm $((major + 1)) QUIET)
if(xshm_FOUND)
    message(FATAL_ERROR "find_package(xshm $((major + 1))) accepted xshm \${xshm_VERSION}")
endif()
if(NOT "$version" IN_LIST xshm_CONSIDERED_VERSIONS)
    message(FATAL_ERROR "find_package(xshm $((major + 1))) did not consider the installed package")
endif()
message(STATUS "xshm $((major + 1)) rejected; considered: \${xshm_CONSIDERED_VERSIONS}")
EOF
    if logged "$log" cmake -S "$work/src" -B "$work/build" "${args[@]}"; then
        pass "$name"
    else
        fail "$name" "the version check project failed" "$log"
    fi
}

start=$SECONDS
for t in "${targets[@]}"; do
    echo "== $t: install into ${build#"$root"/}/install/$t"
    if ! prepare "$t"; then
        continue
    fi
    check_layout "$t"
    [[ $t == win-* ]] && check_version_resource "$t"
    case_version "$t"
    case_cmake "$t" shared
    case_cmake "$t" static
    case_pkgconfig "$t" xshm
    case_pkgconfig "$t" xshm-static
done

echo "== done in $((SECONDS - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
