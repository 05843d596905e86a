"""The API of the xshm package within one process: endpoints, messages,
buffers, statistics, closing."""

import array
import builtins
import time

import pytest

import xshm


def test_library_loaded():
    assert xshm.library_version()[0] == 1
    assert "xshm" in str(xshm.library_path())


def test_defaults_are_those_of_shm_default_config(channel):
    with xshm.Server(channel) as server:
        assert (server.size, server.max_clients, server.blocking, server.timeout_ms) == \
            (4 * 1024 * 1024, 4, True, 5000)
        assert server.available() == 4 * 1024 * 1024  # no client: the whole ring


def test_round_trip_of_every_buffer_type(channel):
    with xshm.Server(channel, size=1 << 16, max_clients=2, timeout_ms=2000) as server, \
            xshm.Client(channel) as client:
        payloads = [
            b"bytes",
            bytearray(b"bytearray"),
            memoryview(b"a read-only memoryview slice")[2:11],
            memoryview(bytearray(b"a writable memoryview")),
            array.array("I", [1, 2, 3]),  # a typed buffer: its bytes are sent
            memoryview(b"0123456789")[::3],  # not contiguous: copied, then sent
        ]
        for p in payloads:
            client.send(p)
            assert server.receive() == bytes(memoryview(p).tobytes())
            server.send(p)
            got = client.receive()
            assert type(got) is bytes and got == memoryview(p).tobytes()


