#!/usr/bin/env bash
# bootstrap.sh - make a Debian/Ubuntu machine ready to build and test xshm.
#
# Installs the compilers (with the aarch64 cross compiler), Wine, qemu-user,
# CMocka, python3 (tests/test_cli.sh checks the tool's JSON with it),
# python3-pytest, -pip, -setuptools and -wheel (the Python binding's tests,
# pip install among them), mono-devel (the C# bindings' test builds and
# runs them with Mono),
# cross-compiles CMocka from Debian's source package for win-x64,
# win-x86, linux-x86 and linux-arm64, tries to install wine32 and
# initialises a Wine prefix. Idempotent: when everything is present it only
# checks, which takes seconds. Prints one line per step.
#
# Environment:
#   XSHM_CACHE         cache folder (default $HOME/.cache/xshm): CMocka
#                      builds, the Wine prefix, wine32.status, bootstrap.log
#   XSHM_RETRY_WINE32  set to 1 to retry installing wine32 now, even if an
#                      attempt failed less than a day ago
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XSHM_CACHE:-$HOME/.cache/xshm}
mkdir -p "$cache"
log=$cache/bootstrap.log
: >"$log"

export DEBIAN_FRONTEND=noninteractive
sudo=
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi

step() { printf 'bootstrap: %s\n' "$*"; }

# run CMD...: run a command with its output going to the log; on failure show
# that command's output and stop.
run() {
    local out rc=0
    out=$(mktemp)
    "$@" >"$out" 2>&1 || rc=$?
    { printf '$ %s\n' "$*"; cat "$out"; } >>"$log"
    if [ "$rc" -ne 0 ]; then
        step "FAILED ($rc): $*"
        cat "$out" >&2
        rm -f "$out"
        exit "$rc"
    fi
    rm -f "$out"
}

# try CMD...: like run, but return the status instead of stopping; the
# command's output stays in $try_out until the next call.
try_out=$cache/last-command.log
try() {
    local rc=0
    "$@" >"$try_out" 2>&1 || rc=$?
    { printf '$ %s\n' "$*"; cat "$try_out"; } >>"$log"
    return "$rc"
}

apt_updated=0
apt_update() {
    if [ "$apt_updated" -eq 0 ]; then
        run $sudo apt-get update -qq
        apt_updated=1
    fi
}
apt_install() {
    apt_update
    run $sudo apt-get install -y -qq --no-install-recommends "$@"
}

# installed PKG...: print the packages of the list that are installed.
installed() {
    dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\n' "$@" 2>/dev/null |
        awk -F'\t' '$2 ~ /^ii/ { print $1 }' || true
}

# ---- 1. packages -----------------------------------------------------------

# gcc -m32 needs gcc-N-multilib and g++-N-multilib, N being the major version
# of the default gcc. Not the gcc-multilib metapackage: it conflicts with
# Debian's cross compilers (gcc-N-<triple>) for its /usr/include/asm link,
# which cmake/toolchain-linux-i386.cmake supplies in its place. Installing
# gcc-aarch64-linux-gnu below removes it where an earlier run installed it.
gcc_major=
if command -v gcc >/dev/null 2>&1; then
    gcc_major=$(gcc -dumpversion 2>/dev/null || true)
fi
if [ -z "$gcc_major" ]; then
    apt_update
    gcc_major=$(apt-cache depends gcc 2>/dev/null | sed -nE 's/^ *Depends: gcc-([0-9]+)$/\1/p' | head -n 1)
fi
gcc_major=${gcc_major%%.*}
if [ -z "$gcc_major" ]; then
    step "FAILED: cannot tell the version of gcc (gcc -dumpversion, apt-cache depends gcc)"
    exit 1
fi

pkgs=(build-essential cmake gcc g++ "gcc-$gcc_major-multilib" "g++-$gcc_major-multilib"
      gcc-mingw-w64-x86-64 gcc-mingw-w64-i686
      g++-mingw-w64-x86-64 g++-mingw-w64-i686
      gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
      wine wine64 libcmocka-dev dpkg-dev xz-utils clang valgrind file pkg-config python3
      python3-pytest python3-pip python3-setuptools python3-wheel mono-devel)
