/* tests/unit/test_storage_index.c: the offset and time index files: an active index is
 * sparse (a fresh partition costs no index space on disk), blocks are allocated ahead of
 * the entries written through the mapping, and a sealed one is trimmed to its entries. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/storage_int.h"

#define MAX_BYTES (10 * 1024 * 1024)

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/sk-index-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof(f->path), "%s/00000000000000000000.index", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t
disk_bytes(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int64_t)st.st_blocks * 512;
}

static int64_t
file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int64_t)st.st_size;
}

static void
test_offset_index_sparse_then_allocated(void **state)
{
    fixture_t *f = *state;
    sk_index_t ix;
    assert_int_equal(sk_index_open(&ix, f->path, SK_OFFIDX_ENTRY_SIZE, MAX_BYTES, true), SK_OK);
    assert_int_equal(file_size(f->path), MAX_BYTES);
    assert_true(disk_bytes(f->path) < 64 * 1024); /* sparse: nothing allocated yet */

    /* More entries than one allocation step holds. */
    int32_t n = (int32_t)(3 * SK_INDEX_ALLOC_BYTES / SK_OFFIDX_ENTRY_SIZE) + 17;
    for (int32_t i = 0; i < n; i++) sk_index_append_off(&ix, (uint32_t)i * 3, (uint32_t)i * 4096);
    assert_int_equal(ix.entries, n);
    int64_t used = (int64_t)n * SK_OFFIDX_ENTRY_SIZE;
    assert_true(disk_bytes(f->path) >= used);
    assert_true(disk_bytes(f->path) <= used + 2 * (int64_t)SK_INDEX_ALLOC_BYTES);
    for (int32_t i = 0; i < n; i += 997) {
        uint32_t rel, pos;
        sk_index_entry_off(&ix, i, &rel, &pos);
        assert_int_equal(rel, (uint32_t)i * 3);
        assert_int_equal(pos, (uint32_t)i * 4096);
    }
    assert_int_equal(sk_index_find_off(&ix, 3 * 1000 + 1), 1000);

    assert_int_equal(sk_index_trim(&ix), SK_OK);
    assert_int_equal(file_size(f->path), used);
    sk_index_close(&ix);

    /* Reopened read-only, the entries are the file's. */
    assert_int_equal(sk_index_open(&ix, f->path, SK_OFFIDX_ENTRY_SIZE, MAX_BYTES, false), SK_OK);
    assert_int_equal(ix.entries, n);
    uint32_t rel, pos;
    sk_index_entry_off(&ix, n - 1, &rel, &pos);
    assert_int_equal(rel, (uint32_t)(n - 1) * 3);
    sk_index_close(&ix);
}

static void
test_time_index_allocates_as_it_grows(void **state)
{
    fixture_t *f = *state;
    sk_index_t ix;
    assert_int_equal(sk_index_open(&ix, f->path, SK_TIMEIDX_ENTRY_SIZE, MAX_BYTES, true), SK_OK);
    assert_true(disk_bytes(f->path) < 64 * 1024);
    int32_t n = (int32_t)(2 * SK_INDEX_ALLOC_BYTES / SK_TIMEIDX_ENTRY_SIZE) + 5;
    for (int32_t i = 0; i < n; i++) sk_index_append_time(&ix, 1000000 + (int64_t)i * 10, (uint32_t)i);
    assert_true(disk_bytes(f->path) >= (int64_t)n * SK_TIMEIDX_ENTRY_SIZE);
    int64_t ts;
    uint32_t rel;
    int32_t at = sk_index_find_time(&ix, 1000000 + 10 * 5000 + 3);
    assert_int_equal(at, 5000);
    sk_index_entry_time(&ix, at, &ts, &rel);
    assert_int_equal(ts, 1000000 + 10 * 5000);
    assert_int_equal(rel, 5000);
    sk_index_close(&ix);
}

/* A log with many partitions costs little index space before it holds records. */
static void
test_empty_partitions_cost_no_index_space(void **state)
{
    fixture_t *f = *state;
    sk_log_config_t cfg;
    sk_log_config_defaults(&cfg);
    sk_logmgr_t *mgr = NULL;
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/data", f->dir);
    assert_int_equal(sk_logmgr_open(dir, &cfg, &mgr), SK_OK);
    sk_uuid_t id = {{0}};
    id.b[0] = 7;
    for (int32_t p = 0; p < 20; p++) {
        sk_log_t *log = NULL;
        assert_int_equal(sk_logmgr_create(mgr, "t", p, &id, NULL, &log), SK_OK);
    }
    int64_t total = 0;
    for (int32_t p = 0; p < 20; p++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/t-%d/00000000000000000000.index", dir, p);
        assert_int_equal(file_size(path), cfg.segment_index_bytes);
        total += disk_bytes(path);
        snprintf(path, sizeof(path), "%s/t-%d/00000000000000000000.timeindex", dir, p);
        total += disk_bytes(path);
    }
    assert_true(total < 20 * 2 * 64 * 1024); /* not 20 x 2 x 10 MiB */
    for (int32_t p = 0; p < 20; p++) assert_int_equal(sk_logmgr_delete(mgr, "t", p), SK_OK);
    sk_logmgr_close(mgr);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offset_index_sparse_then_allocated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_index_allocates_as_it_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_partitions_cost_no_index_space, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
