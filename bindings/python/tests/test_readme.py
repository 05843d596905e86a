"""Every ```python block of README.md's "From Python" section, run.

A block that connects an xshm.Client runs against the C example_server
(started first; it must exit 0: a client came and left); one that creates an
xshm.Server runs with the C example_client (started after it; it must exit
0: every echo came back intact). The channel names the block gives are
replaced by one of the test's own, so that runs never meet."""

import os
import re
import subprocess
import sys

import pytest

from conftest import DEADLINE_S, EXAMPLE_CLIENT, EXAMPLE_SERVER, PACKAGE_DIR, SOURCE_DIR, \
    program

SECTION = "From Python"


def python_blocks():
    """[(line, code)] of the section's ```python blocks."""
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"#+ +%s\s*$" % SECTION, line)),
                 None)
    if start is None:
        return []
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    blocks, code, at = [], None, 0
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if code is None:
            m = re.match(r"(#+) ", line)
            if m and len(m.group(1)) <= level:
                break  # the next section
            if re.match(r"\s*```\s*python\s*$", line):
                code, at = [], i + 2
        elif re.match(r"\s*```\s*$", line):
            blocks.append((at, "\n".join(code) + "\n"))
            code = None
        else:
            code.append(line)
    return blocks


BLOCKS = python_blocks()


def test_the_section_has_snippets():
    assert len(BLOCKS) >= 2, "README.md has no \"%s\" section with ```python blocks" % SECTION


def own_channel(code, name):
    names = set(re.findall(r'xshm\.(?:Server|Client)\(\s*"([^"]+)"', code))
    for n in names:
        code = code.replace('"%s"' % n, '"%s"' % name)
    return code


def run_snippet(path, timeout):
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    return subprocess.run([sys.executable, path], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("line,code", BLOCKS, ids=["README.md:%d" % b[0] for b in BLOCKS])
def test_snippet(line, code, channel, tmp_path, processes):
    uses_client = "xshm.Client(" in code
    uses_server = "xshm.Server(" in code
    assert not (uses_client and uses_server), "a snippet with both ends: no C peer to pick"
    script = tmp_path / ("readme_%d.py" % line)
    # Lines keep their place: a traceback names README.md's line minus `line`.
    script.write_text(own_channel(code, channel))

    if uses_client:
        server = processes([program(EXAMPLE_SERVER, "example_server"), channel,
                            str(int(DEADLINE_S))])
        server.wait_line("ready, waiting for a client")
        r = run_snippet(str(script), DEADLINE_S)
        assert r.returncode == 0, "README.md line %d:\n%s%s" % (line, r.stdout, r.stderr)
        rc, output = server.finish()
        assert rc == 0, output
        assert "client connected" in output and "client disconnected" in output
    elif uses_server:
        client_path = program(EXAMPLE_CLIENT, "example_client")
        snippet = processes([sys.executable, str(script)], env=dict(os.environ,
                                                                   PYTHONPATH=PACKAGE_DIR))
        client = processes([client_path, channel, "200"])
        rc, output = client.finish()
        assert rc == 0, output
        assert "200 echoes" in output and "all intact" in output
        rc, output = snippet.finish()
        assert rc == 0, "README.md line %d:\n%s" % (line, output)
    else:
        r = run_snippet(str(script), DEADLINE_S)
        assert r.returncode == 0, "README.md line %d:\n%s%s" % (line, r.stdout, r.stderr)