have=$(installed "${pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
    grep -qx -- "$p" <<<"$have" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    step "packages: all ${#pkgs[@]} present"
else
    step "packages: installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

# libFuzzer and the sanitizer runtimes of the default clang, for
# scripts/fuzz.sh: libclang-rt-dev (Debian 12: libclang-rt-14-dev). Ubuntu
# 22.04 has no such package: there clang's libclang-common-*-dev holds them.
if [ -n "$(installed libclang-rt-dev)" ]; then
    step "libclang-rt-dev: present"
else
    apt_update
    if apt-cache show libclang-rt-dev >/dev/null 2>&1; then
        step "libclang-rt-dev: installing"
        apt_install libclang-rt-dev
    else
        step "libclang-rt-dev: not in this distribution (clang's own package must provide libFuzzer)"
    fi
fi

# gnuplot draws the benchmark figures; nice to have, never required.
if [ -z "$(installed gnuplot-nox gnuplot-qt gnuplot-x11)" ] && ! command -v gnuplot >/dev/null; then
    apt_update
    if try $sudo apt-get install -y -qq --no-install-recommends gnuplot-nox; then
        step "gnuplot-nox: installed"
    else
        step "gnuplot-nox: not installed (optional; see $log)"
    fi
fi

# ---- 2. CMocka for the cross targets ---------------------------------------

# target:toolchain file
cross=(win-x64:toolchain-mingw-x64.cmake
       win-x86:toolchain-mingw-x86.cmake
       linux-x86:toolchain-linux-i386.cmake
       linux-arm64:toolchain-linux-aarch64.cmake)

cmocka_done() { [ -f "$cache/cmocka-$1/xshm-cmocka.stamp" ]; }

# Add a deb-src entry for the distribution's main suite if there is none.
ensure_deb_src() {
    local codename files line
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    shopt -s nullglob
    files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
    local deb822=(/etc/apt/sources.list.d/*.sources)
    shopt -u nullglob
    if grep -Eqs '^[[:space:]]*deb-src[[:space:]]' "${files[@]}" /dev/null ||
       grep -Eqs '^Types:.*\<deb-src\>' "${deb822[@]}" /dev/null; then
        step "deb-src: present"
    elif [ ${#deb822[@]} -gt 0 ] &&
         line=$(awk -v cn="$codename" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = uris = suites = comps = signed = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^#/ || !match($i, /^[A-Za-z-]+:/)) continue
                    key = tolower(substr($i, 1, RLENGTH - 1))
                    val = substr($i, RLENGTH + 1)
                    gsub(/^[ \t]+|[ \t]+$/, "", val)
                    if (key == "types") types = val
                    else if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "components") comps = val
                    else if (key == "signed-by") signed = val
                    else if (key == "enabled") enabled = val
                }
                split(suites, s, /[ \t]+/)
                if (enabled != "no" && (" " types " ") ~ / deb / && s[1] == cn && uris != "") {
                    printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n", uris, s[1], comps
                    if (signed ~ /^\//) printf "Signed-By: %s\n", signed
                    exit
                }
            }' "${deb822[@]}") && [ -n "$line" ]; then
        printf '%s\n' "$line" | $sudo tee /etc/apt/sources.list.d/xshm-deb-src.sources >/dev/null
        step "deb-src: added /etc/apt/sources.list.d/xshm-deb-src.sources"
        apt_updated=0
    elif line=$(grep -Eh "^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[a-z]+:[^[:space:]]+[[:space:]]+${codename}[[:space:]]" \
                    "${files[@]}" /dev/null | head -n 1) && [ -n "$line" ]; then
        printf '%s\n' "$line" | sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' |
            $sudo tee /etc/apt/sources.list.d/xshm-deb-src.list >/dev/null
        step "deb-src: added /etc/apt/sources.list.d/xshm-deb-src.list"
        apt_updated=0
    else
        step "deb-src: FAILED: no apt source for '$codename' to copy; add a deb-src line by hand"
        exit 1
    fi
    # apt-get source needs the Sources index, which a plain update may not
    # have fetched yet.
    if ! compgen -G '/var/lib/apt/lists/*_Sources*' >/dev/null; then
        apt_updated=0
    fi
    apt_update
}

todo=()
for t in "${cross[@]}"; do
    cmocka_done "${t%%:*}" || todo+=("$t")
done
if [ ${#todo[@]} -eq 0 ]; then
    step "cmocka: built for ${cross[*]%%:*} ($(cat "$cache/cmocka-win-x64/xshm-cmocka.stamp"))"
else
    ensure_deb_src
    srcdir=
    if [ -d "$cache/src" ]; then
        srcdir=$(find "$cache/src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | sort | tail -n 1)
    fi
    if [ -z "$srcdir" ]; then
        step "cmocka: downloading the Debian source package into $cache/src"
        mkdir -p "$cache/src"
        (cd "$cache/src" && run apt-get source -qq cmocka)
        srcdir=$(find "$cache/src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | sort | tail -n 1)
    fi
    version=$(dpkg-parsechangelog -l "$srcdir/debian/changelog" -S Version)
    for t in "${todo[@]}"; do
        target=${t%%:*} toolchain=$root/cmake/${t#*:}
        prefix=$cache/cmocka-$target bdir=$cache/build/cmocka-$target
        step "cmocka: building $version as a static library for $target"
        t0=$SECONDS
        rm -rf "$bdir" "$prefix"
        run cmake -S "$srcdir" -B "$bdir" \
            -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
            -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
            -DWITH_STATIC_LIB=ON \
            -DWITH_EXAMPLES=OFF \
            -DUNIT_TESTING=OFF \
            -DPICKY_DEVELOPER=OFF
        run cmake --build "$bdir" --target cmocka-static -j "$(nproc)"
        # Only the static archive and the headers: a test must not need a
        # cmocka DLL at run time.
        mkdir -p "$prefix/include" "$prefix/lib"
        cp "$srcdir"/include/cmocka.h "$srcdir"/include/cmocka_pbc.h "$prefix/include/"
        find "$bdir" -name 'libcmocka-static.a' -exec cp {} "$prefix/lib/" \;
        if [ ! -f "$prefix/lib/libcmocka-static.a" ]; then
            step "cmocka: FAILED: no libcmocka-static.a in $bdir"
            exit 1
        fi
        echo "cmocka $version" >"$prefix/xshm-cmocka.stamp"
        step "cmocka: $target done in $((SECONDS - t0)) s ($prefix)"
    done
fi

# ---- 3. wine32 ---------------------------------------------------------------

status=$cache/wine32.status
if [ -n "$(installed wine32:i386 wine32)" ]; then
    echo "ok" >"$status"
    step "wine32: installed"
elif [ -f "$status" ] && [ "$(head -n 1 "$status")" != ok ] && [ "${XSHM_RETRY_WINE32:-0}" != 1 ] &&
     [ $(( $(date +%s) - $(stat -c %Y "$status") )) -lt 86400 ]; then
    step "wine32: unavailable, not retried within a day of the last attempt (XSHM_RETRY_WINE32=1 forces it): $(head -n 1 "$status")"
else
    step "wine32: trying dpkg --add-architecture i386 && apt-get install wine32:i386"
    added=0
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        run $sudo dpkg --add-architecture i386
        added=1
    fi
    reason=
    # An index that fails to download is ignored by apt; the install may
    # still work, so try it either way and report both failures.
    if ! try $sudo apt-get update -qq; then
        reason="apt-get update: $(grep -m 1 -E '^E:' "$try_out" | tr -s ' \n' ' ' | sed 's/ *$//')"
    fi
    if try $sudo apt-get install -y -qq --no-install-recommends wine32:i386; then
        reason=
    else
        why=$(grep -m 1 -E '^E:' "$try_out" || true)
        # -qq hides the unmet dependencies; a simulation names one.
        $sudo apt-get install -s --no-install-recommends wine32:i386 >"$try_out" 2>&1 || true
        dep=$(grep -m 1 'Depends:' "$try_out" || true)
        [ -z "$dep" ] || why="unmet dependencies, e.g. $dep"
        reason="${reason:+$reason; }apt-get install wine32:i386: $(printf '%s' "$why" | tr -s ' \n' ' ')"
    fi
    if [ -z "$reason" ]; then
        echo "ok" >"$status"
        step "wine32: installed"
    else
        reason=$(printf '%s' "$reason" | sed -E 's/ ?\[IP: [^]]*\]//g' | cut -c1-400)
        if [ "$added" -eq 1 ]; then
            # Undo, so that later apt-get calls do not trip over i386.
            mapfile -t i386 < <(dpkg-query -W -f='${Package}:${Architecture}\t${db:Status-Abbrev}\n' 2>/dev/null |
                                awk -F'\t' '$1 ~ /:i386$/ && $2 !~ /^un/ { print $1 }')
            if [ ${#i386[@]} -gt 0 ]; then
                run $sudo apt-get purge -y -qq "${i386[@]}"
            fi
            run $sudo dpkg --remove-architecture i386
            apt_updated=0
            apt_update
        fi
        echo "wine32 not installable ($(date -u +%Y-%m-%d)): $reason" >"$status"
        step "wine32: unavailable: $(head -n 1 "$status")"
    fi
fi

# ---- 4. Wine prefix ----------------------------------------------------------

export WINEPREFIX=$cache/wine WINEDEBUG=-all
if [ -f "$WINEPREFIX/system.reg" ]; then
    step "wine prefix: $WINEPREFIX ready"
else
    step "wine prefix: initialising $WINEPREFIX (takes ~10 s once)"
    # No Mono/Gecko installer dialogs: the tests need neither.
    WINEDLLOVERRIDES="mscoree,mshtml=" run wineboot -i
    run wineserver -w
fi
step "done in $SECONDS s (log: $log)"
