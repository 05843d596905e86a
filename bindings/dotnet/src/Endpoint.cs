// Endpoint.cs - what Server and Client share: send, receive, statistics and
// events.
using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Xshm
{
    /// <summary>
    /// A server or a client of a channel. Every member may be called from any
    /// thread. <see cref="Dispose"/> closes the endpoint once the calls that
    /// other threads are making on it have returned (a blocked receive returns
    /// at its timeout); later calls throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public abstract unsafe class Endpoint : IDisposable
    {
        private readonly EndpointHandle handle;
        private readonly object eventLock = new object();
        private bool listening;
        private EventHandler<PeerEventArgs> connected;
        private EventHandler<PeerEventArgs> disconnected;
        private EventHandler dataAvailable;
        private EventHandler<XshmErrorEventArgs> error;
        private EventHandler<HandlerFailedEventArgs> handlerFailed;

        [ThreadStatic]
        private static byte[] scratch;

        // The one callback the library is given, for every endpoint: a static
        // delegate, referenced by this field for as long as the program runs,
        // so it stays alive while any endpoint has it registered (an endpoint
        // is found through the user data). A static method is also what
        // Unity's IL2CPP accepts as a native callback.
        private static readonly Native.EventCallback callback = OnNativeEvent;

        internal Endpoint(string name, EndpointHandle handle)
        {
            Name = name;
            this.handle = handle;
        }

        /// <summary>The channel's name.</summary>
        public string Name { get; }

        /// <summary>True once <see cref="Dispose"/> was called.</summary>
        public bool IsDisposed
        {
            get { return handle.IsClosed; }
        }

        internal abstract int NativeSend(byte* data, uint size);
        internal abstract int NativeReceive(byte* data, ref uint size);
        internal abstract int NativeRegister(Native.EventCallback cb, IntPtr userData);
        internal abstract int NativeGetStats(out Stats stats);
        internal abstract IntPtr NativeTxRing();

        // ---- send -----------------------------------------------------------

        /// <summary>
        /// Send one message of 1..<see cref="Library.MaxMessageSize"/> bytes. Never
        /// blocks. A server sends to every connected client
        /// (<see cref="ErrorCode.NotConnected"/> when there is none).
        /// </summary>
        public void Send(byte[] data)
        {
            if (data == null)
                throw new ArgumentNullException("data");
            Send(data, 0, data.Length);
        }

        /// <summary>Send <paramref name="count"/> bytes of <paramref name="data"/> from <paramref name="offset"/>.</summary>
        public void Send(byte[] data, int offset, int count)
        {
            CheckRange(data, offset, count, "data");
            fixed (byte* p = data)
                XshmException.Check(NativeSend(p + offset, (uint)count));
        }

#if XSHM_SPAN
        /// <summary>Send the bytes of <paramref name="data"/> as one message.</summary>
        public void Send(ReadOnlySpan<byte> data)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(data))
                XshmException.Check(NativeSend(p, (uint)data.Length));
        }
#endif

        // ---- receive ----------------------------------------------------------

        /// <summary>
        /// Receive one message, waiting as the server configured the channel
        /// (blocking, timeoutMs). Throws <see cref="XshmException"/> with
        /// <see cref="ErrorCode.Empty"/> or <see cref="ErrorCode.Timeout"/> when
        /// there is none: see <see cref="TryReceive(out byte[])"/>.
        /// </summary>
        public byte[] Receive()
        {
            byte[] message;
            TryReceive(out message, true);
            return message;
        }

        /// <summary>As <see cref="Receive()"/>, but false instead of Empty or Timeout.</summary>
        public bool TryReceive(out byte[] message)
        {
            return TryReceive(out message, false);
        }

        /// <summary>
        /// Receive one message into <paramref name="buffer"/>; returns its length.
        /// A message longer than the buffer stays for the next receive: an
        /// <see cref="XshmException"/> with <see cref="ErrorCode.BufferTooSmall"/>
        /// tells its length in <see cref="XshmException.RequiredLength"/>.
        /// </summary>
        public int Receive(byte[] buffer)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            return Receive(buffer, 0, buffer.Length);
        }

        /// <summary>As <see cref="Receive(byte[])"/>, into <paramref name="count"/> bytes from <paramref name="offset"/>.</summary>
        public int Receive(byte[] buffer, int offset, int count)
        {
            CheckRange(buffer, offset, count, "buffer");
            fixed (byte* p = buffer)
                return ReceiveCore(p + offset, count, true);
        }

        /// <summary>As <see cref="Receive(byte[])"/>, but false instead of Empty or Timeout.</summary>
        public bool TryReceive(byte[] buffer, out int length)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            fixed (byte* p = buffer)
                length = ReceiveCore(p, buffer.Length, false);
            return Got(ref length);
        }

