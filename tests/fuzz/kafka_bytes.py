"""tests/fuzz/kafka_bytes.py: byte builders for Kafka wire data, used to write fuzz
seeds (tests/fuzz/make_seeds.py) and the bad-input corpus (tests/corpus/bad/gen_bad.py).
Python 3 standard library only. Everything is built from the protocol's documented
layouts (docs/protocol.md, docs/record-format.md); nothing here talks to a socket.
Compressed payloads other than gzip are written by hand in the simplest valid form of
each format (snappy literals, lz4 frames with uncompressed blocks, zstd raw blocks), so
no codec module is needed."""

import struct
import zlib

# ---- CRC-32C (Castagnoli), table driven ----
_T = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _T.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---- primitive encoders ----
def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def u32(v): return struct.pack(">I", v)
def i64(v): return struct.pack(">q", v)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):  # zig-zag, 64-bit
    return uvarint((v << 1) ^ (v >> 63))


def string(s):  # int16 length, None = null
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def cstring(s):  # compact string
    if s is None:
        return uvarint(0)
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def nbytes(b):  # int32 length
    return i32(-1) if b is None else i32(len(b)) + b


def cbytes(b):
    return uvarint(0) if b is None else uvarint(len(b) + 1) + b


def array(items):
    return i32(len(items)) + b"".join(items)


def carray(items):
    return uvarint(len(items) + 1) + b"".join(items)


TAGS0 = b"\x00"  # empty tagged-field section


# ---- request framing ----
def header(api_key, version, corr, client_id="skiff-bad", flexible=False):
    h = i16(api_key) + i16(version) + i32(corr) + string(client_id)
    return h + (TAGS0 if flexible else b"")


def frame(payload):
    return i32(len(payload)) + payload


def request(api_key, version, body, corr=1, client_id="skiff-bad", flexible=False):
    return frame(header(api_key, version, corr, client_id, flexible) + body)


