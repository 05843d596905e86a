// Types.cs - statistics and the arguments of events.
using System;
using System.Runtime.InteropServices;

namespace Xshm
{
    /// <summary>Counters of an endpoint (shm_stats_t).</summary>
// The private fields are filled in by the library.
#pragma warning disable 0169, 0649
    [StructLayout(LayoutKind.Sequential)]
    public struct Stats
    {
        private ulong messagesSent;
        private ulong bytesSent;
        private ulong messagesReceived;
        private ulong bytesReceived;
        private ulong messagesLost;
        private uint connected;
        private uint reserved;

        /// <summary>Messages written (a client: since it connected).</summary>
        public ulong MessagesSent { get { return messagesSent; } }
        /// <summary>Their payload bytes.</summary>
        public ulong BytesSent { get { return bytesSent; } }
        /// <summary>Messages delivered (a server: from all clients).</summary>
        public ulong MessagesReceived { get { return messagesReceived; } }
        /// <summary>Their payload bytes.</summary>
        public ulong BytesReceived { get { return bytesReceived; } }
        /// <summary>Messages overwritten before this endpoint read them.</summary>
        public ulong MessagesLost { get { return messagesLost; } }
        /// <summary>A server: clients connected; a client: 1 or 0.</summary>
        public int Connected { get { return (int)connected; } }

        public override string ToString()
        {
            return string.Format("sent {0} ({1} B), received {2} ({3} B), lost {4}, connected {5}",
                                 messagesSent, bytesSent, messagesReceived, bytesReceived,
                                 messagesLost, connected);
        }
    }

    /// <summary>The peer of a Connected or Disconnected event (shm_peer_info_t).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PeerInfo
    {
        private uint pid;
        private uint pointerBits;
        private uint slot;
        private uint reserved;
        private ulong clientId;

        /// <summary>The peer's process id.</summary>
        public int ProcessId { get { return (int)pid; } }
        /// <summary>32 or 64: the peer's pointer width.</summary>
        public int PointerBits { get { return (int)pointerBits; } }
        /// <summary>The client's slot, 0..maxClients-1 (0 for the server).</summary>
        public int Slot { get { return (int)slot; } }
        /// <summary>Server: the client's id (shm_client_id_t); client: 0.</summary>
        public ulong ClientId { get { return clientId; } }
    }

#pragma warning restore 0169, 0649

    /// <summary>Arguments of <see cref="Endpoint.Connected"/> and <see cref="Endpoint.Disconnected"/>.</summary>
    public sealed class PeerEventArgs : EventArgs
    {
        public PeerEventArgs(PeerInfo peer) { Peer = peer; }
        /// <summary>The client (for a server) or the server (for a client).</summary>
        public PeerInfo Peer { get; }
    }

    /// <summary>Arguments of <see cref="Endpoint.Error"/>.</summary>
    public sealed class XshmErrorEventArgs : EventArgs
    {
        public XshmErrorEventArgs(ErrorCode error) { Error = error; }
        /// <summary>What went wrong.</summary>
        public ErrorCode Error { get; }
        /// <summary>The library's text for it.</summary>
        public string Message { get { return Library.ErrorText(Error); } }
    }

    /// <summary>Arguments of <see cref="Endpoint.HandlerFailed"/>: an event handler threw.</summary>
    public sealed class HandlerFailedEventArgs : EventArgs
    {
        public HandlerFailedEventArgs(string eventName, Exception exception)
        {
            EventName = eventName;
            Exception = exception;
        }
        /// <summary>The event whose handler threw: "Connected", "Disconnected", "DataAvailable" or "Error".</summary>
        public string EventName { get; }
        /// <summary>What it threw.</summary>
        public Exception Exception { get; }
    }
}

namespace AOT
{
    // Unity's IL2CPP (and ahead-of-time Mono) accepts a static method as a
    // native callback when it carries an attribute of this name.
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type delegateType) { DelegateType = delegateType; }
        public Type DelegateType { get; }
    }
}
