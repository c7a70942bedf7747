// interop/clients/franz-go/group.go: the group_commit and transactions scenarios of
// the franz-go matrix driver (see main.go and interop/scenarios/scenarios.txt).
package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func rangeRecs(t string, lo, hi int) []*kgo.Record {
	var recs []*kgo.Record
	for i := lo; i < hi; i++ {
		recs = append(recs, &kgo.Record{Topic: t, Partition: int32(i % 4), Value: []byte(fmt.Sprintf("r%d", i))})
	}
	return recs
}

// owned tracks a group member's assignment through the rebalance callbacks
type owned struct {
	mu    sync.Mutex
	parts map[int32]bool
}

func (o *owned) get() map[int32]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[int32]bool{}
	for p := range o.parts {
		out[p] = true
	}
	return out
}

func (o *owned) update(add bool, m map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ps := range m {
		for _, p := range ps {
			if add {
				o.parts[p] = true
			} else {
				delete(o.parts, p)
			}
		}
	}
}

var members = map[*kgo.Client]*owned{}

func groupConsumer(name, topic string) *kgo.Client {
	o := &owned{parts: map[int32]bool{}}
	c := client(kgo.ConsumerGroup(prefix+"-g"), kgo.ConsumeTopics(topic), kgo.ClientID(name),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.update(true, m) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.update(false, m) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.update(false, m) }))
	members[c] = o
	return c
}

// pollValues polls the consumers round robin until want values or timeout
func pollValues(cs []*kgo.Client, want int, timeout time.Duration) ([]string, error) {
	var got []string
	for deadline := time.Now().Add(timeout); len(got) < want && time.Now().Before(deadline); {
		for _, c := range cs {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			fs := c.PollFetches(ctx)
			cancel()
			for _, fe := range fs.Errors() {
				if fe.Err != context.DeadlineExceeded && fe.Err != context.Canceled {
					return got, fail("consumer: %v", fe.Err)
				}
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
	}
	return got, nil
}

func sameSet(got []string, lo, hi int) bool {
	if len(got) != hi-lo {
		return false
	}
	var want []string
	for i := lo; i < hi; i++ {
		want = append(want, fmt.Sprintf("r%d", i))
	}
	g := append([]string(nil), got...)
	sort.Strings(g)
	sort.Strings(want)
	for i := range g {
		if g[i] != want[i] {
			return false
		}
	}
	return true
}

func assigned(c *kgo.Client, _ string) map[int32]bool { return members[c].get() }

func commit(c *kgo.Client, who string) error {
	ctx, cancel := withTimeout(20)
	defer cancel()
	if err := c.CommitUncommittedOffsets(ctx); err != nil {
		return fail("OffsetCommit by %s: %v", who, err)
	}
	return nil
}

func groupCommit() (string, error) {
	t := prefix + "-grp"
	if err := createTopic(t, 4); err != nil {
		return "", err
	}
	manual := kgo.RecordPartitioner(kgo.ManualPartitioner())
	if err := produce(rangeRecs(t, 0, 400), manual); err != nil {
		return "", err
	}
	a := groupConsumer("A", t)
	got, err := pollValues([]*kgo.Client{a}, 400, 45*time.Second)
	if err != nil || !sameSet(got, 0, 400) {
		return "", fail("step 1: A read %d records, want the 400 produced (%v)", len(got), err)
	}
	if err := commit(a, "A"); err != nil {
		return "", err
	}
	b := groupConsumer("B", t)
	var pa, pb map[int32]bool
	ok := false
	for deadline := time.Now().Add(45 * time.Second); !ok && time.Now().Before(deadline); {
		extra, err := pollValues([]*kgo.Client{a, b}, 1, 400*time.Millisecond)
		if err != nil || len(extra) > 0 {
			return "", fail("step 2: committed records delivered again: %v (%v)", extra, err)
		}
		pa, pb = assigned(a, t), assigned(b, t)
		ok = len(pa) > 0 && len(pb) > 0 && len(pa)+len(pb) == 4
		for p := range pa {
			ok = ok && !pb[p]
		}
	}
	if !ok {
		return "", fail("step 2: no rebalance to two members: A %v, B %v", pa, pb)
	}
	if err := produce(rangeRecs(t, 400, 440), manual); err != nil {
		return "", err
	}
	got, err = pollValues([]*kgo.Client{a, b}, 40, 45*time.Second)
	if err != nil || !sameSet(got, 400, 440) {
		return "", fail("step 3: A+B read %d records, want exactly r400..r439 (%v)", len(got), err)
	}
	if err := commit(a, "A"); err != nil {
		return "", err
	}
	if err := commit(b, "B"); err != nil {
		return "", err
	}
	a.Close()
	b.Close()
	if err := produce(rangeRecs(t, 440, 448), manual); err != nil {
		return "", err
	}
	c := groupConsumer("C", t)
	defer c.Close()
	got, err = pollValues([]*kgo.Client{c}, 8, 45*time.Second)
	more, _ := pollValues([]*kgo.Client{c}, 1, time.Second)
	got = append(got, more...)
	if err != nil || !sameSet(got, 440, 448) {
		return "", fail("step 4: C read %v, want exactly r440..r447 (%v)", got, err)
	}
	return fmt.Sprintf("rebalance A=%v B=%v, commits resumed by C", keys(pa), keys(pb)), nil
}

func keys(m map[int32]bool) []int32 {
	var out []int32
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func transactions() (string, error) {
	t := prefix + "-txn"
	if err := createTopic(t, 1); err != nil {
		return "", err
	}
	p := client(kgo.TransactionalID(prefix+"-tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer p.Close()
	for k, tag := range []string{"c1", "a", "c2"} {
		if err := p.BeginTransaction(); err != nil {
			return "", fail("begin: %v", err)
		}
		var recs []*kgo.Record
		for i := 0; i < 10; i++ {
			recs = append(recs, &kgo.Record{Topic: t, Value: []byte(fmt.Sprintf("%s-%d", tag, i))})
		}
		ctx, cancel := withTimeout(30)
		err := p.ProduceSync(ctx, recs...).FirstErr()
		if err == nil {
			err = p.EndTransaction(ctx, kgo.TransactionEndTry(k != 1))
		}
		cancel()
		if err != nil {
			return "", fail("transaction %s: %v", tag, err)
		}
	}
	got, err := readAll(t, 1, 20, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return "", err
	}
	for i, r := range got {
		tag := "c1"
		if i >= 10 {
			tag = "c2"
		}
		if want := fmt.Sprintf("%s-%d", tag, i%10); string(r.Value) != want {
			return "", fail("read_committed record %d is %s, want %s", i, r.Value, want)
		}
	}
	return "read_committed sees the two committed transactions only, in order", nil
}
