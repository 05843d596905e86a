// Tests.cs - the tests of the C# bindings: API, errors, events, lifetime, and
// the C example programs as peers.
using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading;

namespace Xshm.Tests
{
    internal static class Tests
    {
        private static int counter;

        // A channel name of its own for every use, so that runs never meet.
        private static string Channel()
        {
            return "cs" + Process.GetCurrentProcess().Id + "_" + Interlocked.Increment(ref counter);
        }

        private static byte[] Pattern(int n, int seed)
        {
            var b = new byte[n];
            for (int k = 0; k < n; k++)
                b[k] = (byte)(seed * 31 + k * 7);
            return b;
        }

        // ---- library --------------------------------------------------------------

        [Test]
        public static void Version_matches_the_header()
        {
            Assert.Equal(Library.HeaderVersion, Library.Version, "shm_version()");
        }

        [Test]
        public static void Every_error_code_has_the_library_text()
        {
            foreach (ErrorCode c in Enum.GetValues(typeof(ErrorCode))) {
                string text = Library.ErrorText(c);
                Assert.True(!string.IsNullOrEmpty(text) && text != "unknown error", c + " has a text");
                Assert.Equal(text, new XshmException(c).Message, c + ": exception message");
            }
            Assert.Equal("timed out", Library.ErrorText(ErrorCode.Timeout), "Timeout");
            Assert.Equal("unknown error", Library.ErrorText((ErrorCode)(-99)), "a foreign value");
        }

        // The bindings' copy of the header's constants: ErrorCode has every
        // code of SHM_ERROR_MAP, under its name, with its value and text.
        [Test]
        public static void ErrorCode_and_Library_match_the_header()
        {
            if (Runner.Header == null)
                throw new SkipException("no header given (--header include/shm_ipc.h)");
            string h = System.IO.File.ReadAllText(Runner.Header);
            var entries = Regex.Matches(h, @"XX\((SHM_[A-Z_]+),\s*(-?\d+),[\s\\]*""([^""]*)""\)");
            Assert.True(entries.Count >= 14, "SHM_ERROR_MAP found in " + Runner.Header);
            foreach (Match m in entries) {
                string name = string.Concat(m.Groups[1].Value.Replace("SHM_ERROR_", "").Replace("SHM_", "")
                                             .Split('_').Select(w => w[0] + w.Substring(1).ToLowerInvariant()));
                int value = int.Parse(m.Groups[2].Value);
                Assert.Equal(name, Enum.GetName(typeof(ErrorCode), value), m.Groups[1].Value + " (" + value + ")");
                Assert.Equal(m.Groups[3].Value, Library.ErrorText((ErrorCode)value), m.Groups[1].Value + " text");
            }
            Assert.Equal(entries.Count, Enum.GetValues(typeof(ErrorCode)).Length, "no other ErrorCode");
            foreach (var c in new[] {
                         Tuple.Create("SHM_MAX_MESSAGE_SIZE", Library.MaxMessageSize),
                         Tuple.Create("SHM_MIN_RING_SIZE", Library.MinRingSize),
                         Tuple.Create("SHM_MESSAGE_OVERHEAD", Library.MessageOverhead),
                         Tuple.Create("SHM_MAX_READERS", Library.MaxClients),
                         Tuple.Create("SHM_MAX_NAME_LENGTH", Library.MaxNameLength) }) {
                Match m = Regex.Match(h, "#define " + c.Item1 + @" (\d+)u");
                Assert.True(m.Success, c.Item1 + " in the header");
                Assert.Equal(int.Parse(m.Groups[1].Value), c.Item2, c.Item1);
            }
            Match v = Regex.Match(h, @"#define SHM_VERSION_MAJOR (\d+)\s+.*#define SHM_VERSION_MINOR (\d+)\s+.*#define SHM_VERSION_PATCH (\d+)",
                                  RegexOptions.Singleline);
            Assert.True(v.Success, "SHM_VERSION_* in the header");
            Assert.Equal(int.Parse(v.Groups[1].Value) * 10000 + int.Parse(v.Groups[2].Value) * 100 + int.Parse(v.Groups[3].Value),
                         Library.HeaderVersion, "Library.HeaderVersion");
        }

