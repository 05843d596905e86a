#!/usr/bin/env bash
# readme_examples.sh - README.md's code blocks, compiled and run (CTest label
# readme; tests/readme_examples.cmake registers the tests).
#
#   readme_examples.sh extract README OUTDIR
#   readme_examples.sh list OUTDIR [CMAKE BUILDDIR CONFIG]
#   readme_examples.sh run OUTDIR BLOCK CMAKE BUILDDIR TARGET CONFIG EXE [EMULATOR...]
#   readme_examples.sh project OUTDIR BLOCK CMAKE BUILDDIR CONFIG TOOLCHAIN FLAGS [EMULATOR...]
#
# extract (at configure time) sorts the fenced code blocks of README into
# OUTDIR/manifest, one line "KIND NAME LINE LANG" each (LINE: the block's
# first line in README), and writes the files the tests build:
#   program   a C block with a main(): OUTDIR/src/NAME is the block, built
#             as an executable against the shared library and run. NAME is
#             the file name its first line gives (/* hello.c - ... */),
#             otherwise block-L<LINE>.c.
#   fragment  a C block without main(): compiled (not run), wrapped in a
#             function, or at file scope if it defines a function.
#   project   a CMake block with project(): configured and built against the
#             library installed into a scratch prefix, with the README's
#             command (cmake -S . -B build && cmake --build build) and the
#             README's options (-DCMAKE_PREFIX_PATH, or -Dxshm_DIR and the
#             toolchain file when cross-compiling); its sources are the C
#             blocks it names, and its programs run as those blocks do.
#   commands  sh, bat, ...: commands, not programs; listed only.
#   skip      a block marked <!-- readme-test fragment: REASON --> (one that
#             cannot be compiled on its own); listed with the reason.
#   error     a block the extractor cannot place (another language, a CMake
#             block without project(), two blocks of one name, a marker
#             with an unknown line); the readme_blocks test fails on it.
# A C source differs from its block in two ways only: a #line directive
# maps every line back to README.md (a compiler error names README.md and
# the line), and a channel name given literally to shm_server_create() or
# shm_client_connect() comes from the variable XSHM_README_CHANNEL when it
# is set, so that runs of the tests never meet on one channel.
#
# How a program runs: by default once, with no arguments, and it must exit
# 0. An HTML comment on the lines just before the block can say otherwise,
# one line per process, in order:
#   <!-- readme-test: what it shows (free text)
#   start: hello server => server received "hello, server"
#   run: hello => client received "hello, client"
#   -->
# "start:" starts a process in the background, "run:" (the last line) in
# the foreground; the command is the program's name (its block name without
# .c) and its arguments, and "=> LINE" a line its output must contain. The
# foreground one is started again while it fails with "no channel with this
# name" (the background server is not there yet) and the server still runs,
# for up to 60 s; then every process must exit 0 within 60 s.
#
# list prints the blocks with what is done with each and fails if one is an
# error. run builds TARGET (the block's executable or object library) with
# `CMAKE --build BUILDDIR --target TARGET`, so that a block that no longer
# compiles fails its test by name, then runs EXE as above (EXE "-": a
# fragment, only compiled). project does the same for a CMake block. Each
# first has the build tree brought up to date with README.md (the target
# readme_check, which configures again when README.md changed). Exit status
# 0 when everything passed.
set -u

die() { echo "readme_examples.sh: $*" >&2; exit 2; }

# ---- extract --------------------------------------------------------------------

