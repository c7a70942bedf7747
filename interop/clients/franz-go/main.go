// interop/clients/franz-go/main.go: the interop matrix driver for franz-go (kgo and
// kadm, pinned in go.mod), built by interop/clients/matrix-lib.sh.
//
//	franz-go-driver <bootstrap> <scenario> <topic-prefix>
//
// Implements interop/scenarios/scenarios.txt with the client's defaults except where a
// scenario names a setting; ends with exactly one PASS/FAIL line (exit 0/1). Every
// wait is bounded by a context deadline.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	boot, scn, prefix string
	records           int
)

func fail(format string, a ...any) error { return fmt.Errorf(format, a...) }

func client(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(boot)}, opts...)...)
	if err != nil {
		fmt.Printf("FAIL %s: client: %v\n", scn, err)
		os.Exit(1)
	}
	return cl
}

func withTimeout(s int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Duration(s)*time.Second)
}

func leaders(adm *kadm.Client, topic string) int {
	ctx, cancel := withTimeout(10)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return -1
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return -1
	}
	n := 0
	for _, p := range td.Partitions {
		if p.Leader >= 0 {
			n++
		}
	}
	return n
}

func createTopic(topic string, partitions int) error {
	cl := client()
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := withTimeout(20)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fail("CreateTopics %s: %v", topic, err)
	}
	n := -1
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		if n = leaders(adm, topic); n == partitions {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fail("Metadata for %s: %d partitions with leaders, want %d", topic, n, partitions)
}

func produce(recs []*kgo.Record, opts ...kgo.Opt) error {
	cl := client(append([]kgo.Opt{kgo.ProducerLinger(20 * time.Millisecond)}, opts...)...)
	defer cl.Close()
	ctx, cancel := withTimeout(30)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fail("Produce: %v", err)
	}
	return nil
}

