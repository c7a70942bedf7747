#!/usr/bin/env python3
"""Replays the bad-input corpus (tests/corpus/bad, see its MANIFEST and
docs/hostile-input.md) against a running skiffd, standard library only.

For every case: a fresh connection gets the file's bytes and the broker must do what
MANIFEST says (close the connection, or answer with the listed Kafka error), within
10 s. Throughout: the broker process stays alive, a probe client on its own connection
gets every ApiVersions answer in time (other clients are unaffected), and the broker's
RSS stays within RSS_BUDGET_MB of its starting value (no allocation sized by a hostile
length). The connection cases: 100 slowloris connections at 1 byte/s, 5000 idle
connections (RLIMIT_NOFILE is raised for this process when needed), 200 connections
that announce a maximal frame and stall, and 1000 pipelined requests written without
reading. Invalid topic names must be refused without creating anything. At the end the test topic is fetched back and every
stored batch must be a valid magic-2 batch (CRC-32C) with contiguous offsets: nothing
from a rejected request reached the log. When BROKER_LOG names the broker's stderr file,
it must contain no sanitizer report or failed assertion.

Usage: BOOTSTRAP=host:port [BROKER_PID=pid] [BROKER_LOG=file] bad_inputs.py
       bad_inputs.py --skiffd PATH   (starts its own broker on a free port, data in a
                                      temporary directory, stderr checked)
       bad_inputs.py --fd-exhaustion PATH   (opt-in: open-file limit exhausted by clients;
                                      fails until the accept path backs off, see
                                      docs/hostile-input.md)
Env: ONLY=<regex> runs matching cases; RSS_BUDGET_MB (default 256).
Prints one PASS/FAIL line per case; exits 1 on any failure.
"""
import os
import re
import resource
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "tests", "corpus", "bad")
TOPIC = b"skiff-bad-inputs"
CASE_TIMEOUT_S = 10.0
PROBE_LIMIT_S = 2.0  # slowest probe answer allowed; x5 under ASan, which poisons freed frames
RSS_BUDGET_KB = int(os.environ.get("RSS_BUDGET_MB", "256")) * 1024
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "Assertion", "assertion failed")

HOST, PORT = "127.0.0.1", 9092
BROKER_PID = None
FAILS = []


def fail(what):
    FAILS.append(what)
    print("  check failed: " + what, flush=True)


# ---- wire helpers ----
def frame(api_key, version, corr, body=b"", flexible=False):
    hdr = struct.pack(">hhih", api_key, version, corr, 5) + b"probe" + (b"\x00" if flexible else b"")
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def connect(timeout=CASE_TIMEOUT_S):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def read_response(s):
    size = struct.unpack(">i", read_exact(s, 4))[0]
    data = read_exact(s, size)
    return struct.unpack(">i", data[:4])[0], data[4:]


def outcome(s):
    """('close', None) if the broker closes without answering, ('answer', (corr, body)),
    or ('timeout', None)."""
    s.settimeout(CASE_TIMEOUT_S)
    try:
        return "answer", read_response(s)
    except (EOFError, ConnectionResetError, BrokenPipeError):
        return "close", None
    except socket.timeout:
        return "timeout", None


def rss_kb():
    if not BROKER_PID:
        return 0
    try:
        with open("/proc/%d/status" % BROKER_PID) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sanitized():
    """ASan reserves terabytes of shadow address space; its quarantine keeps up to
    256 MiB of freed memory resident, which is not the broker's doing."""
    try:
        with open("/proc/%d/status" % BROKER_PID) as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) > (1 << 30)  # KiB: over 1 TiB
    except (OSError, TypeError):
        pass
    return False


def alive():
    if not BROKER_PID:
        return True
    try:
        os.kill(BROKER_PID, 0)
        return True
    except OSError:
        return False


class Rd:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.p)
        self.p += struct.calcsize(fmt)
        return v[0]

    def string(self):
        n = self.take(">h")
        v = self.b[self.p:self.p + max(n, 0)]
        self.p += max(n, 0)
        return v

    def blob(self):
        n = self.take(">i")
        v = self.b[self.p:self.p + max(n, 0)]
        self.p += max(n, 0)
        return v