#if XSHM_SPAN
        /// <summary>As <see cref="Receive(byte[])"/>, into a span.</summary>
        public int Receive(Span<byte> buffer)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(buffer))
                return ReceiveCore(p, buffer.Length, true);
        }

        /// <summary>As <see cref="Receive(Span{byte})"/>, but false instead of Empty or Timeout.</summary>
        public bool TryReceive(Span<byte> buffer, out int length)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(buffer))
                length = ReceiveCore(p, buffer.Length, false);
            return Got(ref length);
        }
#endif

        private bool TryReceive(out byte[] message, bool throwIfNone)
        {
            byte[] buf = scratch;
            if (buf == null)
                scratch = buf = new byte[Library.MaxMessageSize];
            int n;
            fixed (byte* p = buf)
                n = ReceiveCore(p, buf.Length, throwIfNone);
            if (n < 0) {
                message = null;
                return false;
            }
            message = new byte[n];
            Buffer.BlockCopy(buf, 0, message, 0, n);
            return true;
        }

        // The message's length; -1 for Empty or Timeout when !throwIfNone.
        private int ReceiveCore(byte* p, int capacity, bool throwIfNone)
        {
            uint size = (uint)capacity;
            int err = NativeReceive(p, ref size);
            if (err == (int)ErrorCode.Success)
                return (int)size;
            if (!throwIfNone && (err == (int)ErrorCode.Empty || err == (int)ErrorCode.Timeout))
                return -1;
            if (err == (int)ErrorCode.BufferTooSmall)
                throw new XshmException(ErrorCode.BufferTooSmall, (int)size);
            throw new XshmException((ErrorCode)err);
        }

        private static bool Got(ref int length)
        {
            if (length >= 0)
                return true;
            length = 0;
            return false;
        }

        private static void CheckRange(byte[] array, int offset, int count, string name)
        {
            if (array == null)
                throw new ArgumentNullException(name);
            if (offset < 0 || offset > array.Length)
                throw new ArgumentOutOfRangeException("offset");
            if (count < 0 || count > array.Length - offset)
                throw new ArgumentOutOfRangeException("count");
        }

        // ---- statistics and monitoring -------------------------------------------

        /// <summary>This endpoint's counters.</summary>
        public Stats GetStats()
        {
            Stats stats;
            XshmException.Check(NativeGetStats(out stats));
            return stats;
        }

        /// <summary>
        /// Bytes that can be sent before the slowest reader of this endpoint's
        /// sending ring starts losing messages (the ring's size when no reader
        /// is connected).
        /// </summary>
        public long TxRingAvailable
        {
            get
            {
                bool added = false;
                try {
                    handle.DangerousAddRef(ref added);
                    return Native.shm_ring_available(NativeTxRing());
                } finally {
                    if (added)
                        handle.DangerousRelease();
                }
            }
        }

        // ---- events -------------------------------------------------------------------
        //
        // The first handler added to any of these starts the library's listener
        // thread (shm_*_register_callback): a server then raises Connected at
        // once for every client already there, a client for its server. The
        // handlers run on that thread; they may call Send, Receive and Dispose
        // on this endpoint. An exception a handler throws is given to
        // HandlerFailed (or written to the standard error stream when it has no
        // handler); the other handlers still run.

        /// <summary>A peer arrived: a client (for a server) or the server (for a client).</summary>
        public event EventHandler<PeerEventArgs> Connected
        {
            add { Subscribe(ref connected, value); }
            remove { lock (eventLock) connected -= value; }
        }

        /// <summary>A peer went away, gracefully or not.</summary>
        public event EventHandler<PeerEventArgs> Disconnected
        {
            add { Subscribe(ref disconnected, value); }
            remove { lock (eventLock) disconnected -= value; }
        }

        /// <summary>New messages arrived since the last such event.</summary>
        public event EventHandler DataAvailable
        {
            add
            {
                lock (eventLock)
                    dataAvailable += value;
                StartListening();
            }
            remove { lock (eventLock) dataAvailable -= value; }
        }

        /// <summary>The library met an error on its listener thread (for example a corrupt record).</summary>
        public event EventHandler<XshmErrorEventArgs> Error
        {
            add { Subscribe(ref error, value); }
            remove { lock (eventLock) error -= value; }
        }

        /// <summary>A handler of one of the other events threw.</summary>
        public event EventHandler<HandlerFailedEventArgs> HandlerFailed
        {
            add { lock (eventLock) handlerFailed += value; }
            remove { lock (eventLock) handlerFailed -= value; }
        }

        private void Subscribe<T>(ref EventHandler<T> field, EventHandler<T> value)
        {
            lock (eventLock)
                field += value;
            StartListening();
        }

        private void StartListening()
        {
            lock (eventLock) {
                if (listening)
                    return;
                bool added = false;
                try {
                    handle.DangerousAddRef(ref added);
                    SignalMask.Capture();
                    if (handle.CallbackTarget == IntPtr.Zero)
                        handle.CallbackTarget = GCHandle.ToIntPtr(GCHandle.Alloc(this, GCHandleType.Weak));
                    XshmException.Check(NativeRegister(callback, handle.CallbackTarget));
                    listening = true;
                } finally {
                    if (added)
                        handle.DangerousRelease();
                }
            }
        }

        [AOT.MonoPInvokeCallback(typeof(Native.EventCallback))]
        private static void OnNativeEvent(IntPtr userData, int type, IntPtr data, uint size)
        {
            // No exception may reach the library's thread.
            try {
                SignalMask.Apply();
                Endpoint endpoint = GCHandle.FromIntPtr(userData).Target as Endpoint;
                if (endpoint != null)
                    endpoint.Raise(type, data, size);
            } catch (Exception e) {
                try {
                    Console.Error.WriteLine("xshm: event dispatch failed: " + e);
                } catch {
                }
            }
        }

        private void Raise(int type, IntPtr data, uint size)
        {
            switch (type) {
            case 0: // SHM_EVENT_DATA_AVAILABLE
                EventHandler h = Volatile.Read(ref dataAvailable);
                if (h != null) {
                    foreach (EventHandler d in h.GetInvocationList()) {
                        try {
                            d(this, EventArgs.Empty);
                        } catch (Exception e) {
                            ReportFailure("DataAvailable", e);
                        }
                    }
                }
                break;
            case 2: // SHM_EVENT_DISCONNECT
                Invoke("Disconnected", Volatile.Read(ref disconnected), new PeerEventArgs(Peer(data, size)));
                break;
            case 3: // SHM_EVENT_ERROR
                ErrorCode code = data != IntPtr.Zero && size == sizeof(int) ? (ErrorCode)(*(int*)data)
                                                                             : ErrorCode.System;
                Invoke("Error", Volatile.Read(ref error), new XshmErrorEventArgs(code));
                break;
            case 4: // SHM_EVENT_CONNECT
                Invoke("Connected", Volatile.Read(ref connected), new PeerEventArgs(Peer(data, size)));
                break;
            default: // SHM_EVENT_SPACE_AVAILABLE is never raised
                break;
            }
        }

        private static PeerInfo Peer(IntPtr data, uint size)
        {
            return data != IntPtr.Zero && size == sizeof(PeerInfo) ? *(PeerInfo*)data : default(PeerInfo);
        }

        private void Invoke<T>(string name, EventHandler<T> handlers, T args)
        {
            if (handlers == null)
                return;
            foreach (EventHandler<T> d in handlers.GetInvocationList()) {
                try {
                    d(this, args);
                } catch (Exception e) {
                    ReportFailure(name, e);
                }
            }
        }

        private void ReportFailure(string name, Exception e)
        {
            EventHandler<HandlerFailedEventArgs> h = Volatile.Read(ref handlerFailed);
            if (h != null) {
                try {
                    h(this, new HandlerFailedEventArgs(name, e));
                    return;
                } catch (Exception e2) {
                    e = new AggregateException(e, e2);
                }
            }
            Console.Error.WriteLine("xshm: a handler of " + GetType().Name + "." + name + " threw: " + e);
        }

        // ---- lifetime ---------------------------------------------------------------------

        /// <summary>
        /// Close the endpoint (a server closes the channel: clients see
        /// Disconnected; a client leaves it). Idempotent; may be called from an
        /// event handler.
        /// </summary>
        public void Dispose()
        {
            handle.Dispose();
            lock (eventLock) {
                listening = false;
                connected = null;
                disconnected = null;
                dataAvailable = null;
                error = null;
            }
        }
    }
}
