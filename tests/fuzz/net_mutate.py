#!/usr/bin/env python3
"""tests/fuzz/net_mutate.py: a mutation fuzzer over the network, for the request
handlers the in-process fuzz targets do not reach (they stop at the decoders). It takes
well-formed requests (the real client captures in tests/corpus/captures plus group,
offset, config and admin requests built with kafka_bytes.py), keeps each request header
intact, overwrites body fields with boundary values (0, -1, 1, 2^15-1, 2^31-1, -2^31,
2^63-1...) or flips bytes, and sends them, 12 pipelined per connection (40% mutated), to a running
skiffd. Required: every connection either gets all its answers, in order, or is
closed (or, when a request legitimately parks, the broker still answers a probe on
another connection); the broker stays alive; with --skiffd, its output has no
sanitizer report or failed assertion.
A seed is printed; --seed replays a run. Standard library only.

Usage: net_mutate.py --skiffd build-asan/skiffd [--seconds 300] [--seed N]
       BOOTSTRAP=host:port BROKER_PID=pid net_mutate.py [--seconds N]
"""
import argparse
import glob
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kafka_bytes as k  # noqa: E402

CAPTURES = os.path.join(HERE, "..", "corpus", "captures")
VERBOSE = False
MUTATE_P = 0.4  # share of requests mutated; the rest keep the connection going deeper
INTERESTING = {
    1: [0, 1, 0x7F, 0x80, 0xFF],
    2: [0, 1, 0x7FFF, 0x8000, 0xFFFF],
    4: [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100, 0x10000],
    8: [0, 1, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFE],
}
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "assertion failed", "Assertion")


def built_requests():
    """Bodies of APIs no capture covers: (api_key, version, flexible, body)."""
    s, b, a = k.string, k.nbytes, k.array
    topic = "mut-t"
    out = []
    out.append((11, 0, False, s("mut-g") + k.i32(30000) + s("") + s("consumer")
                + a([s("range") + b(b"\x00\x01\x00\x00\x00\x01\x00\x05mut-t\x00\x00\x00\x00")])))
    out.append((11, 5, False, s("mut-g") + k.i32(30000) + k.i32(30000) + s("") + s(None) + s("consumer")
                + a([s("range") + b(b"\x00\x01")])))
    out.append((14, 0, False, s("mut-g") + k.i32(1) + s("m-1") + a([s("m-1") + b(b"\x00\x00assign")])))
    out.append((12, 0, False, s("mut-g") + k.i32(1) + s("m-1")))
    out.append((13, 0, False, s("mut-g") + s("m-1")))
    out.append((8, 2, False, s("mut-g") + k.i32(-1) + s("") + k.i64(-1)
                + a([s(topic) + a([k.i32(0) + k.i64(5) + s("meta")])])))
    out.append((9, 1, False, s("mut-g") + a([s(topic) + a([k.i32(0)])])))
    out.append((15, 0, False, a([s("mut-g")])))
    out.append((16, 0, False, b""))
    out.append((42, 0, False, a([s("mut-g")])))
    out.append((47, 0, False, s("mut-g") + a([s(topic) + a([k.i32(0)])])))
    out.append((32, 1, False, a([k.i8(2) + s(topic) + a([s("retention.ms")])]) + k.i8(1)))
    out.append((33, 0, False, a([k.i8(2) + s(topic) + a([s("retention.ms") + s("1000")])]) + k.i8(0)))
    out.append((44, 0, False, a([k.i8(2) + s(topic) + a([s("retention.ms") + k.i8(0) + s("1000")])]) + k.i8(0)))
    out.append((37, 0, False, a([s(topic) + k.i32(3) + k.i32(-1)]) + k.i32(1000) + k.i8(0)))
    out.append((21, 0, False, a([s(topic) + a([k.i32(0) + k.i64(1)])]) + k.i32(1000)))
    out.append((22, 0, False, s(None) + k.i32(60000)))
    out.append((19, 2, False, a([s(topic) + k.i32(2) + k.i16(1) + a([]) + a([])]) + k.i32(1000) + k.i8(0)))
    out.append((0, 3, False, k.produce_body(3, topic, 0, k.simple_batch(3))))
    out.append((2, 1, False, k.i32(-1) + a([s(topic) + a([k.i32(0) + k.i64(-1)])])))
    return out


def seeds():
    reqs = []
    for path in sorted(glob.glob(os.path.join(CAPTURES, "*.bin"))):
        data = open(path, "rb").read()
        clen = struct.unpack(">h", data[8:10])[0]
        hdr_len = 10 + max(clen, 0)
        key, ver = struct.unpack(">hh", data[:4])
        flexible = False
        if len(data) > hdr_len and key in (0, 1, 2, 3, 18, 19, 20, 10) and ver >= {0: 9, 1: 12, 2: 6, 3: 9, 18: 3,
                                                                                 19: 5, 20: 4, 10: 3}[key]:
            flexible = True
            hdr_len += 1
        reqs.append((data[:hdr_len], data[hdr_len:]))
    for key, ver, flex, body in built_requests():
        hdr = k.header(key, ver, 0, "mut", flex)
        reqs.append((hdr, body))
    return reqs


