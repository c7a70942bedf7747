/* tests/unit/test_replication.c: the single-node metadata image and topic configs.
 * Topic-name and topic-config rules; create, reconfigure, grow and delete topics in a
 * temporary data dir; the image, cluster id and overrides survive a reopen; logs found
 * on disk but missing from the image are adopted; under flush.messages=1 the high
 * watermark waits for the fsync. No sockets, no threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "replication/replication.h"

typedef struct fixture {
    char dir[64];
    sk_log_config_t defaults;
    sk_logmgr_t *logs;
    sk_meta_t *meta;
} fixture_t;

static void
fx_open(fixture_t *f)
{
    sk_meta_options_t mo = {.node_id = 7, .data_dir = f->dir, .log_defaults = &f->defaults,
                            .max_message_bytes = 1048588};
    assert_int_equal(sk_logmgr_open(f->dir, &f->defaults, &f->logs), SK_OK);
    mo.logs = f->logs;
    assert_int_equal(sk_meta_open(&mo, &f->meta), SK_OK);
}

static void
append_value(sk_partition_t *p, const char *v, sk_append_info_t *info)
{
    sk_record_t rec;
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    uint8_t *b = NULL;
    size_t len;
    memset(&rec, 0, sizeof(rec));
    rec.timestamp = 1000;
    rec.key = (sk_bytes_t){NULL, -1};
    rec.value = (sk_bytes_t){(const uint8_t *)v, (int32_t)strlen(v)};
    assert_int_equal(sk_batch_build(&spec, &rec, 1, &b, &len), SK_OK);
    assert_int_equal(sk_partition_append(p, b, len, 1000, info), SK_OK);
    free(b);
}

static void
fx_close(fixture_t *f)
{
    sk_meta_close(f->meta);
    sk_logmgr_close(f->logs);
    f->meta = NULL;
    f->logs = NULL;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sk-test-repl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    sk_log_config_defaults(&f->defaults);
    f->defaults.segment_index_bytes = 4096;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];
    if (f->meta) fx_close(f);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void
test_topic_names(void **state)
{
    char long_name[300];
    (void)state;
    assert_true(sk_topic_name_valid("orders", 6));
    assert_true(sk_topic_name_valid("a.b_c-D9", 8));
    assert_false(sk_topic_name_valid("", 0));
    assert_false(sk_topic_name_valid(".", 1));
    assert_false(sk_topic_name_valid("..", 2));
    assert_false(sk_topic_name_valid("a/b", 3));
    assert_false(sk_topic_name_valid("a b", 3));
    memset(long_name, 'x', sizeof(long_name));
    assert_true(sk_topic_name_valid(long_name, 249));
    assert_false(sk_topic_name_valid(long_name, 250));
}

static void
test_topic_config_checks(void **state)
{
    char err[200];
    (void)state;
    assert_int_equal(sk_topic_config_check("retention.ms", "-1", err, sizeof(err)), SK_OK);
    assert_int_equal(sk_topic_config_check("retention.ms", "-2", err, sizeof(err)), SK_EINVAL);
    assert_int_equal(sk_topic_config_check("retention.ms", "12x", err, sizeof(err)), SK_EINVAL);
    assert_int_equal(sk_topic_config_check("segment.bytes", "1048575", err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, "at least 1048576"));
    assert_int_equal(sk_topic_config_check("segment.bytes", "3000000000", err, sizeof(err)), SK_EINVAL);
    assert_int_equal(sk_topic_config_check("cleanup.policy", "compact, delete", err, sizeof(err)), SK_OK);
    assert_int_equal(sk_topic_config_check("cleanup.policy", "shred", err, sizeof(err)), SK_EINVAL);
    assert_int_equal(sk_topic_config_check("message.timestamp.type", "LogAppendTime", err, sizeof(err)), SK_OK);
    assert_int_equal(sk_topic_config_check("min.cleanable.dirty.ratio", "1.5", err, sizeof(err)), SK_EINVAL);
    assert_int_equal(sk_topic_config_check("no.such.key", "1", err, sizeof(err)), SK_ENOENT);
    assert_non_null(strstr(err, "no.such.key"));
}

static void
test_create_configure_reopen(void **state)
{
    fixture_t *f = *state;
    sk_topic_cfg_t cfgs[] = {{"segment.bytes", "2097152"}, {"retention.ms", "1000"}};
    sk_topic_cfg_t cfgs2[] = {{"message.timestamp.type", "LogAppendTime"}};
    sk_topic_t *t;
    sk_uuid_t id;
    char cluster[23], err[200], buf[64];
    bool is_default;

    fx_open(f);
    snprintf(cluster, sizeof(cluster), "%s", sk_meta_cluster_id(f->meta));
    assert_int_equal(strlen(cluster), 22);
    assert_int_equal(sk_meta_topic_create(f->meta, "orders", 3, 1, cfgs, 2, &t, err, sizeof(err)), SK_OK);
    id = t->id;
    assert_false(sk_uuid_is_zero(&id));
    assert_int_equal(t->log_cfg.segment_bytes, 2097152);
    assert_ptr_equal(sk_meta_topic_by_id(f->meta, &id), t);
    assert_int_equal(sk_meta_topic_create(f->meta, "orders", 1, 1, NULL, 0, &t, err, sizeof(err)), SK_EEXIST);
    assert_string_equal(sk_topic_config_value(f->meta, t, "retention.ms", &is_default, buf, sizeof(buf)), "1000");
    assert_false(is_default);
    assert_string_equal(sk_topic_config_value(f->meta, t, "cleanup.policy", &is_default, buf, sizeof(buf)), "delete");
    assert_true(is_default);
    /* Replace overrides, grow, append. */
    assert_int_equal(sk_meta_topic_set_configs(f->meta, t, cfgs2, 1), SK_OK);
    assert_true(t->log_cfg.log_append_time);
    assert_int_equal(t->log_cfg.segment_bytes, f->defaults.segment_bytes);
    assert_int_equal(sk_meta_topic_add_partitions(f->meta, t, 5), SK_OK);
    for (int32_t i = 0; i < 5; i++) {
        assert_ptr_equal(t->partitions[i].topic, t);
        assert_int_equal(t->partitions[i].index, i);
        assert_non_null(t->partitions[i].log);
    }
    fx_close(f);

    fx_open(f);
    assert_string_equal(sk_meta_cluster_id(f->meta), cluster);
    t = sk_meta_topic(f->meta, "orders", 6);
    assert_non_null(t);
    assert_memory_equal(t->id.b, id.b, 16);
    assert_int_equal(t->partition_count, 5);
    assert_int_equal(t->config_count, 1);
    assert_true(t->log_cfg.log_append_time);
    assert_int_equal(t->partitions[4].leader_id, 7);
    assert_int_equal(sk_meta_topic_delete(f->meta, t), SK_OK);
    assert_null(sk_meta_topic(f->meta, "orders", 6));
    fx_close(f);
    fx_open(f);
    assert_int_equal(sk_meta_topic_count(f->meta), 0);
}

