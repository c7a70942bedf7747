/* tests/fuzz/fuzz_segment_recover.c: libFuzzer target for crash recovery of a partition
 * log (storage/recovery.c, segment.c, index.c). Byte 0 picks the index interval (bit 0:
 * 64 bytes, so small inputs fill the index, or the default 4096); the rest is written as
 * segment 00000000000000000000.log of a partition directory on tmpfs, which is then
 * opened as after an unclean stop (no index, no checkpoints). Required:
 *   - opening succeeds: bad bytes cost a truncated tail, never a failed start;
 *   - what is left is a prefix of the input made of whole magic-2 batches, each with a
 *     sane header and a correct CRC-32C, offsets contiguous from 0, and the log end
 *     offset is the last batch's last offset + 1 (checked here independently of the
 *     storage code, with protocol's header parser);
 *   - sk_log_verify holds; reading from offset 0 returns the first batch;
 *   - a new batch appends at the log end offset; after a clean close and reopen (which
 *     trusts the rebuilt indexes) the log end offset is the same. */
#include "storage/storage_int.h"
#include "fuzz_util.h"

#include <sys/stat.h>

static char g_dir[512];

static void
dir_reset(void)
{
    if (!g_dir[0]) snprintf(g_dir, sizeof(g_dir), "%s/t-0", fuzz_tmpdir());
    fuzz_dir_clear(g_dir);
}

/* The valid prefix by the format's rules; returns its length and the next offset. */
static size_t
reference_prefix(const uint8_t *p, size_t len, int64_t *next_offset)
{
    size_t pos = 0;
    *next_offset = 0;
    while (len - pos >= SK_BATCH_HEADER_SIZE) {
        sk_batch_hdr_t h;
        if (sk_batch_hdr_parse(p + pos, len - pos, &h) != SK_OK) break;
        size_t total = (size_t)h.batch_length + SK_LOG_OVERHEAD;
        if (total > len - pos || h.base_offset != *next_offset || h.last_offset_delta < 0) break;
        if (h.records_count < 0 || h.records_count > h.last_offset_delta + 1) break;
        if (h.base_offset + h.last_offset_delta > INT32_MAX) break;
        if (!sk_batch_crc_ok(p + pos, total)) break;
        *next_offset = h.base_offset + h.last_offset_delta + 1;
        pos += total;
    }
    return pos;
}

static void
check_file_prefix(const uint8_t *data, size_t prefix)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof(path), "%s/00000000000000000000.log", g_dir);
    SK_ASSERT(stat(path, &st) == 0 && (size_t)st.st_size == prefix);
    if (prefix == 0) return;
    uint8_t *buf = malloc(prefix);
    int fd = open(path, O_RDONLY);
    SK_ASSERT(buf && fd >= 0 && pread(fd, buf, prefix, 0) == (ssize_t)prefix);
    SK_ASSERT(memcmp(buf, data, prefix) == 0);
    close(fd);
    free(buf);
}

static void
append_one(sk_log_t *log)
{
    sk_record_t rec = {.timestamp = 1000, .key = {NULL, -1}, .value = {(const uint8_t *)"v", 1}};
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    sk_append_info_t info;
    uint8_t *b = NULL;
    size_t blen = 0;
    int64_t leo = sk_log_end_offset(log);

    SK_ASSERT(sk_batch_build(&spec, &rec, 1, &b, &blen) == SK_OK);
    SK_ASSERT(sk_log_append(log, b, blen, 0, 2000, &info) == SK_OK);
    SK_ASSERT(info.base_offset == leo && sk_log_end_offset(log) == leo + 1);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_log_config_t cfg;
    sk_log_t *log = NULL;
    sk_log_slice_t sl = {0};
    char path[700];
    int64_t want_leo;

    if (size < 1) return 0;
    sk_log_config_defaults(&cfg);
    cfg.segment_index_bytes = 4096;
    cfg.index_interval_bytes = (data[0] & 1) ? 64 : 4096;
    data++;
    size--;
    dir_reset();
    snprintf(path, sizeof(path), "%s/00000000000000000000.log", g_dir);
    fuzz_write_file(path, data, size);

    sk_log_open_args_t a = {.dir = g_dir, .topic = "t", .partition = 0, .cfg = &cfg, .clean = false,
                            .recovery_point = -1, .start_offset = -1, .hw = -1};
    SK_ASSERT(sk_log_open(&a, &log) == SK_OK);
    size_t prefix = reference_prefix(data, size, &want_leo);
    SK_ASSERT(sk_log_end_offset(log) == want_leo);
    SK_ASSERT(sk_log_size_bytes(log) == (int64_t)prefix);
    check_file_prefix(data, prefix);
    sk_log_verify(log);
    SK_ASSERT(sk_log_read(log, 0, 1 << 20, INT64_MAX, true, &sl) == SK_OK);
    SK_ASSERT(prefix == 0 ? sl.len == 0 : sl.len > 0 && sl.pos == 0 && (size_t)sl.len <= prefix);
    sk_log_slice_release(&sl);

    append_one(log);
    sk_log_verify(log);
    SK_ASSERT(sk_log_close(log, true) == SK_OK);
    a.clean = true;
    log = NULL;
    SK_ASSERT(sk_log_open(&a, &log) == SK_OK);
    SK_ASSERT(sk_log_end_offset(log) == want_leo + 1);
    sk_log_verify(log);
    sk_log_close(log, false);
    return 0;
}
