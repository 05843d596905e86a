// Handles.cs - SafeHandles owning a shm_server_t* or a shm_client_t*.
using System;
using System.Runtime.InteropServices;

namespace Xshm
{
    internal abstract class EndpointHandle : SafeHandle
    {
        protected EndpointHandle()
            : base(IntPtr.Zero, true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        // The user data of the registered callback: a weak GCHandle to the
        // Endpoint. The library uses it until the endpoint is destroyed, so
        // it is freed only then.
        internal IntPtr CallbackTarget;

        protected abstract void Destroy(IntPtr endpoint);

        // Runs once the handle is disposed (or finalized) and no call is using
        // it any more. Destroying stops and joins the listener thread (or, on
        // that thread, lets it finish after the callback returns): after it no
        // callback starts for this endpoint.
        protected override bool ReleaseHandle()
        {
            Destroy(handle);
            IntPtr target = CallbackTarget;
            CallbackTarget = IntPtr.Zero;
            if (target != IntPtr.Zero)
                GCHandle.FromIntPtr(target).Free();
            return true;
        }
    }

    internal sealed class ServerHandle : EndpointHandle
    {
        private ServerHandle()
        {
        }

        protected override void Destroy(IntPtr endpoint)
        {
            Native.shm_server_destroy(endpoint);
        }
    }

    internal sealed class ClientHandle : EndpointHandle
    {
        private ClientHandle()
        {
        }

        protected override void Destroy(IntPtr endpoint)
        {
            Native.shm_client_disconnect(endpoint);
        }
    }
}
