"""The C library: finding and loading it, and the ctypes view of include/shm_ipc.h."""

import ctypes
import ctypes.util
import os
import sys
import threading

from ctypes import POINTER, c_bool, c_char_p, c_int, c_uint32, c_uint64, c_void_p

# The API generation this module is written for: the library's major version.
API_MAJOR = 1

# ---- limits (shm_ipc.h) ----------------------------------------------------

MAX_MESSAGE_SIZE = 65536
MIN_RING_SIZE = 4096
MAX_RING_SIZE = 1 << 30
MESSAGE_OVERHEAD = 24
MAX_CLIENTS = 64
MAX_NAME_LENGTH = 64

# SHM_DEFAULT_CONFIG()
DEFAULT_SIZE = 4 * 1024 * 1024
DEFAULT_MAX_CLIENTS = 4
DEFAULT_BLOCKING = True
DEFAULT_TIMEOUT_MS = 5000

UINT32_MAX = 0xFFFFFFFF


class RingConfig(ctypes.Structure):
    """shm_ring_config_t."""

    _fields_ = [
        ("size", c_uint32),
        ("max_readers", c_uint32),
        ("blocking", c_bool),
        ("timeout_ms", c_uint32),
    ]


class PeerInfoC(ctypes.Structure):
    """shm_peer_info_t."""

    _fields_ = [
        ("pid", c_uint32),
        ("ptr_bits", c_uint32),
        ("slot", c_uint32),
        ("reserved", c_uint32),
        ("client_id", ctypes.c_uint64),
    ]


class StatsC(ctypes.Structure):
    """shm_stats_t."""

    _fields_ = [
        ("messages_sent", c_uint64),
        ("bytes_sent", c_uint64),
        ("messages_received", c_uint64),
        ("bytes_received", c_uint64),
        ("messages_lost", c_uint64),
        ("connected", c_uint32),
        ("reserved", c_uint32),
    ]


# shm_event_callback_t: void (*)(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
# (cdecl on every platform: SHM_API names no calling convention).
EVENT_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_uint32)

# name: (restype, argtypes)
_PROTOTYPES = {
    "shm_strerror": (c_char_p, [c_int]),
    "shm_last_error": (c_int, []),
    "shm_version": (c_uint32, []),
    "shm_server_create": (c_void_p, [c_char_p, POINTER(RingConfig)]),
    "shm_server_create_with_security": (c_void_p, [c_char_p, POINTER(RingConfig), c_char_p]),
    "shm_server_destroy": (None, [c_void_p]),
    "shm_server_send": (c_int, [c_void_p, c_void_p, c_uint32]),
    "shm_server_receive": (c_int, [c_void_p, c_void_p, POINTER(c_uint32)]),
    "shm_server_register_callback": (c_int, [c_void_p, EVENT_CALLBACK, c_void_p]),
    "shm_server_get_stats": (c_int, [c_void_p, POINTER(StatsC)]),
    "shm_server_tx_ring": (c_void_p, [c_void_p]),
    "shm_client_connect": (c_void_p, [c_char_p]),
    "shm_client_disconnect": (None, [c_void_p]),
    "shm_client_reconnect": (c_int, [c_void_p]),
    "shm_client_send": (c_int, [c_void_p, c_void_p, c_uint32]),
    "shm_client_receive": (c_int, [c_void_p, c_void_p, POINTER(c_uint32)]),
    "shm_client_register_callback": (c_int, [c_void_p, EVENT_CALLBACK, c_void_p]),
    "shm_client_get_stats": (c_int, [c_void_p, POINTER(StatsC)]),
    "shm_client_tx_ring": (c_void_p, [c_void_p]),
    "shm_ring_available": (c_uint32, [c_void_p]),
}


class LibraryNotFoundError(OSError):
    """The xshm shared library could not be found or loaded, or it is of
    another major version."""


def _library_names():
    """File names of the library on this system, most specific first."""
    if sys.platform == "win32":
        return ["xshm.dll"]
    if sys.platform == "darwin":
        return ["libxshm.%d.dylib" % API_MAJOR, "libxshm.dylib"]
    return ["libxshm.so.%d" % API_MAJOR, "libxshm.so"]


def _candidates():
    """(description, path-or-name) pairs to try, in order. XSHM_LIBRARY, when
    set, is the only candidate: an explicit choice is never second-guessed."""
    env = os.environ.get("XSHM_LIBRARY")
    if env:
        return [("XSHM_LIBRARY=%s" % env, env)]
    here = os.path.dirname(os.path.abspath(__file__))
    found = [("beside the package: %s" % os.path.join(here, n), os.path.join(here, n))
             for n in _library_names()]
    system = []
    if sys.platform == "win32":
        # Python 3.8+ does not search PATH for a bare DLL name: find_library does.
        path = ctypes.util.find_library("xshm")
        if path:
            system.append(("on PATH: %s" % path, path))
    else:
        system.extend(("system search path: %s" % n, n) for n in _library_names())
        path = ctypes.util.find_library("xshm")
        if path and path not in _library_names():
            system.append(("system search path: %s" % path, path))
    return found + system