def test_largest_message_and_binary_data(channel):
    big = bytes(range(256)) * (xshm.MAX_MESSAGE_SIZE // 256)
    with xshm.Server(channel, timeout_ms=2000) as server, xshm.Client(channel) as client:
        client.send(big)
        assert server.receive() == big
        client.send(b"\0")
        assert server.receive() == b"\0"


def test_receive_into_fills_the_callers_buffer(channel):
    with xshm.Server(channel, timeout_ms=2000) as server, xshm.Client(channel) as client:
        server.send(b"abcdef")
        buf = bytearray(b"." * 10)
        assert client.receive_into(memoryview(buf)[3:]) == 6  # written in place, at the offset
        assert buf == bytearray(b"...abcdef.")

        server.send(bytes(range(8)))
        arr = array.array("B", [0] * 16)
        assert client.receive_into(arr) == 8
        assert arr.tolist()[:9] == [0, 1, 2, 3, 4, 5, 6, 7, 0]


def test_receive_into_numpy_array(channel):
    np = pytest.importorskip("numpy", reason="numpy is not installed")
    with xshm.Server(channel, timeout_ms=2000) as server, xshm.Client(channel) as client:
        values = np.arange(100, dtype=np.float64)
        server.send(values)  # its buffer, no copy
        out = np.zeros(128, dtype=np.float64)
        assert client.receive_into(out) == 800
        assert (out[:100] == values).all() and (out[100:] == 0).all()


def test_receive_into_too_small_keeps_the_message(channel):
    with xshm.Server(channel, timeout_ms=2000) as server, xshm.Client(channel) as client:
        server.send(b"0123456789")
        with pytest.raises(xshm.BufferTooSmallError) as info:
            client.receive_into(bytearray(4))
        assert info.value.needed == 10
        assert info.value.code == -9
        assert client.receive() == b"0123456789"  # still there


@pytest.mark.parametrize("buffer", [b"read-only bytes", memoryview(b"read-only"),
                                    memoryview(bytearray(16))[::2], "a str"])
def test_receive_into_refuses_unusable_buffers(channel, buffer):
    with xshm.Server(channel, timeout_ms=2000) as server, xshm.Client(channel):
        server.send(b"x")
        with pytest.raises(TypeError):
            server.receive_into(buffer)


def test_send_refuses_str_and_wrong_sizes(channel):
    with xshm.Server(channel, size=4096, timeout_ms=2000) as server, xshm.Client(channel) as client:
        with pytest.raises(TypeError):
            client.send("text")
        with pytest.raises(xshm.InvalidParamError):
            client.send(b"")
        with pytest.raises(xshm.InvalidParamError) as info:
            client.send(b"x" * 4096)  # larger than a 4 KiB ring holds
        assert isinstance(info.value, ValueError)  # also a ValueError
        client.send(b"x" * (4096 - xshm.MESSAGE_OVERHEAD))  # the largest it holds
        assert len(server.receive()) == 4096 - xshm.MESSAGE_OVERHEAD


def test_stats_count_messages_and_bytes(channel):
    with xshm.Server(channel, timeout_ms=2000) as server, xshm.Client(channel) as client:
        for n in (1, 10, 100):
            client.send(b"c" * n)
        for _ in range(3):
            server.receive()
        server.send(b"s" * 7)
        s, c = server.stats(), client.stats()
        assert isinstance(s, xshm.Stats)
        assert (s.messages_received, s.bytes_received, s.messages_sent, s.bytes_sent) == \
            (3, 111, 1, 7)
        assert (c.messages_sent, c.bytes_sent, c.messages_received) == (3, 111, 0)
        assert s.connected == 1 and c.connected == 1
        assert s.messages_lost == 0 and c.messages_lost == 0
        assert server.available() < 4 * 1024 * 1024  # the client has not read it


def test_loss_is_counted(channel):
    with xshm.Server(channel, size=4096, timeout_ms=2000) as server, xshm.Client(channel) as client:
        for i in range(200):  # 200 * 88 bytes: the 4 KiB ring overflows
            server.send(i.to_bytes(4, "little") * 16)
        received = 0
        server_stats = server.stats()
        while True:
            try:
                client.receive_into(bytearray(64))
                received += 1
            except xshm.TimeoutError:
                break
            if received + client.stats().messages_lost >= 200:
                break
        st = client.stats()
        assert st.messages_lost > 0
        assert st.messages_received + st.messages_lost == server_stats.messages_sent == 200


def test_non_blocking_receive_raises_empty(channel):
    with xshm.Server(channel, blocking=False) as server, xshm.Client(channel) as client:
        with pytest.raises(xshm.EmptyError):
            server.receive()
        with pytest.raises(xshm.EmptyError):
            client.receive_into(bytearray(8))  # a client uses the server's setting
        client.send(b"x")
        assert server.receive() == b"x"


def test_blocking_receive_times_out_after_its_timeout(channel):
    with xshm.Server(channel, timeout_ms=100) as server, xshm.Client(channel):
        t0 = time.monotonic()
        with pytest.raises(xshm.TimeoutError) as info:
            server.receive()
        assert time.monotonic() - t0 >= 0.1
        assert isinstance(info.value, builtins.TimeoutError)


def test_closed_endpoint_raises_closed(channel):
    server = xshm.Server(channel)
    client = xshm.Client(channel)
    client.close()
    client.close()  # twice: harmless
    assert client.closed and "closed" in repr(client)
    for call in (lambda: client.send(b"x"), client.receive, client.stats,
                 lambda: client.receive_into(bytearray(1)), lambda: client.on_event(print)):
        with pytest.raises(xshm.ClosedError):
            call()
    with server:
        pass
    assert server.closed
    with pytest.raises(xshm.ClosedError):
        server.send(b"x")
    with xshm.Server(channel):  # the name is free again
        pass


def test_receive_releases_the_gil_and_wakes_on_the_peer(channel):
    import threading
    server = xshm.Server(channel, timeout_ms=0)  # receives wait without limit
    client = xshm.Client(channel)
    outcome = []

    def receive():
        for _ in range(2):
            try:
                outcome.append(client.receive())
            except xshm.Error as exc:
                outcome.append(exc)

    t = threading.Thread(target=receive)
    t.start()
    server.send(b"while it waits")  # this thread runs while the other one is blocked
    t.join(0)
    server.close()  # the client's second receive wakes: the server left
    t.join(30)
    assert not t.is_alive()
    client.close()
    assert outcome[0] == b"while it waits"
    assert isinstance(outcome[1], xshm.NotConnectedError)


def test_client_reconnects_to_a_new_server(channel):
    server = xshm.Server(channel, timeout_ms=2000)
    with xshm.Client(channel) as client:
        client.send(b"one")
        assert server.receive() == b"one"
        server.close()
        with pytest.raises(xshm.NotConnectedError):
            client.send(b"lost")
        with xshm.Server(channel, timeout_ms=2000) as again:
            client.reconnect()
            client.send(b"two")
            assert again.receive() == b"two"
            assert client.stats().messages_sent == 1  # restarted from zero


def test_several_clients_and_broadcast(channel):
    with xshm.Server(channel, max_clients=3, timeout_ms=2000) as server:
        clients = [xshm.Client(channel) for _ in range(3)]
        try:
            assert server.stats().connected == 3
            server.send(b"to all")
            assert [c.receive() for c in clients] == [b"to all"] * 3
            for i, c in enumerate(clients):
                c.send(bytes([i]))
            assert sorted(server.receive() for _ in clients) == [b"\0", b"\1", b"\2"]
        finally:
            for c in clients:
                c.close()


def test_buffers_without_the_c_api(channel, monkeypatch):
    """The fallback for interpreters without ctypes.pythonapi: ctypes' own
    buffer access (read-only buffers are copied for send)."""
    from xshm import _native
    monkeypatch.setattr(_native, "HAVE_BUFFER_API", False)
    with xshm.Server(channel, timeout_ms=2000) as server, xshm.Client(channel) as client:
        client.send(memoryview(b"read-only")[1:5])
        client.send(bytearray(b"writable"))
        buf = bytearray(16)
        assert server.receive_into(memoryview(buf)[2:]) == 4 and buf[2:6] == b"ead-"
        assert server.receive_into(buf) == 8 and buf[:8] == b"writable"
        with pytest.raises(TypeError):
            server.receive_into(b"read-only")
