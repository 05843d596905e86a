"""Python against the C example programs: a Python server with the C
example_client, a Python client with the C example_server."""

import os
import sys
import threading

import xshm
from conftest import DEADLINE_S, Recorder

CONNECT, DISCONNECT = xshm.EventType.CONNECT, xshm.EventType.DISCONNECT
PTR_BITS = 64 if sys.maxsize > 2**32 else 32


def test_python_server_with_c_example_client(channel, example_client, processes):
    """example_client sends messages of 1 byte to 64 KiB and checks every echo."""
    count = 300
    events = Recorder()
    with xshm.Server(channel, timeout_ms=100) as server:
        server.on_event(events)
        stop = threading.Event()
        echoed = []
        failure = []

        def echo():
            buf = bytearray(xshm.MAX_MESSAGE_SIZE)
            view = memoryview(buf)
            n_echoed = 0
            try:
                while not stop.is_set():
                    try:
                        n = server.receive_into(buf)
                    except xshm.TimeoutError:
                        continue
                    server.send(view[:n])  # the same bytes back, no copy
                    n_echoed += 1
            except BaseException as exc:  # reported by the test
                failure.append(exc)
            echoed.append(n_echoed)

        thread = threading.Thread(target=echo)
        thread.start()
        try:
            client = processes([example_client, channel, str(count)])
            rc, output = client.finish()
        finally:
            stop.set()
            thread.join(DEADLINE_S)
        assert not failure, failure
        assert rc == 0, output
        assert "client: %d echoes of 1..65536 bytes" % count in output and "all intact" in output
        assert echoed == [count]

        connect = events.wait_for(lambda e: e.type == CONNECT)
        assert connect.peer.pid == client.proc.pid and connect.peer.ptr_bits in (32, 64)
        assert events.wait_for(lambda e: e.type == DISCONNECT).peer.pid == client.proc.pid
        st = server.stats()
        assert (st.messages_received, st.messages_sent, st.messages_lost) == (count, count, 0)
        assert st.bytes_received == st.bytes_sent


def test_python_client_with_c_example_server(channel, example_server, processes):
    """example_server echoes every message and exits 0 once its client left."""
    server = processes([example_server, channel, str(int(DEADLINE_S))])
    server.wait_line("ready, waiting for a client")
    events = Recorder()
    sizes = [1, 7, 64, 1000, 4096, 65536] + [(i * 7919) % 65536 + 1 for i in range(100)]
    with xshm.Client(channel) as client:
        client.on_event(events)
        connect = events.wait_for(lambda e: e.type == CONNECT)
        assert connect.peer.pid == server.proc.pid and connect.peer.slot == 0
        out = bytearray(xshm.MAX_MESSAGE_SIZE)
        for i, n in enumerate(sizes):
            payload = bytes((i * 31 + k * 7) & 0xFF for k in range(n))
            client.send(payload)
            if i % 2:
                assert client.receive() == payload
            else:
                assert client.receive_into(out) == n and out[:n] == payload
        st = client.stats()
        assert (st.messages_sent, st.messages_received, st.messages_lost) == \
            (len(sizes), len(sizes), 0)
        assert st.bytes_sent == st.bytes_received == sum(sizes)
        assert st.connected == 1
    server.wait_line("server: client connected (pid %d, %d-bit, slot 0)" % (os.getpid(), PTR_BITS))
    rc, output = server.finish()
    assert rc == 0, output
    assert "server: client disconnected (pid %d)" % os.getpid() in output
    assert "server: echoed %d messages, received %d bytes, lost 0" % (len(sizes), sum(sizes)) \
        in output


def test_python_client_sees_the_c_server_leave(channel, example_server, processes):
    server = processes([example_server, channel, str(int(DEADLINE_S))])
    server.wait_line("ready, waiting for a client")
    events = Recorder()
    with xshm.Client(channel) as client:
        client.on_event(events)
        events.wait_for(lambda e: e.type == CONNECT)
        server.proc.kill()  # killed: never says goodbye
        server.proc.wait(DEADLINE_S)
        events.wait_for(lambda e: e.type == DISCONNECT)
        try:
            client.send(b"anyone?")
        except xshm.NotConnectedError:
            pass
        else:
            raise AssertionError("send to a dead server succeeded")
    # A new server reclaims the dead one's channel; closing it removes it.
    with xshm.Server(channel):
        pass
