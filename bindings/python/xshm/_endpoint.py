"""xshm.Server and xshm.Client over the C API."""

import atexit
import ctypes
import enum
import sys
import threading
import traceback
import types
import weakref
from typing import NamedTuple, Optional

from . import _native
from ._errors import BufferTooSmallError, ClosedError, Error, InvalidParamError, error_for
from ._native import UINT32_MAX, BufferView

_SUCCESS = 0
_BUFFER_TOO_SMALL = BufferTooSmallError.code


class EventType(enum.IntEnum):
    """shm_event_type_t."""

    DATA_AVAILABLE = 0  #: new messages arrived since the last one
    SPACE_AVAILABLE = 1  #: never raised: writes never wait for room
    DISCONNECT = 2  #: a peer went away (gracefully or not)
    ERROR = 3  #: the library met an error (Event.error)
    CONNECT = 4  #: a peer arrived


class Peer(NamedTuple):
    """The peer of a CONNECT or DISCONNECT event (shm_peer_info_t): for a
    server the client, for a client the server."""

    pid: int
    ptr_bits: int  #: 32 or 64
    slot: int  #: the client's slot (0 for the server)
    client_id: int = 0  #: server: the client's id (shm_client_id_t); client: 0


class Event(NamedTuple):
    """What an on_event() callback is given."""

    type: EventType
    peer: Optional[Peer] = None  #: CONNECT and DISCONNECT
    error: Optional[Error] = None  #: ERROR: the error, as an xshm.Error


class Stats(NamedTuple):
    """Counters of an endpoint (shm_stats_t)."""

    messages_sent: int
    bytes_sent: int
    messages_received: int
    bytes_received: int
    messages_lost: int  #: overwritten before this endpoint read them
    connected: int  #: server: clients connected; client: 1 or 0


def _encode_name(name, what="a channel name"):
    if isinstance(name, str):
        name = name.encode("utf-8")
    elif not isinstance(name, bytes):
        raise TypeError("%s is a str, not %s" % (what, type(name).__name__))
    if b"\0" in name:  # C would see only what comes before it
        raise error_for(InvalidParamError.code, "%s %r contains a NUL character" % (what, name))
    return name


def _u32(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__))
    if not 0 <= value <= UINT32_MAX:
        raise error_for(InvalidParamError.code, "%s %d is out of range" % (what, value))
    return value


def _decode_event(etype, data, size):
    try:
        etype = EventType(etype)
    except ValueError:
        return Event(etype)  # a type this module does not know yet: raw int
    if etype in (EventType.CONNECT, EventType.DISCONNECT) and data and \
            size == ctypes.sizeof(_native.PeerInfoC):
        info = _native.PeerInfoC.from_address(data)
        return Event(etype, peer=Peer(info.pid, info.ptr_bits, info.slot, info.client_id))
    if etype == EventType.ERROR and data and size == ctypes.sizeof(ctypes.c_int):
        return Event(etype, error=error_for(ctypes.c_int.from_address(data).value, "event"))
    return Event(etype)


def _report_unraisable(exc, obj):
    """Hand an exception nobody can catch to sys.unraisablehook."""
    hook = getattr(sys, "unraisablehook", None)
    if hook is not None and hook is not getattr(sys, "__unraisablehook__", None):
        args = types.SimpleNamespace(exc_type=type(exc), exc_value=exc,
                                     exc_traceback=exc.__traceback__,
                                     err_msg="Exception ignored in xshm event callback",
                                     object=obj)
        try:
            hook(args)
            return
        except Exception:  # a hook that wants the interpreter's own argument type
            pass
    # What the default hook prints (it accepts only the interpreter's own
    # argument type, which Python code cannot make).
    try:
        stderr = sys.stderr
        print("Exception ignored in xshm event callback of %r:" % (obj,), file=stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=stderr)
        stderr.flush()
    except Exception:  # no stderr (interpreter exit): nothing more can be done
        pass


# Callback objects of endpoints closed from their own listener thread: the
# listener is still inside the callback then and finishes after it returns,
# so they are kept for good (a few hundred bytes each).
_retired_callbacks = []

