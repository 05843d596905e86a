#!/usr/bin/env python3
"""bench_roundtrip.py - a 64 B round trip from Python to a C echo peer and
back, beside the same round trip pinged from C, in one run.

    python3 bindings/python/bench_roundtrip.py [--peer PATH] [--size BYTES]
        [--warmup N] [--count N] [--rounds N] [--quick] [--wait-idle SECONDS]
        [--busy]

The echo peer is xshm_echo_peer (bindings/python/bench/echo_peer.c, built
with the linux-x64 preset: build/linux-x64/xshm_echo_peer; --peer or
XSHM_ECHO_PEER name another), a C server with the default configuration
(blocking receive) that sends every message back. Against that one server,
in turns, round by round:

  C        xshm_echo_peer ping: a C client, send + blocking receive
  Python   xshm.Client: send(bytes) + receive() -> bytes
  Python   xshm.Client: send(bytes) + receive_into(bytearray)

With --busy the server's receive is non-blocking (blocking = False) and
every side polls: the C client while receive answers SHM_ERROR_EMPTY, the
Python one while it raises xshm.EmptyError.

Each message carries its sequence number and each echo must bring it back.
Every round trip is timed on its own (monotonic clock) after a warm-up; the
table gives the median and p99 of all rounds' samples, each round's median,
and the ratio of each median to the C one. Nothing is asserted about speed:
the exit status is non-zero only when a round trip fails. Other work on the
machine moves the figures (a receive that finds nothing during its short
spin sleeps, and its wake-up then waits for a CPU): compare rows of one run,
and use --wait-idle S to wait (up to S seconds) for 5 quiet seconds (less
than 10% of one CPU busy) before starting, as scripts/bench.sh does.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
DEFAULT_BUILD = os.path.join(SOURCE_DIR, "build", "linux-x64")

sys.path.insert(0, HERE)  # this tree's package
if not os.environ.get("XSHM_LIBRARY") and \
        os.path.exists(os.path.join(DEFAULT_BUILD, "libxshm.so.1")):
    os.environ["XSHM_LIBRARY"] = os.path.join(DEFAULT_BUILD, "libxshm.so.1")

import xshm  # noqa: E402


def python_round_trips(name, size, warmup, count, into, busy):
    """Round trips from a Python client; returns the timed samples in ns."""
    pad = b"\x5a" * (size - 8)
    buf = bytearray(xshm.MAX_MESSAGE_SIZE)
    samples = []
    now = time.perf_counter_ns
    with xshm.Client(name) as client:
        send, receive, receive_into = client.send, client.receive, client.receive_into
        if busy:
            Empty = xshm.EmptyError

            def receive():
                while True:
                    try:
                        return client.receive()
                    except Empty:
                        pass

            def receive_into(b):
                while True:
                    try:
                        return client.receive_into(b)
                    except Empty:
                        pass
        for seq in range(1, warmup + count + 1):
            out = seq.to_bytes(8, "little") + pad
            if into:
                t0 = now()
                send(out)
                n = receive_into(buf)
                t1 = now()
                ok = n == size and buf[:size] == out
            else:
                t0 = now()
                send(out)
                reply = receive()
                t1 = now()
                ok = reply == out
            if not ok:
                raise RuntimeError("round trip %d: the echo is not its own message" % seq)
            if seq > warmup:
                samples.append(t1 - t0)
    return samples


def c_round_trips(peer, name, size, warmup, count):
    """Round trips from the C pinger; returns (median, p99) in ns."""
    r = subprocess.run([peer, "ping", name, str(size), str(warmup), str(count)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("xshm_echo_peer ping failed (%d): %s" % (r.returncode, r.stderr.strip()))
    words = r.stdout.split()
    fields = dict(zip(words[::2], words[1::2]))
    return int(fields["median_ns"]), int(fields["p99_ns"])


def busy_ticks():
    """(busy, total) clock ticks of all CPUs since boot (Linux /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7], sum(v)