def mutate(rng, body):
    b = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        if not b:
            break
        op = rng.random()
        if op < 0.6:
            width = rng.choice([1, 2, 4, 8])
            if len(b) < width:
                continue
            pos = rng.randrange(len(b) - width + 1)
            v = rng.choice(INTERESTING[width]) if rng.random() < 0.8 else rng.getrandbits(width * 8)
            b[pos:pos + width] = v.to_bytes(width, "big")
        elif op < 0.8:
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
        elif op < 0.9:
            pos = rng.randrange(len(b))
            del b[pos:pos + rng.randint(1, 8)]
        else:
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
    return bytes(b)


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def one_connection(host, port, rng, reqs, per_conn):
    sent = []
    payload = bytearray()
    for i in range(per_conn):
        hdr, body = rng.choice(reqs)
        hdr = hdr[:4] + struct.pack(">i", i) + hdr[8:]
        body = mutate(rng, body) if rng.random() < MUTATE_P else body
        acks0 = hdr[:2] == b"\x00\x00" and b"\x00\x00" == body[2:4] if len(body) > 4 else False
        sent.append((i, acks0))
        if VERBOSE:
            print("  corr %d api %d v%d body %s" % (i, struct.unpack(">h", hdr[:2])[0], struct.unpack(">h", hdr[2:4])[0],
                                                 body[:80].hex()))
        payload += struct.pack(">i", len(hdr) + len(body)) + hdr + body
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(payload)
    except OSError:
        s.close()
        return "closed"
    expect = 0
    try:
        while True:
            size = struct.unpack(">i", read_exact(s, 4))[0]
            corr = struct.unpack(">i", read_exact(s, size)[:4])[0]
            if corr < expect:
                return "out of order: %d after %d" % (corr, expect)
            expect = corr + 1
            if corr == per_conn - 1:
                return "answered"
    except (EOFError, ConnectionResetError):
        return "closed"
    except socket.timeout:
        return "timeout after corr %d" % (expect - 1)
    finally:
        s.close()


def probe(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(k.api_versions_request(corr=99))
            size = struct.unpack(">i", read_exact(s, 4))[0]
            return struct.unpack(">i", read_exact(s, size)[:4])[0] == 99
    except (OSError, EOFError):
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiffd")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--per-conn", type=int, default=12)
    ap.add_argument("--conn-seed", type=int, help="replay one connection verbosely")
    args = ap.parse_args()
    print("net_mutate: seed %d" % args.seed, flush=True)
    rng = random.Random(args.seed)
    proc, log_path, pid = None, None, None
    if args.skiffd:
        tmp = tempfile.mkdtemp(prefix="skiff-mut-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        host = "127.0.0.1"
        log_path = os.path.join(tmp, "skiffd.log")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=1")
        proc = subprocess.Popen([args.skiffd, "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port,
                                 "--override", "log.dirs=%s/logs" % tmp, "--override", "num.partitions=2"],
                                stdout=open(log_path, "w"), stderr=subprocess.STDOUT, env=env)
        pid = proc.pid
        for _ in range(300):
            if probe(host, port):
                break
            time.sleep(0.1)
    else:
        host, port = os.environ.get("BOOTSTRAP", "127.0.0.1:9092").rsplit(":", 1)
        port = int(port)
        pid = int(os.environ["BROKER_PID"]) if os.environ.get("BROKER_PID") else None
    reqs = seeds()
    if args.conn_seed is not None:
        global VERBOSE
        VERBOSE = True
        print(one_connection(host, port, random.Random(args.conn_seed), reqs, args.per_conn))
        if proc:
            proc.terminate()
        return
    stats = {}
    bad = []
    t_end = time.monotonic() + args.seconds
    conns = 0
    while time.monotonic() < t_end:
        conn_seed = rng.getrandbits(32)
        r = one_connection(host, port, random.Random(conn_seed), reqs, args.per_conn)
        conns += 1
        key = r.split(":")[0]
        stats[key] = stats.get(key, 0) + 1
        if r.startswith("timeout"):
            # A parked request (fetch long-poll, a join waiting for a rebalance) may
            # legitimately outwait us; the broker must still answer everyone else.
            stats["waiting"] = stats.get("waiting", 0) + 1
            if not probe(host, port):
                bad.append("connection seed %d: %s, and the broker does not answer a probe" % (conn_seed, r))
        elif r not in ("answered", "closed"):
            bad.append("connection seed %d: %s" % (conn_seed, r))
        if pid:
            try:
                os.kill(pid, 0)
            except OSError:
                bad.append("broker died (connection seed %d)" % conn_seed)
                break
            if proc and proc.poll() is not None:
                bad.append("broker exited with %d (connection seed %d)" % (proc.returncode, conn_seed))
                break
    if proc:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        text = open(log_path, errors="replace").read()
        for mark in SANITIZER_MARKS:
            if mark in text:
                i = text.index(mark)
                bad.append("broker log: " + text[max(0, i - 300):i + 1500])
                break
    print("net_mutate: %d connections, %s" % (conns, stats), flush=True)
    for b in bad[:10]:
        print("FAIL " + b)
    print("net_mutate: %s" % ("FAIL" if bad else "PASS"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