# ---- record batches (magic 2) ----
def record(offset_delta, key, value, headers=(), ts_delta=0, attrs=0):
    body = i8(attrs) + varint(ts_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        body += varint(len(hk)) + hk + (varint(-1) if hv is None else varint(len(hv)) + hv)
    return varint(len(body)) + body


def batch(records_blob, count, base_offset=0, attrs=0, last_offset_delta=None, pid=-1, epoch=-1,
          base_seq=-1, base_ts=1700000000000, max_ts=None, leader_epoch=-1, magic=2, crc=None,
          length_adjust=0):
    """One batch; records_blob is the (possibly compressed) records section."""
    if last_offset_delta is None:
        last_offset_delta = count - 1
    if max_ts is None:
        max_ts = base_ts
    after_crc = (i16(attrs) + i32(last_offset_delta) + i64(base_ts) + i64(max_ts) + i64(pid) + i16(epoch)
                 + i32(base_seq) + i32(count) + records_blob)
    c = crc32c(after_crc) if crc is None else crc
    rest = i32(leader_epoch) + i8(magic) + u32(c) + after_crc
    return i64(base_offset) + i32(len(rest) + length_adjust) + rest


def simple_batch(n=2, base_offset=0, value_size=8, codec=0, headers=(), leader_epoch=-1, **kw):
    recs = b"".join(record(i, b"k%d" % i, bytes([0x61 + i % 26]) * value_size, headers) for i in range(n))
    if codec:
        recs = compress(codec, recs)
    return batch(recs, n, base_offset=base_offset, attrs=codec, leader_epoch=leader_epoch, **kw)


# ---- codecs: 1 gzip, 2 snappy, 3 lz4, 4 zstd ----
def snappy_raw(data):
    """Raw snappy made only of literals (valid; no compression)."""
    out = bytearray(uvarint(len(data)))
    pos = 0
    while pos < len(data):
        n = min(len(data) - pos, 65536)
        if n <= 60:
            out.append((n - 1) << 2)
        else:
            out.append(61 << 2)  # 2 length bytes follow
            out += struct.pack("<H", n - 1)
        out += data[pos:pos + n]
        pos += n
    return bytes(out)


def snappy_xerial(data):
    raw = snappy_raw(data)
    return b"\x82SNAPPY\x00" + i32(1) + i32(1) + i32(len(raw)) + raw


def lz4_frame(data, truncate=0):
    """lz4 frame, blocks stored uncompressed (high bit of the block size)."""
    flg, bd = 0x60, 0x40  # version 01, block independence; max block 64 KiB
    hdr = bytes([flg, bd])
    hc = (_xxh32(hdr) >> 8) & 0xFF
    out = bytearray(b"\x04\x22\x4d\x18" + hdr + bytes([hc]))
    for pos in range(0, len(data), 65536):
        chunk = data[pos:pos + 65536]
        out += struct.pack("<I", len(chunk) | 0x80000000) + chunk
    out += struct.pack("<I", 0)
    return bytes(out[:len(out) - truncate] if truncate else out)


def zstd_frame(data, window_log=None):
    """zstd frame of raw blocks; window_log forces a window descriptor (no content size)."""
    out = bytearray(struct.pack("<I", 0xFD2FB528))
    if window_log is None:
        out.append(0x20 | 0x80)  # single segment, 4-byte frame content size (FCS flag 2)
        out += struct.pack("<I", len(data))
    else:
        out.append(0x00)  # window descriptor present, no content size
        out.append(((window_log - 10) << 3) & 0xFF)
    pos = 0
    while True:
        chunk = data[pos:pos + 65536]
        pos += len(chunk)
        last = pos >= len(data)
        bh = (len(chunk) << 3) | (0 << 1) | (1 if last else 0)  # raw block
        out += struct.pack("<I", bh)[:3] + chunk
        if last:
            return bytes(out)


def compress(codec, data):
    if codec == 1:
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()
    if codec == 2:
        return snappy_xerial(data)
    if codec == 3:
        return lz4_frame(data)
    if codec == 4:
        return zstd_frame(data)
    raise ValueError(codec)


# xxHash32 (seed 0), only for the lz4 frame header checksum
def _xxh32(data, seed=0):
    P1, P2, P3, P4, P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    M = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & M

    n = len(data)
    i = 0
    if n >= 16:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed & M, (seed - P1) & M]
        while i + 16 <= n:
            for j in range(4):
                lane = struct.unpack_from("<I", data, i + 4 * j)[0]
                v[j] = (rotl((v[j] + lane * P2) & M, 13) * P1) & M
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while i + 4 <= n:
        h = (rotl((h + struct.unpack_from("<I", data, i)[0] * P3) & M, 17) * P4) & M
        i += 4
    while i < n:
        h = (rotl((h + data[i] * P5) & M, 11) * P1) & M
        i += 1
    h ^= h >> 15
    h = (h * P2) & M
    h ^= h >> 13
    h = (h * P3) & M
    h ^= h >> 16
    return h


# ---- request bodies ----
def produce_body(version, topic, partition, records, acks=-1, timeout=5000):
    """Produce v3-v8 (non-flexible) or v9+ (flexible)."""
    flex = version >= 9
    if flex:
        part = i32(partition) + cbytes(records) + TAGS0
        t = cstring(topic) + carray([part]) + TAGS0
        return cstring(None) + i16(acks) + i32(timeout) + carray([t]) + TAGS0
    part = i32(partition) + nbytes(records)
    t = string(topic) + array([part])
    return (string(None) if version >= 3 else b"") + i16(acks) + i32(timeout) + array([t])


def metadata_body_v1(topics):
    return array([string(t) for t in topics])


def api_versions_request(corr=1, version=0):
    if version >= 3:
        return request(18, version, cstring("skiff") + cstring("1") + TAGS0, corr, flexible=True)
    return request(18, version, b"", corr)
