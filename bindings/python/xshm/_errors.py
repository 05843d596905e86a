"""xshm.Error and one subclass per shm_error_t code."""

import builtins

from . import _native


class Error(Exception):
    """An error of the xshm library.

    code: the shm_error_t value (negative); name: its C name
    ("SHM_ERROR_TIMEOUT"); text: the library's text for it (shm_strerror);
    str(error) is "<operation>: <text>".
    """

    code = None
    name = None

    def __init__(self, text, operation=None, code=None):
        if code is not None:
            self.code = code
        self.text = text
        self.operation = operation
        super().__init__("%s: %s" % (operation, text) if operation else text)


# One class per code of SHM_ERROR_MAP (include/shm_ipc.h): SHM_ERROR_<X> is
# xshm.<X in CamelCase>Error. Where Python has the same notion, the class is
# also that built-in exception, so `except TimeoutError` and `except
# ValueError` work as well.
class InvalidParamError(Error, ValueError):
    code, name = -1, "SHM_ERROR_INVALID_PARAM"


class MemoryError(Error):  # noqa: A001 - xshm.MemoryError, as asyncio.TimeoutError
    code, name = -2, "SHM_ERROR_MEMORY"


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001
    code, name = -3, "SHM_ERROR_TIMEOUT"


class EmptyError(Error):
    code, name = -4, "SHM_ERROR_EMPTY"


class ExistsError(Error):
    code, name = -5, "SHM_ERROR_EXISTS"


class NotFoundError(Error):
    code, name = -6, "SHM_ERROR_NOT_FOUND"


class AccessError(Error):
    code, name = -7, "SHM_ERROR_ACCESS"


class NotConnectedError(Error):
    code, name = -8, "SHM_ERROR_NOT_CONNECTED"


class BufferTooSmallError(Error):
    """receive_into()'s buffer is smaller than the message, which stays in
    the ring for the next call; `needed` is its size in bytes."""

    code, name = -9, "SHM_ERROR_BUFFER_TOO_SMALL"
    needed = None


class InvalidSegmentError(Error):
    code, name = -10, "SHM_ERROR_INVALID_SEGMENT"


class ClosedError(Error):
    code, name = -11, "SHM_ERROR_CLOSED"


class BusyError(Error):
    code, name = -12, "SHM_ERROR_BUSY"


class SystemError(Error):  # noqa: A001
    code, name = -13, "SHM_ERROR_SYSTEM"


class OverwrittenError(Error):
    """A zero-copy view's bytes were overwritten while it was held."""

    code, name = -14, "SHM_ERROR_OVERWRITTEN"


ERRORS = {cls.code: cls for cls in (
    InvalidParamError, MemoryError, TimeoutError, EmptyError, ExistsError, NotFoundError,
    AccessError, NotConnectedError, BufferTooSmallError, InvalidSegmentError, ClosedError,
    BusyError, SystemError, OverwrittenError)}


def error_for(code, operation=None):
    """The exception for an shm_error_t code, with the library's text."""
    cls = ERRORS.get(code, Error)
    return cls(_native.strerror(code), operation, code)
