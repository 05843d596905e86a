"""on_event(): events from the listener thread, exceptions in the callback,
the lifetime of the callback."""

import gc
import os
import sys
import threading

import pytest

import xshm
from conftest import DEADLINE_S, Recorder

CONNECT, DISCONNECT, DATA = (xshm.EventType.CONNECT, xshm.EventType.DISCONNECT,
                             xshm.EventType.DATA_AVAILABLE)


def of_type(t):
    return lambda e: e.type == t


def test_server_sees_connect_data_disconnect(channel, recorder):
    with xshm.Server(channel) as server:
        server.on_event(recorder)
        client = xshm.Client(channel)
        connect = recorder.wait_for(of_type(CONNECT))
        # the first client of a new channel: slot 0, claim epoch 1
        assert connect.peer == xshm.Peer(os.getpid(), 64 if sys.maxsize > 2**32 else 32, 0, 1 << 8)
        client.send(b"x")
        assert recorder.wait_for(of_type(DATA)).peer is None
        client.close()
        assert recorder.wait_for(of_type(DISCONNECT)).peer.pid == os.getpid()
        assert server._listener_thread not in (None, threading.get_ident())


def test_client_sees_the_server_arrive_and_leave(channel, recorder):
    server = xshm.Server(channel)
    with xshm.Client(channel) as client:
        client.on_event(recorder)
        assert recorder.wait_for(of_type(CONNECT)).peer.pid == os.getpid()
        server.close()
        recorder.wait_for(of_type(DISCONNECT))


def test_clients_already_connected_are_reported(channel, recorder):
    with xshm.Server(channel) as server, xshm.Client(channel):
        server.on_event(recorder)  # CONNECT at once for the client already there
        peer = recorder.wait_for(of_type(CONNECT)).peer
        assert peer.slot == 0
        assert peer.client_id != 0 and peer.client_id & 0xFF == 0  # (epoch << 8) | slot


def test_callback_may_send_and_receive_on_its_endpoint(channel):
    with xshm.Server(channel, blocking=False) as server, xshm.Client(channel) as client:
        def echo(event):
            if event.type == DATA:
                while True:
                    try:
                        server.send(server.receive())
                    except xshm.EmptyError:
                        break
        server.on_event(echo)
        got = Recorder()
        client.on_event(got)
        client.send(b"ping")
        got.wait_for(of_type(DATA))
        assert client.receive() == b"ping"


def test_callback_may_close_its_endpoint(channel, recorder):
    closed = threading.Event()
    server = xshm.Server(channel)

    def close_on_connect(event):
        if event.type == CONNECT:
            server.close()
            closed.set()

    server.on_event(close_on_connect)
    with xshm.Client(channel) as client:
        assert closed.wait(DEADLINE_S)
        client.on_event(recorder)
        recorder.wait_for(of_type(DISCONNECT))  # the server is gone
    with pytest.raises(xshm.ClosedError):
        server.stats()
    with xshm.Server(channel):  # and its name is free
        pass


def test_callback_is_kept_alive_while_registered(channel, recorder):
    with xshm.Server(channel) as server:
        # Nothing but the endpoint refers to the callback and its ctypes object.
        server.on_event(lambda e, r=recorder: r(e))
        gc.collect()
        with xshm.Client(channel):
            recorder.wait_for(of_type(CONNECT))


def test_replacing_the_callback(channel):
    first, second = Recorder(), Recorder()
    with xshm.Server(channel) as server:
        server.on_event(first)
        with xshm.Client(channel):
            first.wait_for(of_type(CONNECT))
            server.on_event(second)
        second.wait_for(of_type(DISCONNECT))
    assert not any(e.type == DISCONNECT for e in first.events)


class Boom(Exception):
    pass


def failing_callback(ran, exc_factory=lambda e: Boom("callback failed on %s" % e.type.name)):
    def callback(event):
        try:
            if event.type == CONNECT:
                raise exc_factory(event)
        finally:
            if event.type == CONNECT:
                ran.set()
    return callback