extract() {
    local readme=$1 out=$2 new
    [ -f "$readme" ] || die "no file $readme"
    mkdir -p "$out" || exit 1
    new=$(mktemp -d "$out/.new.XXXXXX") || exit 1
    mkdir -p "$new/blocks" "$new/src"
    awk -v out="$new" '
        function fail(msg) { errors[++nerr] = msg }
        function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
        # a marker line: directive, free text (first line only) or nothing
        function marker_line(s, first) {
            s = trim(s)
            if (s == "") return
            if (s ~ /^(start|run|fragment):/) { spec[++nspec] = s; return }
            if (!first) fail("README.md line " NR ": unknown line in a readme-test comment: " s)
        }
        function channel_subst(s,    res, m, q) {
            res = ""
            while (match(s, /(shm_server_create|shm_client_connect|SHM_CREATE_SERVER|SHM_CONNECT_CLIENT|SHM_SETUP_SERVER|SHM_SETUP_CLIENT)\([ \t]*"[^"]*"/)) {
                m = substr(s, RSTART, RLENGTH)
                q = index(m, "\"")
                res = res substr(s, 1, RSTART - 1) substr(m, 1, q - 1) "xshm_readme_channel_(" substr(m, q) ")"
                s = substr(s, RSTART + RLENGTH)
                nsubst++
            }
            return res s
        }
        function write_block(    name, kind, i, f, proj, has_main, at_file_scope, src, s) {
            kind = ""; why = ""; foreign = 0
            if (lang == "c") {
                name = ""
                for (i = 1; i <= n; i++) if (text[i] ~ /[^ \t]/) break
                if (i <= n && match(text[i], /^\/\*[ \t]*[A-Za-z0-9_.-]+\.c([ \t]|$)/)) {
                    name = text[i]; sub(/^\/\*[ \t]*/, "", name); sub(/[ \t].*$/, "", name)
                }
                if (name == "") name = "block-L" start ".c"
                has_main = 0
                for (i = 1; i <= n; i++) if (text[i] ~ /(^|[^A-Za-z0-9_])main[ \t]*\(/) has_main = 1
                kind = has_main ? "program" : "fragment"
            } else if (lang == "cmake") {
                proj = ""
                for (i = 1; i <= n; i++)
                    if (match(text[i], /^[ \t]*project[ \t]*\([ \t]*[A-Za-z0-9_.-]+/)) {
                        proj = substr(text[i], RSTART, RLENGTH); sub(/^.*\([ \t]*/, "", proj); break
                    }
                if (proj != "") { name = "project-" proj; kind = "project" }
                else { name = "cmake-L" start; kind = "error"; needs_marker = 1
                       why = "a CMake block without project(): mark it <!-- readme-test fragment: REASON -->" }
            } else if (lang ~ /^(sh|bash|console|shell|bat|cmd|powershell|ps1|text|txt)$/) {
                name = lang "-L" start; kind = "commands"
            } else {
                name = (lang == "" ? "block" : lang) "-L" start; kind = "error"; foreign = 1
                why = "a block in language \"" lang "\" that tests/readme_examples.sh cannot build: mark it <!-- readme-test fragment: REASON -->"
            }
            for (i = 1; i <= nspec; i++) {
                if (spec[i] ~ /^fragment:/) {
                    s = spec[i]; sub(/^fragment:[ \t]*/, "", s)
                    if (s == "") { kind = "error"; why = "\"fragment:\" without a reason" }
                    else if (kind != "error" || foreign) { kind = "skip"; why = s }
                } else if (kind != "program") {
                    kind = "error"; why = "\"" spec[i] "\": only a program can be run"
                }
            }
            if (kind == "program" && nspec > 0 && spec[nspec] !~ /^run:/) {
                kind = "error"; why = "the last line of its readme-test comment must be \"run: ...\""
            }
            if (name in seen) { kind = "error"; why = "a second block named " name " (the first is at line " seen[name] ")" }
            seen[name] = start
            print kind, name, start, (lang == "" ? "-" : lang) > (out "/manifest")
            f = out "/blocks/" name
            for (i = 1; i <= n; i++) print text[i] > f
            close(f)
            if (kind == "error" || kind == "skip") { print why > (out "/" name ".why"); close(out "/" name ".why") }
            if (kind == "program" && nspec > 0) {
                for (i = 1; i <= nspec; i++) print spec[i] > (out "/" name ".run")
                close(out "/" name ".run")
            }
            if (kind != "program" && kind != "fragment") return
            # The source the test compiles.
            nsubst = 0
            for (i = 1; i <= n; i++) line_out[i] = channel_subst(text[i])
            src = out "/src/" name
            print "/* " name ": README.md line " start ", extracted by tests/readme_examples.sh */" > src
            if (nsubst > 0) {
                print "#include <stdlib.h>" > src
                print "static const char *xshm_readme_channel_(const char *name)" > src
                print "{" > src
                print "    const char *env = getenv(\"XSHM_README_CHANNEL\");" > src
                print "    return env && *env ? env : name;" > src
                print "}" > src
            }
            if (kind == "program") {
                print "#line " start " \"README.md\"" > src
                for (i = 1; i <= n; i++) print line_out[i] > src
            } else {
                # A function definition (a line at column 0 ending in ")" or
                # ") {") keeps the fragment at file scope; otherwise it is
                # the body of a function. #include lines go before it.
                at_file_scope = 0
                for (i = 1; i <= n; i++)
                    if (text[i] ~ /^[A-Za-z_][A-Za-z0-9_ \t\*]*\(.*\)[ \t]*(\{[ \t]*)?$/) at_file_scope = 1
                print "#include <stdbool.h>" > src
                print "#include <stddef.h>" > src
                print "#include <stdint.h>" > src
                print "#include <stdio.h>" > src
                print "#include <stdlib.h>" > src
                print "#include <string.h>" > src
                print "#include <shm_ipc.h>" > src
                for (i = 1; i <= n; i++) if (text[i] ~ /^[ \t]*#[ \t]*include/) {
                    print "#line " (start + i - 1) " \"README.md\"" > src
                    print text[i] > src
                }
                if (!at_file_scope) {
                    print "void xshm_readme_fragment_(void);" > src
                    print "void xshm_readme_fragment_(void)" > src
                    print "{" > src
                }
                print "#line " start " \"README.md\"" > src
                for (i = 1; i <= n; i++) print (text[i] ~ /^[ \t]*#[ \t]*include/ ? "" : line_out[i]) > src
                if (!at_file_scope) print "}" > src
            }
            close(src)
        }
        # A readme-test comment applies to the code block that follows it,
        # blank lines apart (pending: one was read, its block not yet).
        BEGIN { in_block = 0; in_marker = 0; pending = 0; nspec = 0; nerr = 0 }
        {
            sub(/\r$/, "")
            if (in_block) {
                if ($0 ~ /^[ \t]*```[ \t]*$/) { write_block(); in_block = 0; nspec = 0; next }
                line = $0
                if (indent > 0 && substr(line, 1, indent) ~ /^[ \t]*$/) line = substr(line, indent + 1)
                text[++n] = line
                next
            }
            if (in_marker) {
                s = $0
                if (index(s, "-->")) { sub(/-->.*/, "", s); marker_line(s, 0); in_marker = 0; pending = 1; next }
                marker_line(s, 0)
                next
            }
            if ($0 ~ /^[ \t]*<!--[ \t]*readme-test/) {
                if (pending) fail("README.md line " marker_at ": a readme-test comment with no code block after it")
                nspec = 0; pending = 0; marker_at = NR
                s = $0; sub(/^[ \t]*<!--[ \t]*readme-test[ \t]*:?/, "", s)
                if (index(s, "-->")) { sub(/-->.*/, "", s); marker_line(s, 1); pending = 1; next }
                marker_line(s, 1); in_marker = 1
                next
            }
            if (match($0, /^[ \t]*```/)) {
                indent = RLENGTH - 3
                lang = $0; sub(/^[ \t]*```[ \t]*/, "", lang); sub(/[ \t].*$/, "", lang)
                if (!pending) nspec = 0
                pending = 0
                in_block = 1; start = NR + 1; n = 0
                next
            }
            if ($0 ~ /^[ \t]*$/) next
            if (pending) fail("README.md line " marker_at ": a readme-test comment not directly before a code block")
            pending = 0; nspec = 0
        }
        END {
            if (in_block) fail("README.md line " (start - 1) ": a code block is not closed")
            if (in_marker) fail("README.md line " marker_at ": a readme-test comment is not closed")
            if (pending) fail("README.md line " marker_at ": a readme-test comment with no code block after it")
            for (i = 1; i <= nerr; i++) print "error", "README.md", 0, "-", errors[i] > (out "/errors")
            printf "" >> (out "/manifest")
        }' "$readme" || { rm -rf "$new"; die "awk failed on $readme"; }
    # Replace the old files, touching only those that changed (a rebuild
    # then compiles only what changed).
    local f rel
    while IFS= read -r f; do
        rel=${f#"$new"/}
        mkdir -p "$(dirname "$out/$rel")"
        cmp -s "$f" "$out/$rel" || cp "$f" "$out/$rel"
    done < <(find "$new" -type f)
    while IFS= read -r f; do
        rel=${f#"$out"/}
        case $rel in .new.*|work/*) continue ;; esac
        [ -e "$new/$rel" ] || rm -f "$f"
    done < <(find "$out" -type f)
    rm -rf "$new"
}

# ---- list -----------------------------------------------------------------------

list() {
    local out=$1 kind name line lang rc=0 what
    if [ $# -ge 4 ]; then
        refresh "$2" "$3" "$4" || return 1
    fi
    [ -f "$out/manifest" ] || { echo "FAIL - no $out/manifest: configure the build again"; return 1; }
    echo "# README.md code blocks ($out/manifest)"
    while read -r kind name line lang; do
        case $kind in
            program) what="program: built and run by test readme_$(stem "$name")" ;;
            fragment) what="fragment: compiled by test readme_$(stem "$name")" ;;
            project) what="CMake project: configured, built and run by test readme_$(stem "$name")" ;;
            commands) what="commands ($lang), not a program: not run" ;;
            skip) what="skipped: $(cat "$out/$name.why")" ;;
            *) what="FAIL: $(cat "$out/$name.why")"; rc=1 ;;
        esac
        if [ "$kind" = skip ]; then
            echo "skip - $name (README.md line $line): $(cat "$out/$name.why")"
        else
            printf '%-6s %-24s line %-4s %s\n' "$([ "$kind" = error ] && echo FAIL || echo ok)" "$name" "$line" "$what"
        fi
    done <"$out/manifest"
    if [ -s "$out/errors" ]; then
        sed 's/^error README.md 0 - /FAIL   /' "$out/errors"
        rc=1
    fi
    return $rc
}

# stem NAME: the name without .c, with . and - as _ (for target and test names)
stem() { local s=${1%.c}; s=${s//./_}; echo "${s//-/_}"; }

# ---- run: build a block's target, then run its program(s) -------------------------

# refresh CMAKE BUILDDIR CONFIG: configure again if README.md changed.
refresh() {
    local log
    log=$(mktemp)
    if ! "$1" --build "$2" --target readme_check ${3:+--config "$3"} >"$log" 2>&1; then
        echo "FAIL - the build tree could not be brought up to date with README.md:"
        sed 's/^/       | /' "$log"
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

# build_target CMAKE BUILDDIR TARGET CONFIG NAME LINE: build it, or fail by name.
build_target() {
    local cmake=$1 bdir=$2 target=$3 config=$4 name=$5 line=$6 log
    log=$(mktemp)
    if "$cmake" --build "$bdir" --target "$target" ${config:+--config "$config"} >"$log" 2>&1; then
        echo "ok   - README block $name (README.md line $line) compiles (target $target)"
        rm -f "$log"
        return 0
    fi
    echo "FAIL - README block $name (README.md line $line) does not compile (target $target):"
    grep -E 'README\.md:[0-9]+|error|Error' "$log" | head -n 40 | sed 's/^/       | /'
    echo "       (the whole build output:)"
    sed 's/^/       | /' "$log"
    rm -f "$log"
    return 1
}

# run_spec OUTDIR BLOCK LABEL WORK PROGRAM=PATH [EMULATOR...]: run a program
# block's processes as its readme-test comment says (PROGRAM: the command's
# first word, PATH the executable; LABEL names the test in its messages).
run_spec() {
    local out=$1 block=$2 name=$3 work=$4 prog=${5%%=*} exe=${5#*=}
    shift 5
    local emu=("$@") specs=() spec cmd expect words i rc=0 deadline
    if [ -f "$out/$block.run" ]; then
        mapfile -t specs <"$out/$block.run"
    else
        specs=("run: $prog")
    fi
    mkdir -p "$work" || return 1
    export XSHM_README_CHANNEL="readme-$$-$RANDOM"
    echo "# channel: $XSHM_README_CHANNEL (in place of the README's literal name)"
    local outs=() cmds=() expects=() codes=()
    bg_pids=()
    trap 'for p in "${bg_pids[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT
    for i in "${!specs[@]}"; do
        spec=${specs[$i]}
        cmd=${spec#*:}
        expect=
        case $cmd in *=\>*) expect=${cmd#*=>}; cmd=${cmd%%=>*} ;; esac
        cmd=$(echo "$cmd" | sed -E 's/^[ \t]+|[ \t]+$//g')
        expect=$(echo "$expect" | sed -E 's/^[ \t]+|[ \t]+$//g')
        read -r -a words <<<"$cmd"
        if [ "${words[0]:-}" != "$prog" ]; then
            echo "FAIL - $name: \"$spec\" does not run $prog"
            return 1
        fi
        cmds[$i]=$cmd
        expects[$i]=$expect
        outs[$i]=$work/out.$i
        if [ "${spec%%:*}" = start ]; then
            ${emu[@]+"${emu[@]}"} "$exe" "${words[@]:1}" >"${outs[$i]}" 2>&1 </dev/null &
            bg_pids[$i]=$!
            echo "# started: $cmd (in the background)"
            continue
        fi
        # The foreground process: again while the channel is not there yet
        # and the background processes still run.
        deadline=$((SECONDS + 60))
        while :; do
            ${emu[@]+"${emu[@]}"} "$exe" "${words[@]:1}" >"${outs[$i]}" 2>&1 </dev/null
            rc=$?
            [ "$rc" -ne 0 ] && grep -q 'no channel with this name' "${outs[$i]}" || break
            local alive=1 p
            for p in "${bg_pids[@]}"; do kill -0 "$p" 2>/dev/null || alive=0; done
            [ "$alive" = 1 ] && [ "$SECONDS" -lt "$deadline" ] || break
            sleep 0.1
        done
        echo "# ran: $cmd (exit $rc)"
        codes[$i]=$rc
    done
    # The background processes end by themselves.
    local p
    for i in "${!bg_pids[@]}"; do
        p=${bg_pids[$i]}
        deadline=$((SECONDS + 60))
        while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
        if kill -0 "$p" 2>/dev/null; then
            kill -9 "$p" 2>/dev/null
            wait "$p" 2>/dev/null
            codes[$i]=timeout
        else
            wait "$p"
            codes[$i]=$?
        fi
    done
    trap - EXIT
    local ok=0
    for i in "${!specs[@]}"; do
        if [ "${codes[$i]}" = 0 ]; then
            echo "ok   - $name: \"${cmds[$i]}\" exits 0"
        else
            echo "FAIL - $name: \"${cmds[$i]}\" exits ${codes[$i]}"
            ok=1
        fi
        if [ -n "${expects[$i]}" ]; then
            if tr -d '\r' <"${outs[$i]}" | grep -qxF -- "${expects[$i]}"; then
                echo "ok   - $name: \"${cmds[$i]}\" prints: ${expects[$i]}"
            else
                echo "FAIL - $name: \"${cmds[$i]}\" does not print: ${expects[$i]}"
                ok=1
            fi
        fi
        echo "       output of \"${cmds[$i]}\":"
        tr -d '\r' <"${outs[$i]}" | sed 's/^/       | /'
    done
    return $ok
}

# manifest_entry OUTDIR NAME: "KIND LINE" of block NAME
manifest_entry() {
    awk -v n="$2" '$2 == n { print $1, $3; found = 1 } END { exit !found }' "$1/manifest"
}

run_block() {
    local out=$1 name=$2 cmake=$3 bdir=$4 target=$5 config=$6 exe=$7
    shift 7
    local entry kind line
    entry=$(manifest_entry "$out" "$name") || { echo "FAIL - no README block $name any more (configure again)"; return 1; }
    read -r kind line <<<"$entry"
    build_target "$cmake" "$bdir" "$target" "$config" "$name" "$line" || return 1
    # The build may have configured again (README.md changed): look again.
    entry=$(manifest_entry "$out" "$name") || { echo "FAIL - no README block $name any more"; return 1; }
    read -r kind line <<<"$entry"
    [ "$kind" = program ] || return 0
    run_spec "$out" "$name" "$name" "$out/work/$name" "${name%.c}=$exe" "$@"
}

# ---- project: a CMake block, built against an installed xshm ----------------------

run_project() {
    local out=$1 name=$2 cmake=$3 bdir=$4 config=$5 toolchain=$6 flags=$7
    shift 7
    local emu=("$@") entry kind line work prefix exe target sources s args=() log
    refresh "$cmake" "$bdir" "$config" || return 1
    entry=$(manifest_entry "$out" "$name") || { echo "FAIL - no README block $name any more (configure again)"; return 1; }
    read -r kind line <<<"$entry"
    work=$out/work/$name
    prefix=$work/prefix
    rm -rf "$work"
    mkdir -p "$work/src" || return 1
    log=$work/install.log
    if ! "$cmake" --install "$bdir" --prefix "$prefix" ${config:+--config "$config"} >"$log" 2>&1; then
        echo "FAIL - $name: cmake --install $bdir --prefix $prefix failed:"
        sed 's/^/       | /' "$log"
        return 1
    fi
    echo "# installed the build into $prefix"
    cp "$out/blocks/$name" "$work/src/CMakeLists.txt"
    # add_executable(TARGET SOURCES...): each source is a README program block.
    read -r target sources < <(sed -nE 's/^[ \t]*add_executable\([ \t]*([A-Za-z0-9_.-]+)[ \t]+([^)]*)\).*/\1 \2/p' \
                                  "$work/src/CMakeLists.txt" | head -n 1)
    if [ -z "${target:-}" ]; then
        echo "FAIL - $name (README.md line $line): no add_executable(NAME SOURCE...) to build"
        return 1
    fi
    for s in $sources; do
        if ! manifest_entry "$out" "$s" >/dev/null || [ ! -f "$out/src/$s" ]; then
            echo "FAIL - $name (README.md line $line): $s is not a C program block of README.md"
            return 1
        fi
        cp "$out/src/$s" "$work/src/$s"
    done
    # The README's commands: cmake -S . -B build && cmake --build build, with
    # -DCMAKE_PREFIX_PATH=<prefix>; when cross-compiling also the toolchain
    # and -Dxshm_DIR=<prefix>/lib/cmake/xshm.
    args=(-DCMAKE_PREFIX_PATH="$prefix")
    if [ -n "$toolchain" ]; then
        args+=(-DCMAKE_TOOLCHAIN_FILE="$toolchain" -Dxshm_DIR="$prefix/lib/cmake/xshm")
    fi
    if [ -n "$flags" ]; then # a sanitizer build: the program needs the same runtime
        args+=(-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags")
    fi
    log=$work/build.log
    if ! (cd "$work/src" && "$cmake" -S . -B build "${args[@]}" && "$cmake" --build build) >"$log" 2>&1; then
        echo "FAIL - README block $name (README.md line $line) does not build:"
        sed 's/^/       | /' "$log"
        return 1
    fi
    echo "ok   - README block $name (README.md line $line) configures and builds: cmake -S . -B build ${args[*]} && cmake --build build"
    exe=$(find "$work/src/build" -maxdepth 2 -type f \( -name "$target" -o -name "$target.exe" \) | head -n 1)
    [ -n "$exe" ] || { echo "FAIL - $name: no program $target in $work/src/build"; return 1; }
    case $exe in
        *.exe) # Windows finds xshm.dll beside the program (README: copy it there)
            cp "$prefix"/bin/*.dll "$(dirname "$exe")/" || return 1 ;;
    esac
    # The program runs as its block says (its name is the executable's).
    local block=${sources%% *}
    run_spec "$out" "$block" "$name" "$work/run" "$target=$exe" ${emu[@]+"${emu[@]}"}
}

mode=${1:-}
shift || true
case $mode in
    extract) [ $# -eq 2 ] || die "usage: extract README OUTDIR"; extract "$@" ;;
    list) [ $# -eq 1 ] || [ $# -eq 4 ] || die "usage: list OUTDIR [CMAKE BUILDDIR CONFIG]"; list "$@" ;;
    run) [ $# -ge 7 ] || die "usage: run OUTDIR BLOCK CMAKE BUILDDIR TARGET CONFIG EXE [EMULATOR...]"; run_block "$@" ;;
    project) [ $# -ge 7 ] || die "usage: project OUTDIR BLOCK CMAKE BUILDDIR CONFIG TOOLCHAIN FLAGS [EMULATOR...]"; run_project "$@" ;;
    *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
