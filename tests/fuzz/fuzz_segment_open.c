/* tests/fuzz/fuzz_segment_open.c: libFuzzer target for opening a partition log after a
 * clean stop (storage/recovery.c, segment.c, index.c), when the indexes on disk are
 * trusted instead of rebuilt. Input: u16 length and bytes of the .index file, u16 length
 * and bytes of the .timeindex file, then the .log file (segment 0 of a partition
 * directory on tmpfs). Indexes and log may disagree in any way. Required:
 *   - opening either fails with an error code or succeeds; never a crash, an
 *     out-of-bounds read or an assertion on these bytes;
 *   - after a successful open the log's invariants hold (sk_log_verify): the loader
 *     must not trust an index that points outside its segment or breaks ordering;
 *   - reading from offsets across the log returns a slice inside the file, or
 *     SK_ECORRUPT where a trusted index entry points into a batch; time lookups and
 *     the max-timestamp lookup return without harm;
 *   - a new batch appends at the log end offset and the invariants still hold. */
#include "storage/storage_int.h"
#include "fuzz_util.h"

#include <sys/stat.h>

static char g_dir[512];

static void
dir_reset(void)
{
    if (!g_dir[0]) snprintf(g_dir, sizeof(g_dir), "%s/o-0", fuzz_tmpdir());
    fuzz_dir_clear(g_dir);
}

/* Take a u16-length-prefixed part of the input; false if the input is too short. */
static bool
take_part(const uint8_t **data, size_t *size, const uint8_t **part, size_t *len)
{
    if (*size < 2) return false;
    size_t n = sk_be16(*data);
    if (*size - 2 < n) return false;
    *part = *data + 2;
    *len = n;
    *data += 2 + n;
    *size -= 2 + n;
    return true;
}

static void
write_part(const char *name, const uint8_t *p, size_t n)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    fuzz_write_file(path, p, n);
}

static void
read_everything(sk_log_t *log)
{
    int64_t start = sk_log_start_offset(log), leo = sk_log_end_offset(log);
    int64_t off = start, ts = 0, found = 0, size = sk_log_size_bytes(log);
    int steps = 0;

    while (off < leo && steps++ < 256) {
        sk_log_slice_t sl = {0};
        struct stat st;
        int rc = sk_log_read(log, off, 1 << 20, INT64_MAX, true, &sl);
        /* A trusted index entry may point into the middle of a batch: the read then
         * fails as corrupt (a fetch answers KAFKA_STORAGE_ERROR), never returns junk. */
        SK_ASSERT(rc == SK_OK || rc == SK_ECORRUPT);
        if (rc != SK_OK) {
            off += 1 + (leo - start) / 64;
            continue;
        }
        if (sl.len == 0) break;
        SK_ASSERT(sl.file && fstat(sl.file->fd, &st) == 0);
        SK_ASSERT(sl.pos >= 0 && sl.pos + sl.len <= st.st_size && sl.pos + sl.len <= size);
        sk_log_slice_release(&sl);
        off += 1 + (leo - start) / 64; /* a spread of offsets, not all of them */
    }
    (void)sk_log_offset_for_time(log, 0, &found, &ts);
    (void)sk_log_offset_for_time(log, INT64_MAX / 2, &found, &ts);
    (void)sk_log_max_timestamp(log, &found, &ts);
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
    int rc = sk_log_append(log, b, blen, 0, 2000, &info);
    free(b);
    if (rc == SK_ELIMIT) return; /* offsets would not fit the segment: refused, fine */
    SK_ASSERT(rc == SK_OK && info.base_offset == leo && sk_log_end_offset(log) == leo + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *oidx, *tidx;
    size_t oidx_len, tidx_len;
    sk_log_config_t cfg;
    sk_log_t *log = NULL;

    if (!take_part(&data, &size, &oidx, &oidx_len) || !take_part(&data, &size, &tidx, &tidx_len)) return 0;
    dir_reset();
    write_part("00000000000000000000.index", oidx, oidx_len);
    write_part("00000000000000000000.timeindex", tidx, tidx_len);
    write_part("00000000000000000000.log", data, size);
    sk_log_config_defaults(&cfg);
    cfg.segment_index_bytes = 4096;
    cfg.index_interval_bytes = 64;
    sk_log_open_args_t a = {.dir = g_dir, .topic = "o", .partition = 0, .cfg = &cfg, .clean = true,
                            .recovery_point = -1, .start_offset = -1, .hw = -1};
    if (sk_log_open(&a, &log) != SK_OK) return 0;
    sk_log_verify(log);
    read_everything(log);
    append_one(log);
    sk_log_verify(log);
    sk_log_close(log, false);
    return 0;
}
