#!/usr/bin/env bash
# run.sh - build the C# bindings and their tests with Mono's compiler and run
# them with Mono against libxshm (CTest: dotnet_bindings, label bindings).
#
#   run.sh LIBDIR EXAMPLE_SERVER EXAMPLE_CLIENT README WORKDIR
#
# LIBDIR holds libxshm.so.1; EXAMPLE_SERVER / EXAMPLE_CLIENT are the C
# example programs ("-" when not built: their tests are then skipped, by
# name). Builds into WORKDIR: Xshm.dll (with the Span overloads, and once
# more without them, compiled only), XshmTests.exe, and one program per
# ```csharp block of README's "### From C#" section; then runs the tests and
# those programs (tests/Runner.cs). A README block is preceded by
#   <!-- readme-test fragment: ... (peer example_server) -->
# naming the C program it runs against: example_server, example_client or
# none. Exit status: the runner's; 77 (CTest SKIP_RETURN_CODE) when mono or
# a C# compiler is missing.
set -u
[ $# -eq 5 ] || { echo "usage: run.sh LIBDIR EXAMPLE_SERVER EXAMPLE_CLIENT README WORKDIR" >&2; exit 2; }
libdir=$1 server=$2 client=$3 readme=$4 work=$5
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/../src

mono=$(command -v mono || true)
csc=$(command -v mcs || command -v csc || true)
if [ -z "$mono" ] || [ -z "$csc" ]; then
    why=
    [ -n "$mono" ] || why="no mono"
    [ -n "$csc" ] || why="${why:+$why, }no mcs or csc"
    echo "SKIP dotnet_bindings: $why (Debian package mono-devel; scripts/bootstrap.sh installs it)"
    exit 77
fi
[ -e "$libdir/libxshm.so.1" ] || { echo "FAIL: no $libdir/libxshm.so.1"; exit 1; }
abs() { case $1 in -|/*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
libdir=$(abs "$libdir") server=$(abs "$server") client=$(abs "$client") readme=$(abs "$readme")

rm -rf "$work"
mkdir -p "$work/readme" "$work/nospan"
echo "# $("$csc" --version 2>&1 | head -n 1); $("$mono" --version | head -n 1)"

compile() { # compile OUT ARGS...: one compiler run, its messages shown on failure
    local out=$1
    shift
    if ! "$csc" -nologo -warnaserror+ -debug "$@" -out:"$out" >"$work/compile.log" 2>&1; then
        echo "FAIL: compiling $(basename "$out"):"
        cat "$work/compile.log"
        exit 1
    fi
}

# The library: with the Span overloads (XSHM_SPAN; Mono's corlib has
# Span<T>, .NET Standard 2.0 gets it from System.Memory), and without.
compile "$work/Xshm.dll" -target:library -unsafe -define:XSHM_SPAN "$src"/*.cs
compile "$work/nospan/Xshm.dll" -target:library -unsafe "$src"/*.cs
cp "$here/../Xshm.dll.config" "$work/"
compile "$work/XshmTests.exe" -define:XSHM_SPAN -r:"$work/Xshm.dll" -r:System.Core.dll "$here"/*.cs

# README's C# blocks, each a program.
snippets=()
if [ -f "$readme" ]; then
    awk -v out="$work/readme" '
        /^### / { in_sec = ($0 ~ /^### From C#[ \t]*$/); next }
        /^## /  { in_sec = 0; next }
        !in_sec { next }
        /<!--[ \t]*readme-test/ {
            peer = "?"
            if (match($0, /\(peer [a-z_]+\)/)) peer = substr($0, RSTART + 6, RLENGTH - 7)
            next
        }
        /^```csharp[ \t]*$/ { n++; f = sprintf("%s/csharp_L%d.cs", out, NR + 1); print f "=" peer; peer = "?"; blk = 1; next }
        blk && /^```/ { blk = 0; close(f); next }
        blk { print > f }
    ' "$readme" >"$work/readme/list" || { echo "FAIL: reading $readme"; exit 1; }
    while IFS= read -r entry; do
        file=${entry%=*} peer=${entry##*=}
        if [ "$peer" = "?" ]; then
            echo "FAIL: README.md block $(basename "$file" .cs): no <!-- readme-test fragment: ... (peer NAME) --> before it"
            exit 1
        fi
        exe=$work/$(basename "$file" .cs).exe
        compile "$exe" -r:"$work/Xshm.dll" "$file"
        snippets+=(--snippet "$exe=$peer")
    done <"$work/readme/list"
    if [ ${#snippets[@]} -eq 0 ]; then
        echo "FAIL: no \`\`\`csharp block in the \"### From C#\" section of $readme"
        exit 1
    fi
fi

export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cd "$work" || exit 1
# A hung runtime cannot report itself: bound the whole run.
timeout -k 10 400 "$mono" --debug XshmTests.exe --example-server "$server" --example-client "$client" \
    --header "$here/../../../include/shm_ipc.h" --mono "$mono" "${snippets[@]}"
rc=$?
[ $rc -ne 124 ] || echo "FAIL: the tests did not finish within 400 s"
exit $rc