def wait_idle(seconds):
    deadline = time.monotonic() + seconds
    ncpu = os.cpu_count() or 1
    while time.monotonic() < deadline:
        b0, t0 = busy_ticks()
        time.sleep(5)
        b1, t1 = busy_ticks()
        if (b1 - b0) * 100 * ncpu < 10 * (t1 - t0 + 1):
            return True
    print("bench_roundtrip: the machine did not become idle within %d s; running anyway" % seconds)
    return False


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer", default=os.environ.get("XSHM_ECHO_PEER") or
                    os.path.join(DEFAULT_BUILD, "xshm_echo_peer"))
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=5000)
    ap.add_argument("--count", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a tenth of the round trips")
    ap.add_argument("--busy", action="store_true",
                    help="non-blocking receive, polled by every side")
    ap.add_argument("--wait-idle", type=int, default=0, metavar="SECONDS",
                    help="first wait up to SECONDS for 5 quiet seconds (Linux)")
    args = ap.parse_args()
    if args.quick:
        args.warmup, args.count = max(1, args.warmup // 10), max(1, args.count // 10)
    if not os.path.exists(args.peer):
        sys.exit("bench_roundtrip: no echo peer at %s (build the linux-x64 preset, or --peer PATH)"
                 % args.peer)
    if not 8 <= args.size <= xshm.MAX_MESSAGE_SIZE:
        sys.exit("bench_roundtrip: --size 8..%d" % xshm.MAX_MESSAGE_SIZE)

    if args.wait_idle > 0 and os.path.exists("/proc/stat"):
        wait_idle(args.wait_idle)

    rows = [("C", "C client: send + receive (xshm_echo_peer ping)"),
            ("py", "Python: send(bytes) + receive()"),
            ("py_into", "Python: send(bytes) + receive_into(bytearray)")]
    name = "bench-roundtrip-%d" % os.getpid()
    server = subprocess.Popen([args.peer, "serve", name] + (["busy"] if args.busy else []),
                              stdout=subprocess.PIPE, text=True)
    if server.stdout.readline().strip() != "ready":
        server.kill()
        sys.exit("bench_roundtrip: the echo peer did not start")
    print("xshm %d B round trip through a C echo server (default configuration, %s); "
          "%d timed round trips after %d warm-up, %d rounds" %
          (args.size, "non-blocking receive, busy-polled" if args.busy else "blocking receive",
           args.count, args.warmup, args.rounds))
    print("library %s %s; Python %s; load average %.2f" % (
        xshm.library_path(), ".".join(map(str, xshm.library_version())),
        sys.version.split()[0], os.getloadavg()[0]))

    medians = {key: [] for key, _ in rows}
    p99s = {key: [] for key, _ in rows}
    samples = {key: [] for key, _ in rows}
    try:
        for r in range(args.rounds):
            order = rows if r % 2 == 0 else rows[::-1]  # C first, then last: drift evens out
            for key, _ in order:
                if key == "C":
                    med, p99 = c_round_trips(args.peer, name, args.size, args.warmup, args.count)
                    medians[key].append(med)
                    p99s[key].append(p99)
                else:
                    s = sorted(python_round_trips(name, args.size, args.warmup, args.count,
                                                  key == "py_into", args.busy))
                    samples[key].extend(s)
                    medians[key].append(percentile(s, 0.5))
                    p99s[key].append(percentile(s, 0.99))
    finally:
        try:
            with xshm.Client(name) as client:
                client.send(b"\0")  # a 1-byte message ends the echo server
        except xshm.Error as exc:
            print("bench_roundtrip: cannot stop the echo peer: %s" % exc)
        try:
            rc = server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            rc = server.wait()
    if rc != 0:
        sys.exit("bench_roundtrip: the echo peer exited with %d" % rc)

    # The C pinger reports per-round figures: its row is their median.
    c_median = statistics.median(medians["C"])
    print()
    print("%-48s %10s %10s %8s   %s" % ("pinger", "median", "p99", "ratio", "round medians"))
    for key, label in rows:
        if key == "C":
            med, p99 = c_median, statistics.median(p99s["C"])
        else:
            s = sorted(samples[key])
            med, p99 = percentile(s, 0.5), percentile(s, 0.99)
        print("%-48s %7.2f us %7.2f us %7.2fx   %s" % (
            label, med / 1000, p99 / 1000, med / c_median,
            " ".join("%.2f" % (m / 1000) for m in medians[key])))
    print()
    print("ratio: the row's median over the C client's median (round trips of the same run); "
          "load average now %.2f" % os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
