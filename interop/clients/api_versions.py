#!/usr/bin/env python3
"""interop/clients/api_versions.py: which Kafka APIs a broker advertises.

Usage: api_versions.py <host:port>
Sends one ApiVersions v0 request (standard library only) and prints one line per
advertised API: "<name> <key> <min> <max>". Names follow the Kafka protocol; keys this
table does not know are printed as "Api<key>". Exit 1 if the broker does not answer
or answers with a non-zero error code. interop/matrix.sh uses the names to decide
which scenarios are "not yet" on a broker.
"""
import socket
import struct
import sys

NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
    9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
    13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
    17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
    21: "DeleteRecords", 22: "InitProducerId", 23: "OffsetForLeaderEpoch",
    24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn", 27: "WriteTxnMarkers",
    28: "TxnOffsetCommit", 29: "DescribeAcls", 32: "DescribeConfigs", 33: "AlterConfigs",
    36: "SaslAuthenticate", 37: "CreatePartitions", 42: "DeleteGroups",
    44: "IncrementalAlterConfigs", 47: "OffsetDelete", 60: "DescribeCluster",
    61: "DescribeProducers", 65: "DescribeTransactions", 66: "ListTransactions",
    68: "ConsumerGroupHeartbeat", 69: "ConsumerGroupDescribe",
}


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    client = b"skiff-matrix"
    body = struct.pack(">hhih", 18, 0, 1, len(client)) + client
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        if size < 10 or size > 1 << 20:
            print(f"api_versions: bad response size {size}", file=sys.stderr)
            return 1
        resp = recv_exact(s, size)
    corr, err, count = struct.unpack(">ihi", resp[:10])
    if corr != 1 or err != 0 or count < 0 or 10 + 6 * count > len(resp):
        print(f"api_versions: correlation {corr} error {err} count {count}", file=sys.stderr)
        return 1
    for i in range(count):
        key, vmin, vmax = struct.unpack(">hhh", resp[10 + 6 * i:16 + 6 * i])
        print(f"{NAMES.get(key, f'Api{key}')} {key} {vmin} {vmax}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, struct.error) as e:
        print(f"api_versions: {e}", file=sys.stderr)
        sys.exit(1)