# Open endpoints, closed at interpreter exit so that no listener thread calls
# into an interpreter that is shutting down.
_open = weakref.WeakSet()


@atexit.register
def _close_all():
    for endpoint in list(_open):
        endpoint._close(raise_pending=False)


class _Endpoint:
    """What Server and Client share. Not instantiated directly."""

    _fn_destroy = _fn_send = _fn_receive = _fn_register = _fn_stats = _fn_tx_ring = None

    def __init__(self, name, handle):
        self.name = name
        self._handle = handle
        self._lock = threading.Lock()
        self._callbacks = []  # every ctypes callback ever registered, while open
        self._listener_thread = None  # threading.get_ident() of the listener
        self._pending = None  # an exception raised by the event callback
        self._tls = threading.local()  # per thread: receive() buffer and size
        _open.add(self)

    # ---- context manager, closing -------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # An exception of the event callback is raised here, unless another
        # one is on its way out: then it goes to sys.unraisablehook.
        self._close(raise_pending=exc_type is None)
        return False

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self._close(raise_pending=False)

    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Close the endpoint (shm_server_destroy / shm_client_disconnect).
        Receives blocked in other threads return with ClosedError; later calls
        raise ClosedError. Closing twice is harmless. Raises a pending
        exception of the event callback (see on_event)."""
        self._close(raise_pending=True)

    def _close(self, raise_pending):
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            _open.discard(self)
            type(self)._fn_destroy(handle)  # joins the listener (unless it is us)
            if threading.get_ident() == self._listener_thread:
                _retired_callbacks.extend(self._callbacks)
            self._callbacks = []
        pending = self._take_pending()
        if pending is not None:
            if raise_pending:
                raise pending
            _report_unraisable(pending, self)

    # ---- calls --------------------------------------------------------------

    def _h(self, operation):
        """The handle, for a call; raises ClosedError after close() and a
        pending exception of the event callback."""
        if self._pending is not None:
            pending = self._take_pending()
            if pending is not None:
                raise pending
        handle = self._handle
        if handle is None:
            raise error_for(ClosedError.code, operation)
        return handle

    def send(self, data):
        """Send one message of 1..MAX_MESSAGE_SIZE bytes: bytes, bytearray,
        memoryview or any object with the buffer protocol. A contiguous
        buffer is passed to the library as it is (no copy); a non-contiguous
        one is copied first. Never blocks.
        Raises NotConnectedError (server: no client; client: the server is
        gone), InvalidParamError (empty or too large), ClosedError."""
        handle = self._h("send")
        if type(data) is bytes:  # noqa: E721 - the common case, no buffer request
            size = len(data)
            if size > UINT32_MAX:
                raise error_for(InvalidParamError.code, "send")
            err = self._fn_send(handle, data, size)
        else:
            if isinstance(data, str):
                raise TypeError("send() takes bytes-like data, not str (encode it first)")
            try:
                with BufferView(data, False) as (address, size):
                    if size > UINT32_MAX:
                        raise error_for(InvalidParamError.code, "send")
                    err = self._fn_send(handle, address, size)
            except BufferError:  # not contiguous: one copy
                data = memoryview(data).tobytes()
                err = self._fn_send(handle, data, len(data))
        if err != _SUCCESS:
            raise error_for(err, "send")

    def receive(self):
        """Receive one message as bytes. Blocks as the server's configuration
        says (blocking, timeout_ms). Raises TimeoutError, EmptyError
        (non-blocking, nothing there), NotConnectedError (client: the server
        left and everything it sent was read), ClosedError,
        InvalidSegmentError."""
        handle = self._h("receive")
        tls = self._tls
        try:
            buf, size = tls.buf, tls.size
        except AttributeError:
            buf = tls.buf = ctypes.create_string_buffer(_native.MAX_MESSAGE_SIZE)
            size = tls.size = ctypes.c_uint32()
        size.value = _native.MAX_MESSAGE_SIZE
        err = self._fn_receive(handle, buf, size)
        if err != _SUCCESS:
            raise error_for(err, "receive")
        return ctypes.string_at(buf, size.value)

    def receive_into(self, buffer):
        """Receive one message into a writable, contiguous buffer (bytearray,
        memoryview, array.array, numpy array, mmap...) and return its size in
        bytes. The library copies the message straight into the buffer.
        Raises BufferTooSmallError (with .needed; the message stays for the
        next call) and the errors of receive(); TypeError for a buffer that
        is read-only or not contiguous."""
        handle = self._h("receive_into")
        tls = self._tls
        try:
            view, size = tls.view, tls.into_size
        except AttributeError:
            view = tls.view = _native.PyBuffer() if _native.HAVE_BUFFER_API else None
            size = tls.into_size = ctypes.c_uint32()
        try:
            if view is not None:  # the buffer's memory, held until released below
                _native.get_buffer(buffer, view, _native.PyBUF_WRITABLE)
                held, address, capacity = view, view.buf, view.len
            else:
                held = BufferView(buffer, True)
                address, capacity = held.__enter__()
        except BufferError as exc:
            raise TypeError("receive_into() needs a writable, contiguous buffer "
                            "(bytearray, memoryview, array, numpy array), not %s: %s"
                            % (type(buffer).__name__, exc)) from None
        try:
            size.value = min(capacity, UINT32_MAX)
            err = self._fn_receive(handle, address, size)
        finally:
            if view is not None:
                _native.release_buffer(view)
            else:
                held.__exit__(None, None, None)
        if err != _SUCCESS:
            exc = error_for(err, "receive_into")
            if err == _BUFFER_TOO_SMALL:
                exc.needed = size.value
            raise exc
        return size.value

    def stats(self):
        """The endpoint's counters, as a Stats."""
        handle = self._h("stats")
        st = _native.StatsC()
        err = self._fn_stats(handle, st)
        if err != _SUCCESS:
            raise error_for(err, "stats")
        return Stats(st.messages_sent, st.bytes_sent, st.messages_received, st.bytes_received,
                     st.messages_lost, st.connected)

    def available(self):
        """Bytes this endpoint can send before its slowest reader starts
        losing messages (shm_ring_available)."""
        handle = self._h("available")
        return _native.load().shm_ring_available(self._fn_tx_ring(handle))

    def on_event(self, callback):
        """Call callback(event) for every event (an Event: CONNECT and
        DISCONNECT with the peer, DATA_AVAILABLE, ERROR with the error),
        replacing an earlier callback. It runs on the library's listener
        thread, holding the GIL; it may send and receive, and close this
        endpoint. An exception it raises is kept and raised by the next call
        on this endpoint (or by close()); a second one before then, or one
        still kept when the endpoint is closed without a chance to raise it,
        goes to sys.unraisablehook. Never lost."""
        if not callable(callback):
            raise TypeError("on_event() needs a callable")
        handle = self._h("on_event")
        ref = weakref.ref(self)

        def thunk(_ud, etype, data, size):
            endpoint = ref()
            try:
                if endpoint is not None:
                    endpoint._listener_thread = threading.get_ident()
                callback(_decode_event(etype, data, size))
            except BaseException as exc:  # reported, never lost
                if endpoint is not None:
                    endpoint._callback_failed(exc, callback)
                else:
                    _report_unraisable(exc, callback)

        c_callback = _native.EVENT_CALLBACK(thunk)
        # Kept until the endpoint is closed: the listener may still be in an
        # earlier callback while this one replaces it.
        self._callbacks.append(c_callback)
        err = self._fn_register(handle, c_callback, None)
        if err != _SUCCESS:
            raise error_for(err, "on_event")

    def _callback_failed(self, exc, callback):
        if hasattr(exc, "add_note"):
            exc.add_note("raised by the event callback %r of %r" % (callback, self))
        with self._lock:
            if self._pending is None:
                self._pending = exc
                return
        _report_unraisable(exc, self)  # one is still pending

    def _take_pending(self):
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def __repr__(self):
        return "xshm.%s(%r)%s" % (type(self).__name__, self.name,
                                  " (closed)" if self._handle is None else "")


