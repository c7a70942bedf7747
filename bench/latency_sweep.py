#!/usr/bin/env python3
"""bench/latency_sweep.py: end-to-end latency of skiffd at a ladder of offered rates,
showing where the latency tail starts to grow and who sets the limit there.

    bench/latency_sweep.py --skiffd BUILD/skiffd --loadgen BUILD/loadgen \
        [--size 1024] [--rates 50000,100000,200000,300000] [--seconds 20] [--out FILE]

Per rate: a fresh skiffd (pinned to CPU 0, fresh data dir) and one `loadgen e2e` run
(pinned to CPU 1: one producer and one consumer thread in one process, acks=all,
linger.ms=1, 4 partitions), as in bench/run.sh's latency pass. Reports the offered and
achieved rate, p50/p99/p99.9/max latency, and the CPU share each side used: the broker
(utime+stime from /proc) and the load generator (rusage of the child). A side near 100%
is the limit at that rate. Prints a Markdown table; --out also writes the raw JSON lines.
This is a benchmark, not a test: it asserts nothing."""

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def one_rate(args, rate):
    tmp = tempfile.mkdtemp(prefix="skiff-sweep-")
    port = free_port()
    broker = subprocess.Popen(["taskset", "-c", "0", args.skiffd, "--override",
                               "listeners=PLAINTEXT://127.0.0.1:%d" % port, "--override",
                               "log.dirs=%s/data" % tmp], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port):
            raise RuntimeError("skiffd did not start")
        bs = "127.0.0.1:%d" % port
        subprocess.run([args.loadgen, "create", "-b", bs, "-t", "sweep", "-p", "4"], check=True,
                       stdout=subprocess.DEVNULL)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        b0, t0 = proc_cpu_s(broker.pid), time.time()
        out = subprocess.run(["taskset", "-c", "1", args.loadgen, "e2e", "-b", bs, "-t", "sweep", "-s",
                              str(args.size), "-r", str(rate), "-d", str(args.seconds), "-w", "2", "-a", "all",
                              "-z", "none", "-l", "1"], check=True, capture_output=True, text=True).stdout
        b1, t1 = proc_cpu_s(broker.pid), time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = json.loads(out)
        wall = t1 - t0
        r["broker_cpu_share"] = (b1 - b0) / wall
        r["loadgen_cpu_share"] = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / wall
        return r
    finally:
        broker.terminate()
        broker.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiffd", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rates", default="50000,100000,200000,300000")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    for rate in [int(x) for x in args.rates.split(",")]:
        r = one_rate(args, rate)
        rows.append(r)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(r) + "\n")
        print("sweep: %d records/s of %d B: p99 %.2f ms" % (rate, args.size, r["p99_us"] / 1000),
              file=sys.stderr, flush=True)
    print("| offered rec/s | achieved rec/s | MB/s | p50 ms | p99 ms | p99.9 ms | max ms | broker CPU | loadgen CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %d | %.0f | %.1f | %.2f | %.2f | %.2f | %.2f | %.0f%% | %.0f%% |" % (
            r["rate"], r["achieved_rate"], r["achieved_rate"] * args.size / 1e6, r["p50_us"] / 1000,
            r["p99_us"] / 1000, r["p999_us"] / 1000, r["max_us"] / 1000, 100 * r["broker_cpu_share"],
            100 * r["loadgen_cpu_share"]))


if __name__ == "__main__":
    main()