def produce_error(body):
    """Error code of the first partition of a Produce v3-v8 response body."""
    r = Rd(body)
    r.take(">i")  # topic count
    r.string()
    r.take(">i")  # partition count
    r.take(">i")  # index
    return r.take(">h")


def metadata_v4_topic_error(body):
    r = Rd(body)
    r.take(">i")  # throttle
    for _ in range(r.take(">i")):  # brokers: id, host, port, rack
        r.take(">i"), r.string(), r.take(">i"), r.string()
    r.string()  # cluster id
    r.take(">i")  # controller
    r.take(">i")  # topic count
    return r.take(">h")


# ---- background: probe client and RSS sampler ----
class Watch(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.max_latency = 0.0
        self.case_latency = 0.0  # reset by the replay loop at each case
        self.probes = 0
        self.errors = []
        self.rss_max = 0

    def run(self):
        try:
            s = connect()
        except OSError as e:
            self.errors.append("probe connect: %s" % e)
            return
        corr = 0
        while not self.stop.is_set():
            corr += 1
            t0 = time.monotonic()
            try:
                s.sendall(frame(18, 0, corr))
                got, body = read_response(s)
                if got != corr or struct.unpack(">h", body[:2])[0] != 0:
                    self.errors.append("probe: bad answer to %d" % corr)
            except (OSError, EOFError) as e:
                self.errors.append("probe: %s" % e)
                return
            lat = time.monotonic() - t0
            self.max_latency = max(self.max_latency, lat)
            self.case_latency = max(self.case_latency, lat)
            self.probes += 1
            self.rss_max = max(self.rss_max, rss_kb())
            self.stop.wait(0.05)
        s.close()


# ---- setup and final log check ----
def ensure_topic():
    body = struct.pack(">i", 1) + struct.pack(">h", len(TOPIC)) + TOPIC + b"\x01"  # Metadata v4, auto-create
    for _ in range(100):
        with connect() as s:
            s.sendall(frame(3, 4, 1, body))
            _, resp = read_response(s)
        r = Rd(resp)
        r.take(">i")  # throttle
        for _ in range(r.take(">i")):  # brokers
            r.take(">i"), r.string(), r.take(">i"), r.string()
        r.string()  # cluster id
        r.take(">i")  # controller
        r.take(">i")  # topics
        err = r.take(">h")
        r.string()
        r.take(">b")
        nparts = r.take(">i")
        if err == 0 and nparts > 0:
            r.take(">h"), r.take(">i")
            if r.take(">i") >= 0:  # leader
                return True
        time.sleep(0.2)
    return False


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def check_log():
    """Fetch partition 0 from offset 0; every batch valid, offsets contiguous."""
    body = struct.pack(">iiiib", -1, 100, 1, 16 << 20, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(TOPIC)) + TOPIC
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 16 << 20)
    with connect() as s:
        s.sendall(frame(1, 4, 77, body))
        _, resp = read_response(s)
    r = Rd(resp)
    r.take(">i"), r.take(">i"), r.string(), r.take(">i")
    r.take(">i")
    err, hw = r.take(">h"), r.take(">q")
    r.take(">q")
    n_aborted = r.take(">i")
    r.p += max(n_aborted, 0) * 16
    recs = r.blob()
    if err != 0:
        fail("log check: fetch error %d" % err)
        return
    pos, want, batches = 0, 0, 0
    while pos + 61 <= len(recs):
        base, blen = struct.unpack_from(">qi", recs, pos)
        if pos + 12 + blen > len(recs):
            break  # a partial batch at the end of a fetch is normal
        magic = recs[pos + 16]
        crc = struct.unpack_from(">I", recs, pos + 17)[0]
        lod = struct.unpack_from(">i", recs, pos + 23)[0]
        if magic != 2 or crc32c(recs[pos + 21:pos + 12 + blen]) != crc:
            fail("log check: stored batch at offset %d is not a valid magic-2 batch" % base)
            return
        if base != want:
            fail("log check: batch at %d, expected %d" % (base, want))
            return
        want = base + lod + 1
        pos += 12 + blen
        batches += 1
    if want != hw:
        fail("log check: batches end at %d but the high watermark is %d" % (want, hw))
    print("  log check: %d valid batches, offsets 0..%d" % (batches, want - 1), flush=True)


