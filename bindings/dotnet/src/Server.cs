// Server.cs - a channel's server (shm_server_*).
using System;

namespace Xshm
{
    /// <summary>
    /// Creates a channel and talks with its clients: <see cref="Endpoint.Send(byte[])"/>
    /// goes to every connected client, receive takes a message from any client.
    /// </summary>
    public sealed unsafe class Server : Endpoint
    {
        /// <summary>Default ring size: 4 MiB.</summary>
        public const int DefaultRingSize = 4 * 1024 * 1024;
        /// <summary>Default number of clients: 4.</summary>
        public const int DefaultMaxClients = 4;
        /// <summary>Default timeout of a blocking receive: 5000 ms.</summary>
        public const int DefaultTimeoutMs = 5000;

        private readonly ServerHandle handle;

        /// <summary>
        /// Create the channel <paramref name="name"/> (1..64 characters of
        /// [A-Za-z0-9._-], on Windows optionally prefixed Local\ or Global\).
        /// </summary>
        /// <param name="name">the channel's name</param>
        /// <param name="ringSize">bytes of each ring, a power of two from 4 KiB to 1 GiB</param>
        /// <param name="maxClients">clients that may be connected at once, 1..64</param>
        /// <param name="blocking">receive waits for a message (true) or fails at once with Empty</param>
        /// <param name="timeoutMs">longest wait of a blocking receive; 0: no limit. Clients use it too.</param>
        /// <param name="securityDescriptor">Windows only: an SDDL string for the channel's
        /// objects, so that other users can open it (docs/security.md); null: the creating user only</param>
        /// <exception cref="XshmException">InvalidParam, Exists, Access, Memory, System</exception>
        public Server(string name, int ringSize = DefaultRingSize, int maxClients = DefaultMaxClients,
                      bool blocking = true, int timeoutMs = DefaultTimeoutMs, string securityDescriptor = null)
            : this(name, Create(name, ringSize, maxClients, blocking, timeoutMs, securityDescriptor))
        {
            RingSize = ringSize;
            MaxClients = maxClients;
            Blocking = blocking;
            TimeoutMs = timeoutMs;
        }

        private Server(string name, ServerHandle handle)
            : base(name, handle)
        {
            this.handle = handle;
        }

        private static ServerHandle Create(string name, int ringSize, int maxClients, bool blocking,
                                           int timeoutMs, string securityDescriptor)
        {
            if (name == null)
                throw new ArgumentNullException("name");
            Native.RingConfig config;
            config.Size = unchecked((uint)ringSize);
            config.MaxReaders = unchecked((uint)maxClients);
            config.Blocking = blocking ? (byte)1 : (byte)0;
            config.TimeoutMs = unchecked((uint)timeoutMs);
            ServerHandle h = Native.shm_server_create_with_security(name, ref config, securityDescriptor);
            if (h.IsInvalid) {
                int err = Native.shm_last_error();
                h.Dispose();
                throw new XshmException((ErrorCode)err);
            }
            return h;
        }

        /// <summary>Bytes of each ring.</summary>
        public int RingSize { get; }
        /// <summary>Clients that may be connected at once.</summary>
        public int MaxClients { get; }
        /// <summary>Whether receive waits for a message.</summary>
        public bool Blocking { get; }
        /// <summary>Longest wait of a blocking receive, in milliseconds (0: no limit).</summary>
        public int TimeoutMs { get; }

        internal override int NativeSend(byte* data, uint size)
        {
            return Native.shm_server_send(handle, data, size);
        }

        internal override int NativeReceive(byte* data, ref uint size)
        {
            return Native.shm_server_receive(handle, data, ref size);
        }

        internal override int NativeRegister(Native.EventCallback cb, IntPtr userData)
        {
            return Native.shm_server_register_callback(handle, cb, userData);
        }

        internal override int NativeGetStats(out Stats stats)
        {
            return Native.shm_server_get_stats(handle, out stats);
        }

        internal override IntPtr NativeTxRing()
        {
            return Native.shm_server_tx_ring(handle);
        }
    }
}
