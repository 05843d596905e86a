"""xshm.Error and its subclasses, errors of the calls, finding the library."""

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import xshm
from conftest import LIBRARY, PACKAGE_DIR, SOURCE_DIR


def header_error_map():
    """SHM_ERROR_MAP of include/shm_ipc.h: [(name, value, text)]."""
    with open(os.path.join(SOURCE_DIR, "include", "shm_ipc.h")) as f:
        header = f.read()
    body = header[header.index("#define SHM_ERROR_MAP(XX)"):]
    body = body[:body.index("typedef enum")].replace("\\\n", " ")  # line continuations
    entries = re.findall(r'XX\((\w+),\s*(-?\d+),\s*((?:"[^"]*"\s*)+)\)', body)
    assert len(entries) >= 14, "SHM_ERROR_MAP not understood"
    return [(name, int(value), "".join(re.findall(r'"([^"]*)"', text)))
            for name, value, text in entries]


def camel(name):
    return "".join(w.capitalize() for w in name[len("SHM_ERROR_"):].split("_")) + "Error"


@pytest.mark.parametrize("name,code,text", [e for e in header_error_map() if e[1] != 0])
def test_every_error_code_has_its_class(name, code, text):
    cls = xshm.ERRORS[code]
    assert cls.code == code and cls.name == name
    assert cls.__name__ == camel(name) and getattr(xshm, cls.__name__) is cls
    assert issubclass(cls, xshm.Error)
    assert xshm.strerror(code) == text  # the library's text is the header's


def test_no_class_for_a_code_the_header_lacks():
    assert set(xshm.ERRORS) == {code for _, code, _ in header_error_map() if code != 0}


def test_an_error_carries_code_text_and_operation(channel):
    with xshm.Server(channel) as server:
        with pytest.raises(xshm.NotConnectedError) as info:
            server.send(b"nobody listens")
    e = info.value
    assert (e.code, e.name) == (-8, "SHM_ERROR_NOT_CONNECTED")
    assert e.text == xshm.strerror(-8) == "no peer is connected"
    assert e.operation == "send"
    assert str(e) == "send: no peer is connected"


def test_unknown_code_is_a_plain_error():
    from xshm._errors import error_for
    e = error_for(-1000, "call")
    assert type(e) is xshm.Error and e.code == -1000 and e.text == "unknown error"


def test_exists(channel):
    with xshm.Server(channel):
        with pytest.raises(xshm.ExistsError) as info:
            xshm.Server(channel)
        assert channel in str(info.value)


def test_not_found(channel):
    with pytest.raises(xshm.NotFoundError):
        xshm.Client(channel)


def test_busy(channel):
    with xshm.Server(channel, max_clients=1), xshm.Client(channel):
        with pytest.raises(xshm.BusyError):
            xshm.Client(channel)


@pytest.mark.parametrize("kwargs", [
    dict(size=5000),  # not a power of two
    dict(size=2048),  # below SHM_MIN_RING_SIZE
    dict(size=1 << 32),  # not a uint32_t
    dict(max_clients=0),
    dict(max_clients=xshm.MAX_CLIENTS + 1),
    dict(timeout_ms=-1),
])
def test_invalid_configuration(channel, kwargs):
    with pytest.raises(xshm.InvalidParamError) as info:
        xshm.Server(channel, **kwargs)
    assert info.value.text == xshm.strerror(-1)  # checked here or by the library: one text


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * (xshm.MAX_NAME_LENGTH + 1),
                                  "nul\0inside", "caf\u00e9"])
def test_invalid_names(name):
    with pytest.raises(xshm.InvalidParamError) as info:
        xshm.Server(name)
    assert info.value.text == xshm.strerror(-1)
    with pytest.raises(xshm.InvalidParamError):
        xshm.Client(name)


def test_wrong_argument_types(channel):
    with pytest.raises(TypeError):
        xshm.Server(42)
    with pytest.raises(TypeError):
        xshm.Server(channel, size="big")
    with xshm.Server(channel) as server:
        with pytest.raises(TypeError):
            server.on_event("not callable")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX channels take no security descriptor")
def test_sddl_is_refused_on_posix(channel):
    with pytest.raises(xshm.InvalidParamError):
        xshm.Server(channel, sddl="D:(A;;GA;;;WD)")


# ---- finding the library -------------------------------------------------------

def run_python(code, env_update, cwd, pythonpath):
    env = dict(os.environ)
    env.pop("XSHM_LIBRARY", None)
    env.update(env_update)
    env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_library_not_found_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "no-such-libxshm.so")
    r = run_python("""
        import xshm
        try:
            xshm.Server("never")
        except xshm.LibraryNotFoundError as e:
            print("ERROR:", e)
        """, {"XSHM_LIBRARY": missing}, str(tmp_path), PACKAGE_DIR)
    assert r.returncode == 0, r.stderr
    assert "ERROR: the xshm library" in r.stdout and missing in r.stdout
    assert "XSHM_LIBRARY" in r.stdout  # says how to point at it


def test_import_needs_no_library(tmp_path):
    r = run_python("import xshm; print(xshm.MAX_MESSAGE_SIZE)",
                   {"XSHM_LIBRARY": str(tmp_path / "none.so")}, str(tmp_path), PACKAGE_DIR)
    assert r.returncode == 0 and r.stdout.strip() == "65536", r.stderr


def test_not_an_xshm_library(tmp_path):
    import ctypes.util
    libc = ctypes.util.find_library("c")
    if not libc:
        pytest.skip("no C library found to stand in for a foreign library")
    r = run_python("""
        import xshm
        try:
            xshm.library_path()
        except xshm.LibraryNotFoundError as e:
            print("ERROR:", e)
        """, {"XSHM_LIBRARY": libc}, str(tmp_path), PACKAGE_DIR)
    assert "not xshm" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(not LIBRARY, reason="no built library to copy")
def test_library_beside_the_package(tmp_path):
    package = tmp_path / "site" / "xshm"
    shutil.copytree(os.path.join(PACKAGE_DIR, "xshm"), package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so*", "*.dll"))
    name = "xshm.dll" if sys.platform == "win32" else "libxshm.so.1"
    shutil.copy(LIBRARY, package / name)
    r = run_python("import xshm; print(xshm.library_path()); print(xshm.library_version())",
                   {}, str(tmp_path), str(tmp_path / "site"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(package / name), "(1, 0, 0)"]
