// Errors.cs - shm_error_t as ErrorCode, and XshmException.
using System;
using System.Runtime.InteropServices;

namespace Xshm
{
    /// <summary>The library's error codes (shm_error_t), with the same values.</summary>
    public enum ErrorCode
    {
        Success = 0,
        InvalidParam = -1,
        Memory = -2,
        Timeout = -3,
        Empty = -4,
        Exists = -5,
        NotFound = -6,
        Access = -7,
        NotConnected = -8,
        BufferTooSmall = -9,
        InvalidSegment = -10,
        Closed = -11,
        Busy = -12,
        System = -13,
        Overwritten = -14,
    }

    /// <summary>
    /// A call of the library failed. <see cref="Exception.Message"/> is the
    /// library's text for the code (shm_strerror).
    /// </summary>
    public class XshmException : Exception
    {
        /// <summary>The error code.</summary>
        public ErrorCode Error { get; }

        /// <summary>
        /// For <see cref="ErrorCode.BufferTooSmall"/>: the length of the message
        /// that did not fit (it stays for the next receive); 0 otherwise.
        /// </summary>
        public int RequiredLength { get; }

        public XshmException(ErrorCode error)
            : this(error, 0)
        {
        }

        public XshmException(ErrorCode error, int requiredLength)
            : base(Library.ErrorText(error))
        {
            Error = error;
            RequiredLength = requiredLength;
            HResult = unchecked((int)0xA0580000) | ((int)error & 0xFFFF);
        }

        internal static void Check(int err)
        {
            if (err != 0)
                throw new XshmException((ErrorCode)err);
        }
    }

    /// <summary>Version, limits and error texts of the native library.</summary>
    public static class Library
    {
        /// <summary>The version these bindings were written for (SHM_VERSION_NUMBER).</summary>
        public const int HeaderVersion = 10000;
        /// <summary>Largest message, in bytes (SHM_MAX_MESSAGE_SIZE).</summary>
        public const int MaxMessageSize = 65536;
        /// <summary>Smallest ring size, in bytes (SHM_MIN_RING_SIZE).</summary>
        public const int MinRingSize = 4096;
        /// <summary>Largest ring size, in bytes (SHM_MAX_RING_SIZE).</summary>
        public const int MaxRingSize = 1 << 30;
        /// <summary>Ring bytes a message takes besides its payload (SHM_MESSAGE_OVERHEAD).</summary>
        public const int MessageOverhead = 24;
        /// <summary>Largest number of clients (SHM_MAX_READERS).</summary>
        public const int MaxClients = 64;
        /// <summary>Longest channel name (SHM_MAX_NAME_LENGTH), without a prefix.</summary>
        public const int MaxNameLength = 64;

        /// <summary>The loaded library's version (shm_version()): MAJOR * 10000 + MINOR * 100 + PATCH.</summary>
        public static int Version
        {
            get { return (int)Native.shm_version(); }
        }

        /// <summary>The library's text for an error code (shm_strerror()).</summary>
        public static string ErrorText(ErrorCode error)
        {
            // A pointer to a static string: the marshaller must not free it.
            return Marshal.PtrToStringAnsi(Native.shm_strerror((int)error));
        }
    }
}
