#!/usr/bin/env python3
"""Print which compression codecs the stored batches of a topic use, by reading the
partition directories under a data dir (Kafka's on-disk layout: <topic>-<n>/*.log of
record batches; codec = attributes & 7 at byte 21 of each batch).

Usage: segment_codecs.py DATA_DIR TOPIC [EXPECTED_CODEC]
With EXPECTED_CODEC (none, gzip, snappy, lz4, zstd) exits 1 unless most batches use it
(small batches may legitimately be sent uncompressed by clients)."""
import glob
import os
import struct
import sys

NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def codecs(data_dir, topic):
    counts = {}
    for d in glob.glob(os.path.join(data_dir, topic + "-*")):
        if not d[len(os.path.join(data_dir, topic)) + 1:].isdigit():
            continue
        for seg in sorted(glob.glob(os.path.join(d, "*.log"))):
            with open(seg, "rb") as f:
                data = f.read()
            pos = 0
            while pos + 61 <= len(data):
                length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
                if length < 49:
                    break
                attrs = struct.unpack(">h", data[pos + 21:pos + 23])[0]
                name = NAMES.get(attrs & 7, "codec-%d" % (attrs & 7))
                counts[name] = counts.get(name, 0) + 1
                pos += 12 + length
    return counts


def main():
    data_dir, topic = sys.argv[1], sys.argv[2]
    c = codecs(data_dir, topic)
    total = sum(c.values())
    print("segment codecs of %s: %s" % (topic, ", ".join("%s=%d" % kv for kv in sorted(c.items())) or "no batches"))
    if len(sys.argv) > 3:
        want = sys.argv[3]
        if total == 0 or c.get(want, 0) * 2 < total:
            print("FAIL: expected mostly %s batches" % want)
            sys.exit(1)


if __name__ == "__main__":
    main()
