"""Test setup: the package from this source tree, the library and the C
example programs from the environment (set by CTest, bindings/CMakeLists.txt)
or from build/linux-x64/ of the source tree.

    XSHM_LIBRARY          the C library (libxshm.so.1 / xshm.dll)
    XSHM_EXAMPLE_SERVER   examples/example_server.c, built
    XSHM_EXAMPLE_CLIENT   examples/example_client.c, built
    XSHM_ECHO_PEER        bindings/python/bench/echo_peer.c, built
"""

import itertools
import os
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.dirname(HERE)  # bindings/python
SOURCE_DIR = os.path.dirname(os.path.dirname(PACKAGE_DIR))
DEFAULT_BUILD = os.path.join(SOURCE_DIR, "build", "linux-x64")

sys.path.insert(0, PACKAGE_DIR)  # this tree's xshm, not an installed one


def _default(var, *names):
    """os.environ[var] (empty: not available), else the first of
    build/linux-x64/<names> that exists."""
    value = os.environ.get(var)
    if value is not None:
        return value or None
    for name in names:
        path = os.path.join(DEFAULT_BUILD, name)
        if os.path.exists(path):
            return path
    return None


LIBRARY = _default("XSHM_LIBRARY", "libxshm.so.1", "xshm.dll")
if LIBRARY:
    os.environ["XSHM_LIBRARY"] = LIBRARY  # for xshm here and for child processes
EXAMPLE_SERVER = _default("XSHM_EXAMPLE_SERVER", "example_server", "example_server.exe")
EXAMPLE_CLIENT = _default("XSHM_EXAMPLE_CLIENT", "example_client", "example_client.exe")
ECHO_PEER = _default("XSHM_ECHO_PEER", "xshm_echo_peer", "xshm_echo_peer.exe")

# Longest wait for anything a test waits on (an event, a process): generous,
# the machine may be busy; waits end as soon as the condition holds.
DEADLINE_S = 30.0

_counter = itertools.count()


@pytest.fixture
def channel():
    """A channel name no other test (nor another run) uses. At the end, a
    channel a killed process left behind is reclaimed and removed."""
    name = "pytest-%d-%d" % (os.getpid(), next(_counter))
    yield name
    import xshm
    try:
        with xshm.Server(name, size=xshm.MIN_RING_SIZE, max_clients=1):
            pass
    except xshm.Error:
        pass  # still in use (a test failed with it open): nothing to do


def program(path, what):
    if not path or not os.path.exists(path):
        pytest.skip("%s not built (set %s or build the linux-x64 preset)" % (what, {
            "example_server": "XSHM_EXAMPLE_SERVER", "example_client": "XSHM_EXAMPLE_CLIENT",
            "xshm_echo_peer": "XSHM_ECHO_PEER"}[what]))
    return path


@pytest.fixture
def example_server():
    return program(EXAMPLE_SERVER, "example_server")


@pytest.fixture
def example_client():
    return program(EXAMPLE_CLIENT, "example_client")


@pytest.fixture
def echo_peer():
    return program(ECHO_PEER, "xshm_echo_peer")


class Recorder:
    """Collects on_event() events; wait_for() blocks until one matches."""

    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout=DEADLINE_S):
        with self._cond:
            if not self._cond.wait_for(lambda: any(predicate(e) for e in self.events), timeout):
                raise AssertionError("no matching event within %s s; got %r" % (timeout, self.events))
            return next(e for e in self.events if predicate(e))


@pytest.fixture
def recorder():
    return Recorder()


class LineReader:
    """A child process's stdout, read by a thread; wait_line() blocks until a
    line containing a text arrives (or the deadline passes)."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_line(self, text, timeout=DEADLINE_S):
        def found():
            return any(text in line for line in self.lines)
        with self._cond:
            self._cond.wait_for(lambda: found() or self._done, timeout)
            if not found():
                raise AssertionError("no line with %r from %s within %s s; output so far:\n%s"
                                     % (text, self.proc.args, timeout, "\n".join(self.lines)))

    def finish(self, timeout=DEADLINE_S):
        """Wait for the process to exit; returns (exit status, all its output)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not exit within %s s; output:\n%s"
                                 % (self.proc.args, timeout, "\n".join(self.lines)))
        self._thread.join(timeout)
        return rc, "\n".join(self.lines)


def start(args, **kwargs):
    """Start a program with its stdout (and stderr) read line by line."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)
    return LineReader(proc)


@pytest.fixture
def processes(channel):
    """start(args) for a test; whatever is still running at its end is killed
    (before the channel is reclaimed)."""
    started = []

    def _start(args, **kwargs):
        reader = start(args, **kwargs)
        started.append(reader)
        return reader

    yield _start
    for reader in started:
        if reader.proc.poll() is None:
            reader.proc.kill()
            reader.proc.wait()


def elapsed(t0):
    return time.monotonic() - t0