# ---- the cases ----
def expect_ok(expect, kind, resp, corr_sent):
    if kind == "timeout":
        return "no answer and no close within %.0f s" % CASE_TIMEOUT_S
    if expect == "any":
        return None
    if expect == "close":
        return None if kind == "close" else "answered, expected a close"
    if kind == "close":
        return "closed, expected an answer (%s)" % expect
    corr, body = resp
    if corr != corr_sent:
        return "correlation id %d, sent %d" % (corr, corr_sent)
    if expect == "answer":
        return None
    if expect.startswith("av="):
        code = struct.unpack(">h", body[:2])[0]
        return None if code == int(expect[3:]) else "ApiVersions error %d, expected %s" % (code, expect[3:])
    if expect.startswith("meta="):
        code = metadata_v4_topic_error(body)
        return None if code == int(expect[5:]) else "Metadata topic error %d, expected %s" % (code, expect[5:])
    if expect.startswith("kerr="):
        code = produce_error(body)
        allowed = [int(x) for x in expect[5:].split(",")]
        return None if code in allowed else "Kafka error %d, expected one of %s" % (code, allowed)
    return "unknown expectation " + expect


def corr_of(data):
    return struct.unpack(">i", data[8:12])[0] if len(data) >= 12 else None


def frames_in(data):
    """(count, offset of the last) of the whole frames in data; (0, 0) if none."""
    pos, n, last = 0, 0, 0
    while pos + 4 <= len(data):
        size = struct.unpack(">i", data[pos:pos + 4])[0]
        if size < 0 or pos + 4 + size > len(data):
            break
        n, last = n + 1, pos
        pos += 4 + size
    return n, last


def run_once(name, data, send, expect):
    n, last = frames_in(data)
    s = connect()
    try:
        try:
            s.sendall(data)
            if send == "eof":
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return None if expect in ("close", "any") else "closed while sending"
        for _ in range(n - 1):  # answers to the requests before the one under test
            kind, resp = outcome(s)
            if kind != "answer":
                return expect_ok(expect, kind, resp, corr_of(data[last:]))
        kind, resp = outcome(s)
        return expect_ok(expect, kind, resp, corr_of(data[last:]))
    finally:
        s.close()


def run_slow(data, conns=100):
    socks = [connect() for _ in range(conns)]
    t0 = time.monotonic()
    for i in range(len(data)):
        for s in socks:
            s.send(data[i:i + 1])
        time.sleep(1.0)
    err = None
    for s in socks:
        kind, resp = outcome(s)
        e = expect_ok("answer", kind, resp, corr_of(data))
        err = err or e
        s.close()
    print("  slowloris: %d connections, %d bytes at 1 B/s, %.0f s" % (conns, len(data), time.monotonic() - t0))
    return err