def test_callback_exception_is_raised_by_the_next_call(channel):
    ran = threading.Event()
    with xshm.Server(channel) as server:
        server.on_event(failing_callback(ran))
        with xshm.Client(channel):
            assert ran.wait(DEADLINE_S)
            with pytest.raises(Boom, match="callback failed on CONNECT") as info:
                server.stats()
            if hasattr(info.value, "__notes__"):
                assert "event callback" in info.value.__notes__[0]
            assert server.stats().connected == 1  # raised once, then calls work


def test_callback_exception_is_raised_by_close(channel):
    ran = threading.Event()
    server = xshm.Server(channel)
    server.on_event(failing_callback(ran))
    with xshm.Client(channel):
        assert ran.wait(DEADLINE_S)
    with pytest.raises(Boom):
        server.close()
    assert server.closed


def test_callback_exception_raised_at_the_end_of_a_with_block(channel):
    ran = threading.Event()
    with pytest.raises(Boom):
        with xshm.Server(channel) as server:
            server.on_event(failing_callback(ran))
            with xshm.Client(channel):
                assert ran.wait(DEADLINE_S)


def test_second_exception_and_exception_during_another_go_to_unraisablehook(channel,
                                                                            monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    ran = {CONNECT: threading.Event(), DATA: threading.Event()}

    def callback(event):
        if event.type not in ran:
            return  # DISCONNECT: nothing
        try:
            raise Boom(event.type.name)
        finally:
            if event.type in ran:
                ran[event.type].set()

    with pytest.raises(KeyError):  # the with block's own exception wins
        with xshm.Server(channel) as server:
            server.on_event(callback)
            with xshm.Client(channel) as client:
                assert ran[CONNECT].wait(DEADLINE_S)  # kept, to raise later
                client.send(b"x")
                assert ran[DATA].wait(DEADLINE_S)  # one is kept already: reported
                assert [str(r.exc_value) for r in reported] == ["DATA_AVAILABLE"]
                raise KeyError("the block's own error")
    # closing reported the kept one: neither is lost
    assert [str(r.exc_value) for r in reported] == ["DATA_AVAILABLE", "CONNECT"]
    assert all(isinstance(r.exc_value, Boom) for r in reported)
    assert "event callback" in reported[0].err_msg


def test_exception_of_an_endpoint_never_closed_goes_to_unraisablehook(channel, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    ran = threading.Event()
    server = xshm.Server(channel)
    server.on_event(failing_callback(ran))
    with xshm.Client(channel):
        assert ran.wait(DEADLINE_S)
    del server
    gc.collect()
    assert [type(r.exc_value) for r in reported] == [Boom]


def test_error_event_carries_an_xshm_error():
    from xshm._endpoint import _decode_event
    import ctypes
    code = ctypes.c_int(xshm.InvalidSegmentError.code)
    e = _decode_event(3, ctypes.addressof(code), ctypes.sizeof(code))
    assert e.type == xshm.EventType.ERROR and isinstance(e.error, xshm.InvalidSegmentError)
    assert e.error.text == xshm.strerror(-10)


def test_default_unraisablehook_prints_the_lost_exception(channel, tmp_path):
    """Outside pytest (whose hook takes anything), with Python's own hook."""
    import subprocess
    import textwrap
    from conftest import PACKAGE_DIR
    script = tmp_path / "lost.py"
    script.write_text(textwrap.dedent('''
        import sys, threading, xshm
        ran = threading.Event()
        def callback(event):
            if event.type == xshm.EventType.CONNECT:
                ran.set()
                raise RuntimeError("lost in the callback")
        server = xshm.Server(%r)
        server.on_event(callback)
        with xshm.Client(%r):
            ran.wait(30)
        try:
            with server:
                raise KeyError("own")
        except KeyError:
            print("block error kept")
        ''' % (channel, channel)))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=PACKAGE_DIR))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "block error kept"
    assert "Exception ignored in xshm event callback" in r.stderr
    assert "RuntimeError: lost in the callback" in r.stderr
