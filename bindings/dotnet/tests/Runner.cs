// Runner.cs - a small test runner: runs every [Test] method of Tests (and
// the README programs given on the command line), prints PASS, FAIL or SKIP
// per test and last "N passed, N failed" (", N skipped" when some were).
// Exit status 1 when a test failed.
//
//   mono XshmTests.exe [--example-server PATH] [--example-client PATH]
//                      [--header shm_ipc.h] [--mono PATH] [--snippet PROGRAM.exe=PEER]... [NAME-FILTER]
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading;

namespace Xshm.Tests
{
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class TestAttribute : Attribute
    {
    }

    internal sealed class SkipException : Exception
    {
        public SkipException(string reason) : base(reason) { }
    }

    internal static class Assert
    {
        public static void True(bool condition, string what)
        {
            if (!condition)
                throw new Exception("expected: " + what);
        }

        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new Exception(string.Format("{0}: expected {1}, got {2}", what, expected, actual));
        }

        public static void Bytes(byte[] expected, byte[] actual, string what)
        {
            if (actual == null || !expected.SequenceEqual(actual))
                throw new Exception(string.Format("{0}: {1} bytes differ from the {2} expected", what,
                                                  actual == null ? -1 : actual.Length, expected.Length));
        }

        public static T Throws<T>(Action action, string what) where T : Exception
        {
            try {
                action();
            } catch (T e) {
                return e;
            } catch (Exception e) {
                throw new Exception(what + ": expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message);
            }
            throw new Exception(what + ": expected " + typeof(T).Name + ", nothing was thrown");
        }

        public static XshmException Fails(ErrorCode code, Action action, string what)
        {
            XshmException e = Throws<XshmException>(action, what);
            Equal(code, e.Error, what + ": error code");
            Equal(Library.ErrorText(code), e.Message, what + ": message");
            return e;
        }

        public static void Signalled(WaitHandle h, string what)
        {
            if (!h.WaitOne(TimeSpan.FromSeconds(20)))
                throw new Exception("not within 20 s: " + what);
        }
    }

    // A program run beside the tests, its output lines collected.
    internal sealed class Child : IDisposable
    {
        private readonly Process process;
        private readonly StringBuilder output = new StringBuilder();
        private readonly object gate = new object();
        private int pending = 2;

        public Child(string file, params string[] args)
        {
            var info = new ProcessStartInfo(file, string.Join(" ", args.Select(Quote))) {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            process = new Process { StartInfo = info };
            process.OutputDataReceived += (s, e) => Add(e.Data, "");
            process.ErrorDataReceived += (s, e) => Add(e.Data, "stderr: ");
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            Name = System.IO.Path.GetFileName(file) + " " + string.Join(" ", args);
        }

        public string Name { get; }

        private static string Quote(string s)
        {
            return s.IndexOfAny(new[] { ' ', '"', '\\' }) < 0 ? s : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        }

        private void Add(string line, string prefix)
        {
            lock (gate) {
                if (line == null)
                    pending--;
                else
                    output.Append(prefix).Append(line).Append('\n');
                Monitor.PulseAll(gate);
            }
        }

        public string Output
        {
            get { lock (gate) return output.ToString(); }
        }

        // Wait (up to `seconds`) for an output line containing `text`.
        public void WaitFor(string text, int seconds)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(seconds);
            lock (gate) {
                while (output.ToString().IndexOf(text, StringComparison.Ordinal) < 0) {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    if (pending == 0 || left <= TimeSpan.Zero)
                        throw new Exception(string.Format("{0}: no \"{1}\" in its output within {2} s:\n{3}",
                                                          Name, text, seconds, output));
                    Monitor.Wait(gate, left);
                }
            }
        }

        // Wait (up to `seconds`) for the exit; the exit status.
        public int Exit(int seconds)
        {
            if (!process.WaitForExit(seconds * 1000))
                throw new Exception(Name + ": still running after " + seconds + " s:\n" + Output);
            process.WaitForExit(); // the output, to its end
            return process.ExitCode;
        }

        public void ExpectSuccess(int seconds)
        {
            int rc = Exit(seconds);
            if (rc != 0)
                throw new Exception(Name + ": exit status " + rc + ":\n" + Output);
        }

        public void Dispose()
        {
            try {
                if (!process.HasExited)
                    process.Kill();
            } catch (InvalidOperationException) {
            }
            process.Dispose();
        }
    }

    internal static class Runner
    {
        public static string ExampleServer, ExampleClient, Mono, Header;

        private static int Main(string[] args)
        {
            var snippets = new List<string[]>();
            string filter = null;
            for (int i = 0; i < args.Length; i++) {
                string a = args[i];
                if (a == "--example-server" && i + 1 < args.Length)
                    ExampleServer = args[++i];
                else if (a == "--example-client" && i + 1 < args.Length)
                    ExampleClient = args[++i];
                else if (a == "--header" && i + 1 < args.Length)
                    Header = args[++i];
                else if (a == "--mono" && i + 1 < args.Length)
                    Mono = args[++i];
                else if (a == "--snippet" && i + 1 < args.Length)
                    snippets.Add(args[++i].Split(new[] { '=' }, 2));
                else if (a.StartsWith("--")) {
                    Console.Error.WriteLine("unknown option " + a);
                    return 2;
                } else
                    filter = a;
            }

            var tests = new List<KeyValuePair<string, Action>>();
            foreach (MethodInfo m in typeof(Tests).GetMethods(BindingFlags.Public | BindingFlags.Static)
                                                   .Where(m => m.GetCustomAttributes(typeof(TestAttribute), false).Length > 0)
                                                   .OrderBy(m => m.MetadataToken)) {
                MethodInfo method = m;
                tests.Add(new KeyValuePair<string, Action>(m.Name, () => method.Invoke(null, null)));
            }
            foreach (string[] s in snippets) {
                string program = s[0], peer = s.Length > 1 ? s[1] : "none";
                tests.Add(new KeyValuePair<string, Action>(
                    "readme_" + System.IO.Path.GetFileNameWithoutExtension(program),
                    () => Tests.RunReadmeProgram(program, peer)));
            }

            int passed = 0, failed = 0, skipped = 0;
            Console.WriteLine("# xshm C# bindings: library version {0}, {1}-bit, {2}", Library.Version,
                              IntPtr.Size * 8, Environment.Version);
            foreach (var t in tests) {
                if (filter != null && t.Key.IndexOf(filter, StringComparison.OrdinalIgnoreCase) < 0)
                    continue;
                var watch = Stopwatch.StartNew();
                try {
                    t.Value();
                    Console.WriteLine("PASS {0} ({1} ms)", t.Key, watch.ElapsedMilliseconds);
                    passed++;
                } catch (Exception e) {
                    while (e is TargetInvocationException && e.InnerException != null)
                        e = e.InnerException;
                    if (e is SkipException) {
                        Console.WriteLine("SKIP {0}: {1}", t.Key, e.Message);
                        skipped++;
                    } else {
                        Console.WriteLine("FAIL {0}: {1}", t.Key, e);
                        failed++;
                    }
                }
            }
            Console.WriteLine("{0} passed, {1} failed{2}", passed, failed,
                              skipped > 0 ? ", " + skipped + " skipped" : "");
            return failed > 0 || passed == 0 ? 1 : 0;
        }
    }
}