def run_idle(conns=5000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = conns + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            return "RLIMIT_NOFILE hard limit %d < %d" % (hard, need)
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    rss0 = rss_kb()
    socks = []
    try:
        for _ in range(conns):
            socks.append(socket.create_connection((HOST, PORT), timeout=CASE_TIMEOUT_S))
        time.sleep(2.0)
        # every connection is still usable: the last one gets an answer
        s = socks[-1]
        s.sendall(frame(18, 0, 4242))
        kind, resp = outcome(s)
        err = expect_ok("answer", kind, resp, 4242)
        grown = rss_kb() - rss0
        print("  idle: %d connections held, broker RSS +%d KiB" % (len(socks), grown), flush=True)
        if BROKER_PID and grown > 100 * 1024:
            err = err or "RSS grew by %d KiB for idle connections" % grown
        return err
    except OSError as e:
        return "after %d connections: %s" % (len(socks), e)
    finally:
        for s in socks:
            s.close()


def run_hold(data, conns=200):
    rss0 = rss_kb()
    socks = []
    try:
        for _ in range(conns):
            s = connect()
            s.sendall(data)
            socks.append(s)
        time.sleep(2.0)
        grown = rss_kb() - rss0
        print("  hold: %d stalled connections, broker RSS +%d KiB" % (len(socks), grown), flush=True)
        if BROKER_PID and grown > 64 * 1024:
            return "RSS grew by %d KiB for %d stalled connections" % (grown, len(socks))
        return None
    except OSError as e:
        return "after %d connections: %s" % (len(socks), e)
    finally:
        for s in socks:
            s.close()


def run_pipe(data, n=1000):
    reqs = [data[:8] + struct.pack(">i", i) + data[12:] for i in range(n)]
    s = connect()
    sender_err = []

    def send_all():
        try:
            s.sendall(b"".join(reqs))
        except OSError as e:
            sender_err.append(str(e))

    t = threading.Thread(target=send_all, daemon=True)
    t.start()
    time.sleep(2.0)  # nothing read: the broker must pause reading, not buffer without bound
    try:
        for i in range(n):
            corr, _ = read_response(s)
            if corr != i:
                return "response %d has correlation id %d" % (i, corr)
    except (OSError, EOFError) as e:
        return "after some responses: %s" % e
    finally:
        t.join(10)
        s.close()
    return sender_err[0] if sender_err else None


def load_manifest():
    cases = []
    with open(os.path.join(CORPUS, "MANIFEST")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, send, expect, why = line.rstrip("\n").split(" ", 3)
            cases.append((name, send, expect, why))
    return cases


def replay():
    only = os.environ.get("ONLY", "")
    if not ensure_topic():
        fail("topic %s has no leader" % TOPIC.decode())
        return
    rss0 = rss_kb()
    budget = RSS_BUDGET_KB
    if BROKER_PID and sanitized():
        budget += 256 * 1024
        print("  broker is built with ASan: RSS budget +256 MiB for its quarantine", flush=True)
    watch = Watch()
    watch.start()
    for name, send, expect, why in load_manifest():
        if only and not re.search(only, name):
            continue
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()
        t0 = time.monotonic()
        watch.case_latency = 0.0
        try:
            if send in ("once", "eof"):
                err = run_once(name, data, send, expect)
            elif send == "slow":
                err = run_slow(data)
            elif send == "idle":
                err = run_idle()
            elif send == "hold":
                err = run_hold(data)
            elif send == "pipe":
                err = run_pipe(data)
            else:
                err = "unknown send mode " + send
        except OSError as e:
            err = "socket error: %s" % e
        time.sleep(0.05)  # a crash right after answering must still count
        if not alive():
            err = (err or "") + " BROKER DIED"
        grown = rss_kb() - rss0
        if BROKER_PID and grown > budget:
            err = (err or "") + " RSS +%d KiB over budget" % grown
        print("%s %s (%s; %.1f s, RSS +%d KiB, probe %.2f s)%s" %
              ("FAIL" if err else "PASS", name, why, time.monotonic() - t0, grown, watch.case_latency,
               ": " + err if err else ""), flush=True)
        if err:
            fail(name + ": " + err)
        if not alive():
            break
    watch.stop.set()
    watch.join(15)
    for e in watch.errors:
        fail(e)
    print("  probe: %d answers, slowest %.3f s; broker RSS max %d KiB (start %d KiB)" %
          (watch.probes, watch.max_latency, watch.rss_max, rss0), flush=True)
    limit = PROBE_LIMIT_S * (5 if BROKER_PID and sanitized() else 1)
    if watch.max_latency > limit:
        fail("probe client waited %.1f s for an answer (limit %.1f s)" % (watch.max_latency, limit))
    if alive():
        check_log()


def check_broker_log(path):
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return
    for mark in SANITIZER_MARKS:
        if mark in text:
            i = text.index(mark)
            fail("broker log %s has '%s': %s" % (path, mark, text[max(0, i - 200):i + 400]))
            return


def fd_exhaustion(skiffd, derived_limit):
    """Opt-in (--fd-exhaustion SKIFFD): a broker whose open-file limit is exhausted by
    connections must neither spin nor flood its log, and must serve again once clients
    leave. Own broker with RLIMIT_NOFILE 512; 700 connections; 3 s of watching.
    derived_limit: max.connections left unset, so the broker takes three quarters of
    the limit (384) and refuses the rest itself; otherwise it is set out of the way and
    accept() runs into EMFILE."""
    tmp = tempfile.mkdtemp(prefix="skiff-fd-")
    port = free_port()
    log_path = os.path.join(tmp, "skiffd.log")

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    args = [skiffd, "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port,
            "--override", "log.dirs=%s/logs" % tmp, "--override", "num.partitions=1"]
    if not derived_limit:  # reach the descriptor limit itself, not max.connections
        args += ["--override", "max.connections=100000"]
    proc = subprocess.Popen(args, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, preexec_fn=limit)
    socks = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(700):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        tck = os.sysconf("SC_CLK_TCK")

        def cpu_s():
            f = open("/proc/%d/stat" % proc.pid).read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / tck
        c0, l0 = cpu_s(), os.path.getsize(log_path)
        time.sleep(3)
        c1, l1 = cpu_s(), os.path.getsize(log_path)
        print("  fd exhaustion (%s): %d connections, broker CPU %.2f s and log +%d bytes in 3 s" %
              ("max.connections derived" if derived_limit else "EMFILE", len(socks), c1 - c0, l1 - l0),
              flush=True)
        if c1 - c0 > 0.5:
            fail("fd exhaustion: the broker spins (%.2f s CPU in 3 s)" % (c1 - c0))
        if l1 - l0 > 64 * 1024:
            fail("fd exhaustion: the broker floods its log (%d bytes in 3 s)" % (l1 - l0))
        if derived_limit:
            # The broker kept descriptors for files: on a connection it holds, a
            # Metadata v0 request auto-creating a topic (new segment files) succeeds.
            body = struct.pack(">ih", 1, 8) + b"fd-topic"
            socks[0].sendall(frame(3, 0, 6, body))
            socks[0].settimeout(5)
            corr, data = read_response(socks[0])
            if corr != 6 or b"fd-topic" not in data:
                fail("fd exhaustion: no Metadata answer on a held connection")
            if not os.path.isdir(os.path.join(tmp, "logs", "fd-topic-0")):
                fail("fd exhaustion: the auto-created topic has no log directory")
            if "event=max_connections value=384" not in open(log_path).read():
                fail("fd exhaustion: max.connections was not derived from the limit 512")
        for s in socks:
            s.close()
        socks = []
        time.sleep(1)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(frame(18, 0, 5))
            s.settimeout(5)
            if read_response(s)[0] != 5:
                fail("fd exhaustion: wrong answer afterwards")
    except (OSError, EOFError) as e:
        fail("fd exhaustion: %s" % e)
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    global HOST, PORT, BROKER_PID
    proc = None
    log_path = os.environ.get("BROKER_LOG")
    tmp = None
    if len(sys.argv) == 3 and sys.argv[1] == "--fd-exhaustion":
        fd_exhaustion(sys.argv[2], False)
        fd_exhaustion(sys.argv[2], True)
        print("bad_inputs: %s (%d failures)" % ("FAIL" if FAILS else "PASS", len(FAILS)), flush=True)
        sys.exit(1 if FAILS else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "--skiffd":
        tmp = tempfile.mkdtemp(prefix="skiff-bad-")
        PORT = free_port()
        log_path = os.path.join(tmp, "skiffd.log")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=1")
        proc = subprocess.Popen([sys.argv[2], "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % PORT,
                                 "--override", "log.dirs=%s/logs" % tmp, "--override", "num.partitions=1"],
                                stdout=open(log_path, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        BROKER_PID = proc.pid
        for _ in range(100):
            try:
                socket.create_connection((HOST, PORT), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
    else:
        host, port = os.environ.get("BOOTSTRAP", "127.0.0.1:9092").rsplit(":", 1)
        HOST, PORT = host, int(port)
        BROKER_PID = int(os.environ["BROKER_PID"]) if os.environ.get("BROKER_PID") else None
    try:
        replay()
    finally:
        if proc:
            proc.terminate()
            try:
                rc = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            if rc != 0:
                fail("skiffd exited with status %d after SIGTERM" % rc)
        if tmp:
            import glob
            stray = glob.glob(os.path.join(tmp, "**", "*evil*"), recursive=True)
            if stray:
                fail("an invalid topic name created %s" % stray)
        if log_path:
            check_broker_log(log_path)
        if tmp and FAILS:
            print("  broker log and data kept in %s" % tmp)
        elif tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print("bad_inputs: %s (%d failures)" % ("FAIL" if FAILS else "PASS", len(FAILS)), flush=True)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