        // ---- errors -----------------------------------------------------------------

        [Test]
        public static void Invalid_names_and_configurations_are_refused()
        {
            Assert.Fails(ErrorCode.InvalidParam, () => new Server(""), "empty name");
            Assert.Fails(ErrorCode.InvalidParam, () => new Server("bad/name"), "a slash");
            Assert.Fails(ErrorCode.InvalidParam, () => new Server(new string('a', Library.MaxNameLength + 1)), "65 characters");
            Assert.Fails(ErrorCode.InvalidParam, () => new Client("bad name"), "a space");
            Assert.Fails(ErrorCode.InvalidParam, () => new Server(Channel(), ringSize: 5000), "ring size not a power of two");
            Assert.Fails(ErrorCode.InvalidParam, () => new Server(Channel(), ringSize: 2048), "ring below 4 KiB");
            Assert.Fails(ErrorCode.InvalidParam, () => new Server(Channel(), maxClients: 0), "no client");
            Assert.Fails(ErrorCode.InvalidParam, () => new Server(Channel(), maxClients: 65), "65 clients");
            Assert.Throws<ArgumentNullException>(() => new Server(null), "null server name");
            Assert.Throws<ArgumentNullException>(() => new Client(null), "null client name");
        }

        [Test]
        public static void Security_descriptor_is_refused_outside_Windows()
        {
            if (Environment.OSVersion.Platform != PlatformID.Unix)
                throw new SkipException("Windows accepts an SDDL string");
            Assert.Fails(ErrorCode.InvalidParam, () => new Server(Channel(), securityDescriptor: "D:(A;;GA;;;WD)"),
                         "an SDDL string on Linux");
        }

        [Test]
        public static void A_second_server_of_a_name_is_Exists()
        {
            string name = Channel();
            using (new Server(name, ringSize: 4096)) {
                var e = Assert.Fails(ErrorCode.Exists, () => new Server(name, ringSize: 4096), "second server");
                Assert.Equal("a live channel with this name already exists", e.Message, "text");
            }
            using (new Server(name, ringSize: 4096)) {
                // the name is free again once the first was disposed
            }
        }

        [Test]
        public static void Connecting_to_no_server_is_NotFound()
        {
            Assert.Fails(ErrorCode.NotFound, () => new Client(Channel()), "no server");
        }

        [Test]
        public static void A_client_beyond_maxClients_is_Busy()
        {
            string name = Channel();
            using (new Server(name, ringSize: 4096, maxClients: 1))
            using (new Client(name))
                Assert.Fails(ErrorCode.Busy, () => new Client(name), "second client");
        }

