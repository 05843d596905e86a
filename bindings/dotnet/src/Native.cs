// Native.cs - the P/Invoke declarations of include/shm_ipc.h.
using System;
using System.Runtime.InteropServices;

namespace Xshm
{
    internal static unsafe class Native
    {
        // xshm.dll on Windows; Mono maps it to libxshm.so.1 on Linux through
        // Xshm.dll.config, .NET probes libxshm.so.
        internal const string Lib = "xshm";

        // shm_ring_config_t: uint32 size, uint32 max_readers, bool blocking
        // (one byte, then padding), uint32 timeout_ms: 16 bytes.
        [StructLayout(LayoutKind.Sequential)]
        internal struct RingConfig
        {
            public uint Size;
            public uint MaxReaders;
            public byte Blocking;
            public uint TimeoutMs;
        }

        // shm_event_callback_t. The functions are cdecl on every platform
        // (SHM_API names no other convention): this matters on 32-bit Windows.
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void EventCallback(IntPtr userData, int type, IntPtr data, uint size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr shm_strerror(int err);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_last_error();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint shm_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ServerHandle shm_server_create_with_security(
            [MarshalAs(UnmanagedType.LPStr)] string name, ref RingConfig config,
            [MarshalAs(UnmanagedType.LPStr)] string sddl);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void shm_server_destroy(IntPtr server);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_server_send(ServerHandle server, byte* data, uint size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_server_receive(ServerHandle server, byte* data, ref uint size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_server_register_callback(ServerHandle server, EventCallback cb,
                                                                IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_server_get_stats(ServerHandle server, out Stats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr shm_server_tx_ring(ServerHandle server);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ClientHandle shm_client_connect([MarshalAs(UnmanagedType.LPStr)] string name);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void shm_client_disconnect(IntPtr client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_client_reconnect(ClientHandle client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_client_send(ClientHandle client, byte* data, uint size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_client_receive(ClientHandle client, byte* data, ref uint size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_client_register_callback(ClientHandle client, EventCallback cb,
                                                                IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int shm_client_get_stats(ClientHandle client, out Stats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr shm_client_tx_ring(ClientHandle client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint shm_ring_available(IntPtr ring);
    }
}
