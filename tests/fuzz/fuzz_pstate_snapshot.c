/* tests/fuzz/fuzz_pstate_snapshot.c: libFuzzer target for the producer-state snapshot
 * parser (storage/producer_state.c, sk_pstate_snapshot_parse). The input is the whole
 * content of a <offset>.snapshot file (layout in docs/idempotence.md).
 * Required: no crash, leak or out-of-bounds read; an accepted snapshot holds only
 * producers with id >= 0 and epoch >= 0, each with at most one retained batch whose
 * offsets and sequences are consistent, and survives write-then-parse unchanged
 * (same producers, epochs, last sequences and offsets). */
#include "storage/storage_int.h"
#include "fuzz_util.h"

static void
check_entry(const sk_pentry_t *e)
{
    SK_ASSERT(e->producer_id >= 0 && e->epoch >= 0);
    SK_ASSERT(e->batch_count == 0 || e->batch_count == 1);
    if (e->batch_count == 1) {
        const sk_pbatch_t *b = &e->batches[0];
        SK_ASSERT(b->first_offset >= 0 && b->first_offset <= b->last_offset);
        SK_ASSERT(b->last_seq >= 0);
    }
}

/* Every producer of a is in b with the same fields that a snapshot carries. */
static void
check_same(const sk_pstate_t *a, const sk_pstate_t *b)
{
    sk_map_entry_t *me;
    SK_ASSERT(a->producers.count == b->producers.count);
    for (size_t i = 0; sk_map_next(&a->producers, &i, &me);) {
        const sk_pentry_t *e = me->value, *f = sk_pstate_get(b, e->producer_id);
        check_entry(e);
        SK_ASSERT(f != NULL);
        SK_ASSERT(f->epoch == e->epoch && f->batch_count == e->batch_count);
        SK_ASSERT(f->coordinator_epoch == e->coordinator_epoch && f->txn_first_offset == e->txn_first_offset);
        if (e->batch_count == 1) {
            SK_ASSERT(f->batches[0].last_seq == e->batches[0].last_seq);
            SK_ASSERT(f->batches[0].first_offset == e->batches[0].first_offset);
            SK_ASSERT(f->batches[0].last_offset == e->batches[0].last_offset);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_pstate_t ps, back;
    sk_pstate_init(&ps);
    sk_pstate_init(&back);
    if (sk_pstate_snapshot_parse(&ps, data, size) == SK_OK) {
        const char *dir = fuzz_tmpdir();
        char path[SK_PATH_MAX];
        char *file = NULL;
        size_t len = 0;
        SK_ASSERT(sk_pstate_snapshot_write(&ps, dir, 0, false) == SK_OK);
        snprintf(path, sizeof(path), "%s/00000000000000000000.snapshot", dir);
        SK_ASSERT(sk_read_file(path, (size_t)1 << 30, &file, &len) == SK_OK);
        SK_ASSERT(sk_pstate_snapshot_parse(&back, (const uint8_t *)file, len) == SK_OK);
        check_same(&ps, &back);
        free(file);
        unlink(path);
    }
    sk_pstate_deinit(&back);
    sk_pstate_deinit(&ps);
    return 0;
}
