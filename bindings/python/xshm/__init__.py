"""xshm: shared-memory message passing between processes on one machine.

A thin binding over the xshm C library (libxshm.so / xshm.dll) with ctypes:
nothing to compile. The library is looked for, on first use, at the path in
the environment variable XSHM_LIBRARY, then beside this package, then on the
system's library search path.

    import xshm

    with xshm.Server("demo") as server:        # or xshm.Client("demo")
        server.on_event(print)
        message = server.receive()              # bytes
        server.send(message)

Errors are xshm.Error subclasses, one per code of the C library's
shm_error_t, carrying the library's text: xshm.TimeoutError,
xshm.NotConnectedError, ...
"""

from ._endpoint import Client, Event, EventType, Peer, Server, Stats
from ._errors import (
    AccessError,
    BufferTooSmallError,
    BusyError,
    ClosedError,
    EmptyError,
    ERRORS,
    Error,
    ExistsError,
    InvalidParamError,
    InvalidSegmentError,
    MemoryError,
    NotConnectedError,
    NotFoundError,
    OverwrittenError,
    SystemError,
    TimeoutError,
)
from ._native import (
    LibraryNotFoundError,
    MAX_CLIENTS,
    MAX_MESSAGE_SIZE,
    MAX_NAME_LENGTH,
    MAX_RING_SIZE,
    MESSAGE_OVERHEAD,
    MIN_RING_SIZE,
)
from . import _native

__version__ = "1.0.0"


def library_path():
    """The path (or name) of the C library in use, loading it if needed.
    Raises LibraryNotFoundError."""
    return _native.loaded_path()


def library_version():
    """The C library's version as (major, minor, patch) (shm_version)."""
    v = _native.load().shm_version()
    return (v // 10000, v // 100 % 100, v % 100)


def strerror(code):
    """The library's text for an shm_error_t code (shm_strerror)."""
    return _native.strerror(code)


__all__ = [
    "Server", "Client", "Event", "EventType", "Peer", "Stats",
    "Error", "InvalidParamError", "MemoryError", "TimeoutError", "EmptyError", "ExistsError",
    "NotFoundError", "AccessError", "NotConnectedError", "BufferTooSmallError",
    "InvalidSegmentError", "ClosedError", "BusyError", "SystemError", "OverwrittenError",
    "ERRORS",
    "LibraryNotFoundError", "MAX_MESSAGE_SIZE", "MIN_RING_SIZE", "MAX_RING_SIZE",
    "MESSAGE_OVERHEAD", "MAX_CLIENTS", "MAX_NAME_LENGTH",
    "library_path", "library_version", "strerror",
]
