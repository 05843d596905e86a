// SignalMask.cs - the listener thread takes the runtime's signal mask.
//
// The library starts its listener thread with every signal blocked (its
// threads take no asynchronous signals). Once that thread has called into
// .NET it is a thread of the runtime, and Mono stops such threads for a
// garbage collection with signals: blocked, they would never stop, and the
// collection would wait forever. So the first event on a listener thread
// gives it the signal mask of the thread that registered the callback, as
// a thread the runtime started would have. (Windows has no signals.)
using System;
using System.Runtime.InteropServices;

namespace Xshm
{
    internal static unsafe class SignalMask
    {
        private const int SetSize = 128; // >= sizeof(sigset_t) of glibc, musl and macOS

        // SIG_SETMASK: 2 on Linux, 3 on macOS; 0: not done on this system.
        private static readonly int sigSetMask =
            RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? 2 :
            RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? 3 : 0;

        [DllImport("libc", EntryPoint = "pthread_sigmask")]
        private static extern int pthread_sigmask(int how, byte* set, byte* oldset);

        [ThreadStatic]
        private static bool applied;

        private static byte[] captured;

        // On the thread that registers the callback: remember its mask.
        internal static void Capture()
        {
            if (sigSetMask == 0 || captured != null)
                return;
            var set = new byte[SetSize];
            try {
                fixed (byte* p = set)
                    if (pthread_sigmask(sigSetMask, null, p) == 0) // set NULL: only query
                        captured = set;
            } catch (Exception) {
                // no libc to call (DllNotFoundException, EntryPointNotFoundException): leave it
            }
        }

        // On a listener thread, at its first event.
        internal static void Apply()
        {
            if (applied)
                return;
            applied = true;
            byte[] set = captured;
            if (set == null)
                return;
            try {
                fixed (byte* p = set)
                    pthread_sigmask(sigSetMask, p, null);
            } catch (Exception) {
            }
        }
    }
}
