// Client.cs - a client of a channel (shm_client_*).
using System;

namespace Xshm
{
    /// <summary>
    /// Connects to a server's channel: send goes to the server, receive takes
    /// the server's messages, with the server's blocking and timeout.
    /// </summary>
    public sealed unsafe class Client : Endpoint
    {
        private readonly ClientHandle handle;

        /// <summary>
        /// Connect to the channel <paramref name="name"/>, retrying for about
        /// 500 ms while it does not exist yet.
        /// </summary>
        /// <exception cref="XshmException">InvalidParam, NotFound, Busy, Access, InvalidSegment, Memory, System</exception>
        public Client(string name)
            : this(name, Connect(name))
        {
        }

        private Client(string name, ClientHandle handle)
            : base(name, handle)
        {
            this.handle = handle;
        }

        private static ClientHandle Connect(string name)
        {
            if (name == null)
                throw new ArgumentNullException("name");
            ClientHandle h = Native.shm_client_connect(name);
            if (h.IsInvalid) {
                int err = Native.shm_last_error();
                h.Dispose();
                throw new XshmException((ErrorCode)err);
            }
            return h;
        }

        /// <summary>
        /// Leave the channel and join it again, keeping this object and its
        /// event handlers: after the server went away and a new one started.
        /// Statistics restart from zero. No other thread may use this client
        /// meanwhile, and an event handler cannot call it.
        /// </summary>
        public void Reconnect()
        {
            XshmException.Check(Native.shm_client_reconnect(handle));
        }

        internal override int NativeSend(byte* data, uint size)
        {
            return Native.shm_client_send(handle, data, size);
        }

        internal override int NativeReceive(byte* data, ref uint size)
        {
            return Native.shm_client_receive(handle, data, ref size);
        }

        internal override int NativeRegister(Native.EventCallback cb, IntPtr userData)
        {
            return Native.shm_client_register_callback(handle, cb, userData);
        }

        internal override int NativeGetStats(out Stats stats)
        {
            return Native.shm_client_get_stats(handle, out stats);
        }

        internal override IntPtr NativeTxRing()
        {
            return Native.shm_client_tx_ring(handle);
        }
    }
}