static void
test_adopts_logs_missing_from_image(void **state)
{
    fixture_t *f = *state;
    sk_topic_t *t;
    char path[128], err[200];
    sk_uuid_t id;

    fx_open(f);
    assert_int_equal(sk_meta_topic_create(f->meta, "lost", 2, 1, NULL, 0, &t, err, sizeof(err)), SK_OK);
    id = t->id;
    fx_close(f);
    snprintf(path, sizeof(path), "%s/skiff-topics", f->dir);
    assert_int_equal(unlink(path), 0);
    fx_open(f);
    t = sk_meta_topic(f->meta, "lost", 4);
    assert_non_null(t);
    assert_int_equal(t->partition_count, 2);
    assert_memory_equal(t->id.b, id.b, 16);
}

/* flush.messages=1: an appended batch is not below the high watermark (visible to
 * consumers) until the flusher has made it durable; other topics move at once. */
static void
test_strict_high_watermark_follows_fsync(void **state)
{
    fixture_t *f = *state;
    sk_topic_cfg_t strict[] = {{"flush.messages", "1"}};
    sk_topic_t *ts, *tl;
    sk_flusher_t *fl = NULL;
    sk_append_info_t ai;
    char err[200];

    fx_open(f);
    assert_int_equal(sk_flusher_new(false, NULL, NULL, &fl), SK_OK);
    sk_logmgr_set_flusher(f->logs, fl);
    assert_int_equal(sk_meta_topic_create(f->meta, "strict", 1, 1, strict, 1, &ts, err, sizeof(err)), SK_OK);
    assert_int_equal(sk_meta_topic_create(f->meta, "lazy", 1, 1, NULL, 0, &tl, err, sizeof(err)), SK_OK);
    sk_partition_t *ps = &ts->partitions[0], *pl = &tl->partitions[0];
    assert_true(sk_partition_strict(ps));
    assert_false(sk_partition_strict(pl));

    append_value(pl, "a", &ai);
    assert_int_equal(sk_partition_high_watermark(pl), 1);

    append_value(ps, "a", &ai);
    append_value(ps, "b", &ai);
    assert_true(ai.flush_wait);
    assert_int_equal(sk_log_end_offset(ps->log), 2);
    assert_int_equal(sk_partition_high_watermark(ps), 0); /* nothing durable yet */
    assert_false(sk_partition_durable_advance(ps));
    assert_true(sk_flusher_work(fl) > 0);
    sk_flusher_poll(fl);
    assert_int_equal(sk_log_durable_offset(ps->log), 2);
    assert_true(sk_partition_durable_advance(ps));
    assert_int_equal(sk_partition_high_watermark(ps), 2);
    assert_false(sk_partition_durable_advance(ps)); /* never moves back or twice */

    sk_logmgr_set_flusher(f->logs, NULL);
    sk_flusher_free(fl);
    fx_close(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_topic_config_checks),
        cmocka_unit_test_setup_teardown(test_create_configure_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopts_logs_missing_from_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_high_watermark_follows_fsync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