_lock = threading.Lock()
_lib = None
_lib_path = None


def _bind(lib):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def _check_version(lib, where):
    version = lib.shm_version()
    if version // 10000 != API_MAJOR:
        raise LibraryNotFoundError(
            "%s is xshm %d.%d.%d; this package needs xshm %d.x"
            % (where, version // 10000, version // 100 % 100, version % 100, API_MAJOR))


def load():
    """The loaded library (a ctypes.CDLL with the prototypes set): loaded on
    first use from XSHM_LIBRARY, beside the package, or the system search path."""
    global _lib, _lib_path
    lib = _lib
    if lib is not None:
        return lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for what, path in _candidates():
            if os.sep in path and not os.path.exists(path):
                tried.append("%s (no such file)" % what)
                continue
            try:
                lib = ctypes.CDLL(path)
            except OSError as exc:
                tried.append("%s (%s)" % (what, exc))
                continue
            missing = [n for n in _PROTOTYPES if not hasattr(lib, n)]
            if missing:
                tried.append("%s (not xshm: no %s)" % (what, missing[0]))
                continue
            _bind(lib)
            _check_version(lib, path)
            _lib, _lib_path = lib, getattr(lib, "_name", path)
            return lib
        raise LibraryNotFoundError(
            "the xshm library (%s) was not found; tried:\n  %s\n"
            "Build it (cmake --preset linux-x64 && cmake --build --preset linux-x64), "
            "then set XSHM_LIBRARY to its path (for example build/linux-x64/libxshm.so.1), "
            "copy it beside the xshm package, or install it (cmake --install)."
            % (" or ".join(_library_names()), "\n  ".join(tried)))


def loaded_path():
    """The path or name the library was loaded from (loading it if needed)."""
    load()
    return _lib_path


def strerror(code):
    return load().shm_strerror(code).decode("utf-8", "replace")


# ---- zero-copy access to buffers (CPython's buffer protocol) -----------------

PyBUF_SIMPLE = 0
PyBUF_WRITABLE = 0x0001


class _PyBuffer(ctypes.Structure):
    """Py_buffer (stable since Python 3.3)."""

    _fields_ = [
        ("buf", c_void_p),
        ("obj", c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", c_int),
        ("ndim", c_int),
        ("format", c_char_p),
        ("shape", c_void_p),
        ("strides", c_void_p),
        ("suboffsets", c_void_p),
        ("internal", c_void_p),
    ]


PyBuffer = _PyBuffer

try:
    _get_buffer = ctypes.pythonapi.PyObject_GetBuffer
    _get_buffer.restype = c_int
    _get_buffer.argtypes = [ctypes.py_object, POINTER(_PyBuffer), c_int]
    _release_buffer = ctypes.pythonapi.PyBuffer_Release
    _release_buffer.restype = None
    _release_buffer.argtypes = [POINTER(_PyBuffer)]
    HAVE_BUFFER_API = True
    # get_buffer(obj, view, flags): PyObject_GetBuffer, raising on failure;
    # release_buffer(view): PyBuffer_Release. Each successful get is released.
    get_buffer, release_buffer = _get_buffer, _release_buffer
except (AttributeError, OSError):  # an interpreter without the C API (PyPy)
    HAVE_BUFFER_API = False


class BufferView:
    """The memory of a buffer object, held (so that it can neither move nor
    be freed) while the view is open: `with BufferView(obj, writable) as (address, nbytes)`.
    Raises BufferError for a non-contiguous buffer, or a read-only one when
    writable is asked for; TypeError for an object without the buffer protocol."""

    __slots__ = ("_obj", "_flags", "_view", "_fallback")

    def __init__(self, obj, writable):
        self._obj = obj
        self._flags = PyBUF_WRITABLE if writable else PyBUF_SIMPLE
        self._view = None
        self._fallback = None

    def __enter__(self):
        if HAVE_BUFFER_API:
            view = _PyBuffer()
            _get_buffer(self._obj, view, self._flags)  # raises on failure
            self._view = view
            return view.buf, view.len
        # Without the C API: ctypes' own buffer access (writable buffers only).
        mv = memoryview(self._obj)
        if not mv.contiguous:
            raise BufferError("the buffer is not contiguous")
        if mv.readonly:
            if self._flags & PyBUF_WRITABLE:
                raise BufferError("the buffer is read-only")
            self._fallback = ctypes.create_string_buffer(mv.tobytes(), mv.nbytes)
        else:
            self._fallback = (ctypes.c_char * mv.nbytes).from_buffer(mv)
        return ctypes.addressof(self._fallback), mv.nbytes

    def __exit__(self, *exc):
        if self._view is not None:
            _release_buffer(self._view)
            self._view = None
        self._fallback = None
        return False