// readAll assigns partitions 0..n-1 from offset 0 and reads until expect records, then
// half a second more; sorted by partition and offset
func readAll(topic string, partitions, expect int, opts ...kgo.Opt) ([]*kgo.Record, error) {
	offs := map[int32]kgo.Offset{}
	for p := 0; p < partitions; p++ {
		offs[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl := client(append([]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs})}, opts...)...)
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	var tail time.Time
	for {
		end := deadline
		if !tail.IsZero() {
			end = tail
		}
		if !time.Now().Before(end) {
			break
		}
		ctx, cancel := context.WithDeadline(context.Background(), end)
		fs := cl.PollFetches(ctx)
		cancel()
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return nil, fail("Fetch error: %v", fe.Err)
			}
		}
		out = append(out, fs.Records()...)
		if len(out) >= expect && tail.IsZero() {
			tail = time.Now().Add(500 * time.Millisecond)
		}
	}
	if len(out) != expect {
		return nil, fail("Fetch: read %d records from %s, want %d", len(out), topic, expect)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

func metadataAdmin() (string, error) {
	t := prefix + "-adm"
	if err := createTopic(t, 3); err != nil {
		return "", err
	}
	cl := client()
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := withTimeout(30)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 3, 1, nil, t)
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		return "", fail("CreateTopics duplicate: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	dr, err := adm.DeleteTopics(ctx, t)
	if err == nil {
		err = dr.Error()
	}
	if err != nil {
		return "", fail("DeleteTopics: %v", err)
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		md, err := adm.Metadata(ctx)
		if err == nil {
			if _, ok := md.Topics[t]; !ok {
				return "create 3 partitions, duplicate -> TOPIC_ALREADY_EXISTS, delete", nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fail("Metadata still lists the topic 15 s after DeleteTopics")
}

func produceConsume() (string, error) {
	t := prefix + "-pc"
	if err := createTopic(t, 1); err != nil {
		return "", err
	}
	var recs []*kgo.Record
	for i := 0; i < records; i++ {
		recs = append(recs, &kgo.Record{Topic: t, Partition: 0, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := produce(recs, kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		return "", err
	}
	got, err := readAll(t, 1, records)
	if err != nil {
		return "", err
	}
	for i, r := range got {
		if r.Offset != int64(i) || string(r.Key) != fmt.Sprintf("k%d", i) || string(r.Value) != fmt.Sprintf("v%d", i) {
			return "", fail("record %d: offset %d key %s value %s", i, r.Offset, r.Key, r.Value)
		}
	}
	return fmt.Sprintf("%d records in order at offsets 0..%d", records, records-1), nil
}

func keyedScenario(suffix string, partitions, nkeys int, opts ...kgo.Opt) (string, error) {
	t := prefix + "-" + suffix
	if err := createTopic(t, partitions); err != nil {
		return "", err
	}
	var recs []*kgo.Record
	for i := 0; i < records; i++ {
		k := fmt.Sprintf("key-%d", i%nkeys)
		recs = append(recs, &kgo.Record{Topic: t, Key: []byte(k), Value: []byte(fmt.Sprintf("%s#%d", k, i/nkeys))})
	}
	if err := produce(recs, opts...); err != nil {
		return "", err
	}
	got, err := readAll(t, partitions, records)
	if err != nil {
		return "", err
	}
	where, next, used := map[string]int32{}, map[string]int{}, map[int32]bool{}
	for _, r := range got {
		k := string(r.Key)
		if p, ok := where[k]; ok && p != r.Partition {
			return "", fail("key %s in partitions %d and %d", k, p, r.Partition)
		}
		where[k] = r.Partition
		used[r.Partition] = true
		if want := fmt.Sprintf("%s#%d", k, next[k]); string(r.Value) != want {
			return "", fail("key %s p%d@%d: %s, want %s", k, r.Partition, r.Offset, r.Value, want)
		}
		next[k]++
	}
	return fmt.Sprintf("%d records, %d keys over %d partitions, per-key order kept", records, nkeys, len(used)), nil
}

func headersNulls() (string, error) {
	t := prefix + "-hdr"
	if err := createTopic(t, 1); err != nil {
		return "", err
	}
	hdrs := []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h2", Value: []byte{0, 0xff, 0x7f}},
		{Key: "h1", Value: []byte("b")}, {Key: "empty", Value: []byte{}}}
	recs := []*kgo.Record{
		{Topic: t, Value: []byte("v0")}, {Topic: t, Key: []byte("k1")}, {Topic: t},
		{Topic: t, Key: []byte("k3"), Value: []byte("v3"), Headers: hdrs},
	}
	if err := produce(recs, kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		return "", err
	}
	got, err := readAll(t, 1, 4)
	if err != nil {
		return "", err
	}
	want := [][2]*string{{nil, ptr("v0")}, {ptr("k1"), nil}, {nil, nil}, {ptr("k3"), ptr("v3")}}
	for i, r := range got {
		if !bytesIs(r.Key, want[i][0]) || !bytesIs(r.Value, want[i][1]) {
			return "", fail("record %d: key %q (nil %v) value %q (nil %v)", i, r.Key, r.Key == nil, r.Value, r.Value == nil)
		}
		if i < 3 && len(r.Headers) != 0 {
			return "", fail("record %d has headers", i)
		}
	}
	h := got[3].Headers
	ok := len(h) == 4
	for i := 0; ok && i < 4; i++ {
		ok = h[i].Key == hdrs[i].Key && string(h[i].Value) == string(hdrs[i].Value) && h[i].Value != nil
	}
	if !ok {
		return "", fail("record 3 headers %v", h)
	}
	return "null key/value stay null, 4 headers in order with duplicate and empty value", nil
}

func ptr(s string) *string { return &s }

func bytesIs(b []byte, s *string) bool {
	if s == nil {
		return b == nil
	}
	return b != nil && string(b) == *s
}

func compression(codec string) (string, error) {
	t := prefix + "-z"
	if err := createTopic(t, 1); err != nil {
		return "", err
	}
	c := map[string]kgo.CompressionCodec{"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[codec]
	xs := strings.Repeat("x", 100)
	var recs []*kgo.Record
	for i := 0; i < records; i++ {
		recs = append(recs, &kgo.Record{Topic: t, Value: []byte(fmt.Sprintf("value-%d-%s", i, xs))})
	}
	if err := produce(recs, kgo.ProducerBatchCompression(c), kgo.ProducerLinger(50*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		return "", err
	}
	got, err := readAll(t, 1, records)
	if err != nil {
		return "", err
	}
	for i, r := range got {
		if string(r.Value) != fmt.Sprintf("value-%d-%s", i, xs) {
			return "", fail("record %d: value differs", i)
		}
	}
	return fmt.Sprintf("%d %s records read back in order", records, codec), nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: franz-go-driver <bootstrap> <scenario> <topic-prefix>")
		os.Exit(2)
	}
	boot, scn, prefix = os.Args[1], os.Args[2], os.Args[3]
	records = 1000
	if n, err := strconv.Atoi(os.Getenv("SCN_RECORDS")); err == nil {
		records = n
	}
	var detail string
	var err error
	switch {
	case scn == "metadata_admin":
		detail, err = metadataAdmin()
	case scn == "produce_consume":
		detail, err = produceConsume()
	case scn == "keyed_6p":
		detail, err = keyedScenario("keyed", 6, 24)
	case scn == "headers_nulls":
		detail, err = headersNulls()
	case strings.HasPrefix(scn, "compression_"):
		detail, err = compression(strings.TrimPrefix(scn, "compression_"))
	case scn == "idempotent":
		detail, err = keyedScenario("idem", 3, 30) // idempotence is franz-go's default
	case scn == "group_commit":
		detail, err = groupCommit()
	case scn == "transactions":
		detail, err = transactions()
	default:
		err = fail("unknown scenario")
	}
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", scn, err)
		os.Exit(1)
	}
	fmt.Printf("PASS %s: %s\n", scn, detail)
}