        [Test]
        public static void Send_errors()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 1 << 18)) {
                Assert.Fails(ErrorCode.NotConnected, () => server.Send(new byte[] { 1 }), "server send, no client");
                using (var client = new Client(name)) {
                    Assert.Fails(ErrorCode.InvalidParam, () => client.Send(new byte[0]), "empty message");
                    Assert.Fails(ErrorCode.InvalidParam, () => client.Send(new byte[Library.MaxMessageSize + 1]), "64 KiB + 1");
                    Assert.Throws<ArgumentNullException>(() => client.Send(null), "null");
                    Assert.Throws<ArgumentOutOfRangeException>(() => client.Send(new byte[4], 3, 2), "range");
                    Assert.Throws<ArgumentOutOfRangeException>(() => client.Send(new byte[4], -1, 2), "offset");
                }
            }
        }

        [Test]
        public static void Receive_into_a_small_buffer_keeps_the_message()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 1 << 16, blocking: false))
            using (var client = new Client(name)) {
                byte[] sent = Pattern(100, 3);
                client.Send(sent);
                var e = Assert.Fails(ErrorCode.BufferTooSmall, () => server.Receive(new byte[10]), "10-byte buffer");
                Assert.Equal(100, e.RequiredLength, "RequiredLength");
                var buf = new byte[200];
                int n = server.Receive(buf, 50, 100);
                Assert.Equal(100, n, "length");
                Assert.Bytes(sent, buf.Skip(50).Take(100).ToArray(), "message at offset 50");
                Assert.Throws<ArgumentOutOfRangeException>(() => server.Receive(buf, 150, 51), "range");
            }
        }

        [Test]
        public static void Empty_and_Timeout()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 4096, blocking: false)) {
                byte[] m;
                Assert.True(!server.TryReceive(out m) && m == null, "TryReceive: false when empty");
                int n;
                Assert.True(!server.TryReceive(new byte[16], out n) && n == 0, "TryReceive(buffer): false");
                Assert.Fails(ErrorCode.Empty, () => server.Receive(), "Receive when empty");
            }
            name = Channel();
            using (var server = new Server(name, ringSize: 4096, blocking: true, timeoutMs: 30))
            using (var client = new Client(name)) {
                byte[] m;
                Assert.True(!server.TryReceive(out m), "TryReceive: false at the timeout");
                Assert.Fails(ErrorCode.Timeout, () => server.Receive(), "server Receive");
                Assert.Fails(ErrorCode.Timeout, () => client.Receive(), "client Receive (the server's timeout)");
            }
        }

        // ---- data ----------------------------------------------------------------------

        [Test]
        public static void Round_trips_of_every_size()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 1 << 18))
            using (var client = new Client(name)) {
                foreach (int size in new[] { 1, 7, 64, 1000, 4096, 32768, Library.MaxMessageSize }) {
                    byte[] up = Pattern(size, size), down = Pattern(size, size + 1);
                    client.Send(up);
                    Assert.Bytes(up, server.Receive(), "client -> server, " + size + " B");
                    server.Send(down);
                    Assert.Bytes(down, client.Receive(), "server -> client, " + size + " B");
                }
                byte[] big = Pattern(300, 9);
                client.Send(big, 100, 50);
                Assert.Bytes(big.Skip(100).Take(50).ToArray(), server.Receive(), "Send(array, offset, count)");
                var buf = new byte[Library.MaxMessageSize];
                server.Send(big);
                int n;
                Assert.True(client.TryReceive(buf, out n) && n == 300, "TryReceive(buffer)");
                Assert.Bytes(big, buf.Take(n).ToArray(), "TryReceive(buffer) bytes");
            }
        }

        [Test]
        public static void Span_overloads()
        {
#if XSHM_SPAN
            string name = Channel();
            using (var server = new Server(name, ringSize: 1 << 16, blocking: false))
            using (var client = new Client(name)) {
                byte[] src = Pattern(64, 5);
                client.Send(new ReadOnlySpan<byte>(src, 8, 20));
                var dst = new byte[100];
                int n = server.Receive(new Span<byte>(dst, 30, 70));
                Assert.Equal(20, n, "length");
                Assert.Bytes(src.Skip(8).Take(20).ToArray(), dst.Skip(30).Take(20).ToArray(), "bytes");
                Assert.True(dst.Take(30).All(b => b == 0), "nothing written before the span");

                server.Send(new ReadOnlySpan<byte>(src));
                Assert.Fails(ErrorCode.BufferTooSmall, () => client.Receive(new Span<byte>(dst, 0, 10)), "short span");
                Assert.True(client.TryReceive(new Span<byte>(dst), out n) && n == 64, "TryReceive(span)");
                Assert.True(!client.TryReceive(new Span<byte>(dst), out n) && n == 0, "TryReceive(span) empty");
                Assert.Fails(ErrorCode.InvalidParam, () => client.Send(ReadOnlySpan<byte>.Empty), "empty span");
            }
#else
            throw new SkipException("built without XSHM_SPAN");
#endif
        }

        [Test]
        public static void Messages_from_another_thread_arrive_in_order()
        {
            string name = Channel();
            const int count = 2000;
            using (var server = new Server(name, ringSize: 1 << 20))
            using (var client = new Client(name)) {
                var sender = new Thread(() => {
                    for (int i = 0; i < count; i++)
                        client.Send(BitConverter.GetBytes(i));
                });
                sender.Start();
                for (int i = 0; i < count; i++)
                    Assert.Equal(i, BitConverter.ToInt32(server.Receive(), 0), "message " + i);
                sender.Join();
            }
        }

        [Test]
        public static void Stats_count_messages_bytes_and_losses()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 4096, blocking: false))
            using (var client = new Client(name)) {
                for (int i = 0; i < 3; i++) {
                    client.Send(new byte[10]);
                    server.Receive();
                }
                Stats s = server.GetStats();
                Assert.Equal(3UL, s.MessagesReceived, "server received");
                Assert.Equal(30UL, s.BytesReceived, "server bytes received");
                Assert.Equal(1, s.Connected, "server: clients connected");
                Assert.Equal(3UL, client.GetStats().MessagesSent, "client sent");

                // 100 messages of 1000 B into a 4 KiB ring the client does not read.
                for (int i = 0; i < 100; i++)
                    server.Send(new byte[1000]);
                Assert.Equal(100UL, server.GetStats().MessagesSent, "server sent");
                Assert.True(server.TxRingAvailable < 4096, "TxRingAvailable below the ring size with an unread reader");
                int got = 0;
                byte[] m;
                while (client.TryReceive(out m))
                    got++;
                Stats c = client.GetStats();
                Assert.Equal((ulong)got, c.MessagesReceived, "client received");
                Assert.True(c.MessagesLost > 0, "the client lost messages");
                Assert.Equal(100UL, c.MessagesReceived + c.MessagesLost, "received + lost == sent");
                Assert.Equal(1, c.Connected, "client connected");
            }
        }

        [Test]
        public static void TxRingAvailable_is_the_ring_size_without_readers()
        {
            using (var server = new Server(Channel(), ringSize: 8192))
                Assert.Equal(8192L, server.TxRingAvailable, "no client");
        }

        // ---- events ---------------------------------------------------------------------

        [Test]
        public static void Server_events_come_from_the_listener_thread()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 4096, blocking: false)) {
                var connected = new ManualResetEvent(false);
                var disconnected = new ManualResetEvent(false);
                var data = new ManualResetEvent(false);
                PeerInfo peer = default(PeerInfo), left = default(PeerInfo);
                int thread = 0;
                byte[] received = null;
                server.Connected += (s, e) => {
                    peer = e.Peer;
                    thread = Thread.CurrentThread.ManagedThreadId;
                    Assert.True(s == server, "sender is the server");
                    connected.Set();
                };
                server.Disconnected += (s, e) => { left = e.Peer; disconnected.Set(); };
                server.DataAvailable += (s, e) => {
                    byte[] m;
                    if (server.TryReceive(out m)) {
                        received = m;
                        data.Set();
                    }
                };
                using (var client = new Client(name)) {
                    Assert.Signalled(connected, "Connected");
                    Assert.Equal(Process.GetCurrentProcess().Id, peer.ProcessId, "peer pid");
                    Assert.Equal(IntPtr.Size * 8, peer.PointerBits, "peer pointer width");
                    Assert.True(thread != Thread.CurrentThread.ManagedThreadId, "raised on another thread");
                    client.Send(new byte[] { 1, 2, 3 });
                    Assert.Signalled(data, "DataAvailable");
                    Assert.Bytes(new byte[] { 1, 2, 3 }, received, "received in the handler");
                }
                Assert.Signalled(disconnected, "Disconnected");
                Assert.Equal(peer.ProcessId, left.ProcessId, "who left");
                Assert.Equal(peer.Slot, left.Slot, "slot");
                Assert.True(peer.ClientId != 0 && peer.ClientId == left.ClientId,
                            "the same client id on Connected and Disconnected");
                Assert.True((peer.ClientId & 0xFF) == (ulong)peer.Slot, "the client id names the slot");
            }
        }

        [Test]
        public static void Client_events_and_the_server_leaving()
        {
            string name = Channel();
            var server = new Server(name, ringSize: 4096);
            using (var client = new Client(name)) {
                var connected = new ManualResetEvent(false);
                var disconnected = new ManualResetEvent(false);
                int serverPid = 0;
                client.Connected += (s, e) => { serverPid = e.Peer.ProcessId; connected.Set(); };
                client.Disconnected += (s, e) => disconnected.Set();
                Assert.Signalled(connected, "Connected at once: the server is there");
                Assert.Equal(Process.GetCurrentProcess().Id, serverPid, "server pid");
                server.Dispose();
                Assert.Signalled(disconnected, "Disconnected when the server closes");
                Assert.Fails(ErrorCode.NotConnected, () => client.Send(new byte[1]), "send after the server left");
            }
        }

        [Test]
        public static void Subscribing_late_reports_clients_already_there()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 4096))
            using (var c1 = new Client(name))
            using (var c2 = new Client(name)) {
                var seen = new CountdownEvent(2);
                server.Connected += (s, e) => seen.Signal();
                Assert.Signalled(seen.WaitHandle, "Connected for both clients");
            }
        }

        [Test]
        public static void A_throwing_handler_is_reported_and_the_others_still_run()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 4096)) {
                var reported = new ManualResetEvent(false);
                var second = new ManualResetEvent(false);
                var disconnected = new ManualResetEvent(false);
                HandlerFailedEventArgs failure = null;
                server.HandlerFailed += (s, e) => { failure = e; reported.Set(); };
                server.Connected += (s, e) => { throw new InvalidOperationException("from the handler"); };
                server.Connected += (s, e) => second.Set();
                server.Disconnected += (s, e) => disconnected.Set();
                using (new Client(name)) {
                    Assert.Signalled(reported, "HandlerFailed");
                    Assert.Signalled(second, "the second Connected handler");
                }
                Assert.Signalled(disconnected, "later events still delivered");
                Assert.Equal("Connected", failure.EventName, "event name");
                Assert.True(failure.Exception is InvalidOperationException, "the handler's exception");
            }
        }

        [Test]
        public static void The_callback_survives_garbage_collection()
        {
            string name = Channel();
            using (var server = new Server(name, ringSize: 4096)) {
                var connects = new AutoResetEvent(false);
                server.Connected += (s, e) => connects.Set();
                for (int round = 0; round < 3; round++) {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    GC.Collect();
                    using (new Client(name))
                        Assert.Signalled(connects, "Connected after a collection, round " + round);
                }
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void AbandonServer(string name, ManualResetEvent connected)
        {
            var server = new Server(name, ringSize: 4096);
            server.Connected += (s, e) => connected.Set();
        }

        [Test]
        public static void An_abandoned_server_is_closed_by_its_finalizer()
        {
            string name = Channel();
            var connected = new ManualResetEvent(false);
            // Created on a thread that then ends, so that no stack slot keeps it.
            var t = new Thread(() => AbandonServer(name, connected));
            t.Start();
            t.Join();
            using (var client = new Client(name))
                Assert.Signalled(connected, "the abandoned server's handler still runs while it lives");
            for (int i = 0; ; i++) {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                try {
                    using (new Server(name, ringSize: 4096))
                        return; // the finalizer destroyed the abandoned server
                } catch (XshmException e) {
                    if (e.Error != ErrorCode.Exists || i == 50)
                        throw new Exception("the abandoned server was not finalized after " + i + " collections: " + e.Message);
                }
            }
        }

        // ---- lifetime -------------------------------------------------------------------

        [Test]
        public static void Calls_after_Dispose_throw_ObjectDisposedException()
        {
            string name = Channel();
            var server = new Server(name, ringSize: 4096);
            var client = new Client(name);
            client.Dispose();
            client.Dispose();
            server.Dispose();
            server.Dispose();
            Assert.True(server.IsDisposed && client.IsDisposed, "IsDisposed");
            Assert.Throws<ObjectDisposedException>(() => server.Send(new byte[1]), "Send");
            Assert.Throws<ObjectDisposedException>(() => client.Receive(), "Receive");
            Assert.Throws<ObjectDisposedException>(() => server.GetStats(), "GetStats");
            Assert.Throws<ObjectDisposedException>(() => { var x = server.TxRingAvailable; }, "TxRingAvailable");
            Assert.Throws<ObjectDisposedException>(() => client.Reconnect(), "Reconnect");
            Assert.Throws<ObjectDisposedException>(() => { server.Connected += (s, e) => { }; }, "subscribe");
        }

        [Test]
        public static void Dispose_from_an_event_handler()
        {
            string name = Channel();
            var server = new Server(name, ringSize: 4096);
            var disposed = new ManualResetEvent(false);
            server.Connected += (s, e) => { server.Dispose(); disposed.Set(); };
            using (var client = new Client(name)) {
                var gone = new ManualResetEvent(false);
                client.Disconnected += (s, e) => gone.Set();
                Assert.Signalled(disposed, "the handler disposed the server");
                Assert.Signalled(gone, "the client saw the server leave");
            }
            using (new Server(name, ringSize: 4096)) {
                // the channel's name is free
            }
        }

        [Test]
        public static void Dispose_while_another_thread_receives()
        {
            string name = Channel();
            var server = new Server(name, ringSize: 4096, timeoutMs: 100);
            Exception result = null;
            var entered = new ManualResetEvent(false);
            var t = new Thread(() => {
                try {
                    entered.Set();
                    server.Receive();
                } catch (Exception e) {
                    result = e;
                }
            });
            t.Start();
            Assert.Signalled(entered, "receiver started");
            server.Dispose();
            Assert.True(t.Join(TimeSpan.FromSeconds(20)), "the receive returned");
            var x = result as XshmException;
            Assert.True(result is ObjectDisposedException ||
                        (x != null && (x.Error == ErrorCode.Timeout || x.Error == ErrorCode.Closed)),
                        "the receive ended with ObjectDisposed, Timeout or Closed, not " + result);
            using (new Server(name, ringSize: 4096)) {
                // closed once the receive returned
            }
        }

        [Test]
        public static void Reconnect_to_a_new_server()
        {
            string name = Channel();
            var first = new Server(name, ringSize: 4096);
            using (var client = new Client(name)) {
                client.Send(new byte[5]);
                first.Dispose();
                Assert.Fails(ErrorCode.NotConnected, () => client.Send(new byte[1]), "send to a closed server");
                using (var second = new Server(name, ringSize: 4096)) {
                    client.Reconnect();
                    Assert.Equal(0UL, client.GetStats().MessagesSent, "stats restart");
                    client.Send(new byte[] { 42 });
                    Assert.Bytes(new byte[] { 42 }, second.Receive(), "to the new server");
                    second.Send(new byte[] { 43 });
                    Assert.Bytes(new byte[] { 43 }, client.Receive(), "from the new server");
                }
            }
        }

        // ---- the C example programs as peers ---------------------------------------------

        // example_client's message sizes.
        private static int MessageSize(uint i)
        {
            uint[] sizes = { 1, 7, 64, 100, 1000, 4096, 10000, 32768, 65536 };
            return (int)(i < 9 ? sizes[i] : 1 + unchecked(i * 2654435761u) % (i % 10 == 0 ? 65536u : 2048u));
        }

        private static string Need(string path, string what)
        {
            if (string.IsNullOrEmpty(path) || path == "-")
                throw new SkipException("no " + what + " given (--" + what.Replace('_', '-') + ")");
            return path;
        }

        [Test]
        public static void CSharp_client_against_the_C_example_server()
        {
            string name = Channel();
            const uint count = 500;
            using (var server = new Child(Need(Runner.ExampleServer, "example_server"), name, "30")) {
                server.WaitFor("ready", 30);
                int serverPid = 0;
                var connected = new ManualResetEvent(false);
                using (var client = new Client(name)) {
                    client.Connected += (s, e) => { serverPid = e.Peer.ProcessId; connected.Set(); };
                    Assert.Signalled(connected, "Connected");
                    var buf = new byte[Library.MaxMessageSize];
                    for (uint i = 0; i < count; i++) {
                        byte[] m = Pattern(MessageSize(i), (int)i);
                        client.Send(m);
                        int n = client.Receive(new ArraySegment<byte>(buf).Array);
                        Assert.Equal(m.Length, n, "echo " + i + " length");
                        for (int k = 0; k < n; k++)
                            if (buf[k] != m[k])
                                throw new Exception("echo " + i + " differs at byte " + k);
                    }
                    Stats st = client.GetStats();
                    Assert.Equal((ulong)count, st.MessagesReceived, "echoes received");
                    Assert.Equal(0UL, st.MessagesLost, "none lost");
                }
                server.ExpectSuccess(30);
                Assert.True(server.Output.Contains("client connected"), "the server saw the client:\n" + server.Output);
                Assert.True(server.Output.Contains("echoed " + count + " messages"), "the server echoed " + count + ":\n" + server.Output);
                Console.WriteLine("  example_server (pid {0}) echoed {1} messages of 1..65536 B to the C# client", serverPid, count);
            }
        }

        [Test]
        public static void CSharp_server_against_the_C_example_client()
        {
            string name = Channel();
            const int count = 300;
            using (var server = new Server(name, timeoutMs: 200)) {
                var left = new ManualResetEvent(false);
                int clientPid = 0;
                server.Connected += (s, e) => clientPid = e.Peer.ProcessId;
                server.Disconnected += (s, e) => left.Set();
                using (var client = new Child(Need(Runner.ExampleClient, "example_client"), name, count.ToString())) {
                    var buf = new byte[Library.MaxMessageSize];
                    var watch = Stopwatch.StartNew();
                    int echoed = 0;
                    while (true) {
                        int n;
                        if (server.TryReceive(buf, out n)) {
                            server.Send(buf, 0, n);
                            echoed++;
                        } else if (left.WaitOne(0)) {
                            break;
                        } else if (watch.Elapsed > TimeSpan.FromSeconds(60)) {
                            throw new Exception("example_client did not finish within 60 s:\n" + client.Output);
                        }
                    }
                    client.ExpectSuccess(30);
                    Assert.Equal(count, echoed, "messages echoed");
                    Assert.True(client.Output.Contains("all intact"), "example_client checked every echo:\n" + client.Output);
                    Console.WriteLine("  C# server echoed {0} messages to example_client (pid {1}): {2}", echoed, clientPid,
                                      client.Output.Split('\n').FirstOrDefault(l => l.Contains("round trip")));
                }
            }
        }

        // A README program: PEER example_server (started first, the program
        // connects to it), example_client (started once the program printed
        // "ready") or none. The program gets the channel's name as argument.
        public static void RunReadmeProgram(string program, string peer)
        {
            string name = Channel();
            string mono = Runner.Mono ?? "mono";
            if (peer == "example_server") {
                using (var server = new Child(Need(Runner.ExampleServer, "example_server"), name, "30")) {
                    server.WaitFor("ready", 30);
                    using (var p = new Child(mono, "--debug", program, name)) {
                        p.ExpectSuccess(60);
                        Console.Write(Indent(p.Output));
                    }
                    server.ExpectSuccess(30);
                }
            } else if (peer == "example_client") {
                using (var p = new Child(mono, "--debug", program, name)) {
                    p.WaitFor("ready", 30);
                    using (var client = new Child(Need(Runner.ExampleClient, "example_client"), name, "100")) {
                        client.ExpectSuccess(60);
                        Assert.True(client.Output.Contains("all intact"), "example_client's checks:\n" + client.Output);
                    }
                    p.ExpectSuccess(30);
                    Console.Write(Indent(p.Output));
                }
            } else if (peer == "none") {
                using (var p = new Child(mono, "--debug", program, name)) {
                    p.ExpectSuccess(60);
                    Console.Write(Indent(p.Output));
                }
            } else {
                throw new Exception("unknown peer \"" + peer + "\"");
            }
        }

        private static string Indent(string s)
        {
            return string.Concat(s.Split(new[] { '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(l => "  | " + l + "\n"));
        }
    }
}
