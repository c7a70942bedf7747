#!/usr/bin/env python3
"""Record the Kafka requests a client sends, byte for byte, for decoder tests.

Listens on --listen HOST:PORT, forwards every connection to --upstream HOST:PORT,
and writes each complete client->broker frame (without its 4-byte size prefix) to
--out DIR as <prefix>-<api_key>-v<api_version>-<n>.bin. Start the broker with its
advertised listener set to the proxy's address so that clients keep talking through
the proxy after Metadata. Standard library only.

    tools/capture_proxy.py --listen 127.0.0.1:19999 --upstream 127.0.0.1:9092 \
        --out tests/corpus/captures --prefix kcat
"""
import argparse
import os
import socket
import struct
import threading

def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

class Capture:
    def __init__(self, out, prefix, keep):
        self.out, self.prefix, self.keep = out, prefix, keep
        self.lock = threading.Lock()
        self.counts = {}

    def save(self, frame):
        key, ver = struct.unpack(">hh", frame[:4])
        if self.keep and key not in self.keep:
            return key, ver
        with self.lock:
            n = self.counts.get((key, ver), 0)
            self.counts[(key, ver)] = n + 1
        if n < 3:  # a few of each kind is plenty
            path = os.path.join(self.out, "%s-%d-v%d-%d.bin" % (self.prefix, key, ver, n))
            with open(path, "wb") as f:
                f.write(frame)
        return key, ver

def pump_requests(cli, up, cap, pending):
    while True:
        hdr = read_exact(cli, 4)
        if hdr is None:
            break
        size = struct.unpack(">i", hdr)[0]
        frame = read_exact(cli, size)
        if frame is None:
            break
        key, ver = cap.save(frame)
        corr = struct.unpack(">i", frame[4:8])[0]
        pending[corr] = (key, ver)
        up.sendall(hdr + frame)
    up.shutdown(socket.SHUT_WR)

def pump_responses(up, cli):
    while True:
        data = up.recv(65536)
        if not data:
            break
        cli.sendall(data)
    cli.close()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prefix", default="client")
    ap.add_argument("--keys", default="", help="comma-separated api keys to keep (default all)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    keep = {int(k) for k in a.keys.split(",") if k}
    cap = Capture(a.out, a.prefix, keep)
    lh, lp = a.listen.rsplit(":", 1)
    uh, upn = a.upstream.rsplit(":", 1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((lh, int(lp)))
    srv.listen(64)
    while True:
        cli, _ = srv.accept()
        up = socket.create_connection((uh, int(upn)))
        pending = {}
        threading.Thread(target=pump_requests, args=(cli, up, cap, pending), daemon=True).start()
        threading.Thread(target=pump_responses, args=(up, cli), daemon=True).start()

if __name__ == "__main__":
    main()