def _lib_functions(prefix):
    lib = _native.load()
    return {
        "destroy": lib.shm_server_destroy if prefix == "server" else lib.shm_client_disconnect,
        "send": getattr(lib, "shm_%s_send" % prefix),
        "receive": getattr(lib, "shm_%s_receive" % prefix),
        "register": getattr(lib, "shm_%s_register_callback" % prefix),
        "stats": getattr(lib, "shm_%s_get_stats" % prefix),
        "tx_ring": getattr(lib, "shm_%s_tx_ring" % prefix),
    }


def _bind_class(cls, prefix):
    """Set the class's C functions (once the library is loaded)."""
    if cls._fn_send is None:
        fns = _lib_functions(prefix)
        cls._fn_destroy = staticmethod(fns["destroy"])
        cls._fn_send = staticmethod(fns["send"])
        cls._fn_receive = staticmethod(fns["receive"])
        cls._fn_register = staticmethod(fns["register"])
        cls._fn_stats = staticmethod(fns["stats"])
        cls._fn_tx_ring = staticmethod(fns["tx_ring"])


class Server(_Endpoint):
    """A channel: xshm.Server(name, size=4 MiB, max_clients=4, blocking=True,
    timeout_ms=5000), a context manager.

    name: 1..64 characters of [A-Za-z0-9._-] (on Windows optionally prefixed
    Local\\ or Global\\). size: bytes of each ring, a power of two from 4 KiB
    to 1 GiB. max_clients: 1..64. blocking: receive waits for a message
    (True) or raises EmptyError at once. timeout_ms: the longest wait of a
    blocking receive, 0 = no limit. Clients use the server's blocking and
    timeout_ms. sddl (Windows only): the security descriptor of the
    channel's objects (shm_server_create_with_security).
    Raises ExistsError (a live server has this name), InvalidParamError,
    AccessError, MemoryError, SystemError."""

    def __init__(self, name, size=_native.DEFAULT_SIZE, max_clients=_native.DEFAULT_MAX_CLIENTS,
                 blocking=_native.DEFAULT_BLOCKING, timeout_ms=_native.DEFAULT_TIMEOUT_MS,
                 sddl=None):
        self._handle = None
        lib = _native.load()
        _bind_class(Server, "server")
        config = _native.RingConfig(_u32(size, "size"), _u32(max_clients, "max_clients"),
                                    bool(blocking), _u32(timeout_ms, "timeout_ms"))
        if sddl is None:
            handle = lib.shm_server_create(_encode_name(name), config)
        else:
            handle = lib.shm_server_create_with_security(_encode_name(name), config,
                                                         _encode_name(sddl, "sddl"))
        if not handle:
            raise error_for(lib.shm_last_error(), "Server(%r)" % (name,))
        self.size, self.max_clients = size, max_clients
        self.blocking, self.timeout_ms = bool(blocking), timeout_ms
        super().__init__(name, handle)


class Client(_Endpoint):
    """A connection to the channel `name`: xshm.Client(name), a context
    manager. Retries for about 500 ms while the channel does not exist yet.
    Raises NotFoundError (no live server), BusyError (max_clients connected),
    AccessError, InvalidSegmentError, InvalidParamError, MemoryError,
    SystemError."""

    def __init__(self, name):
        self._handle = None
        lib = _native.load()
        _bind_class(Client, "client")
        handle = lib.shm_client_connect(_encode_name(name))
        if not handle:
            raise error_for(lib.shm_last_error(), "Client(%r)" % (name,))
        super().__init__(name, handle)

    def reconnect(self):
        """Join the channel again under the same name, after the server went
        away and a new one was started; keeps the event callback (it sees
        CONNECT again); statistics restart from zero. Not from the event
        callback, nor while another thread is in a call on this client."""
        handle = self._h("reconnect")
        err = _native.load().shm_client_reconnect(handle)
        if err != _SUCCESS:
            raise error_for(err, "reconnect")
