/* tests/crash/recovery_time.c: measures how long opening a data dir takes after a crash,
 * for one large partition log written through the storage API (not a test: it prints
 * figures; tests/crash/recovery_time.sh builds and runs it).
 *
 *   recovery_time <empty dir> [size MiB (default 1024)] [batch bytes (default 16384)]
 *
 * Writes <size> MiB of uncompressed batches of about <batch bytes> each (records of
 * 100 bytes) to partition "big-0" with 1 GiB segments, every batch from one of 8
 * idempotent producers, then times sk_logmgr_open on that dir in three states:
 *   full   crash with no recovery-point checkpoint: every batch after offset 0 is
 *          re-validated (CRC-32C), indexes and producer state rebuilt (the worst case);
 *   tail   crash after a flush and checkpoint of all but the last 1% of the log: only
 *          what follows the recovery point is re-validated (the usual case);
 *   clean  after a clean shutdown: indexes, sizes and the producer snapshot trusted.
 * The writer is a child process that exits without closing anything, as kill -9 would
 * leave it; "tail" rewrites the recovery-point checkpoint and drops the snapshots above
 * it. The page cache is warm (the data was just written): the figures are CPU and
 * syscall bound, a cold cache adds the time to read the re-validated bytes.
 * Prints one line per state: seconds, MiB/s re-validated, batches and producers. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/storage_int.h"

#define PRODUCERS 8
#define RECORD_VALUE_BYTES 100

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t *
make_batch(int32_t records, int64_t pid, int32_t seq, size_t *len)
{
    static sk_record_t recs[4096];
    static uint8_t value[RECORD_VALUE_BYTES];
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = pid, .producer_epoch = 0, .base_sequence = seq,
                            .partition_leader_epoch = 0};
    uint8_t *out = NULL;

    memset(value, 'r', sizeof(value));
    for (int32_t i = 0; i < records; i++) {
        recs[i] = (sk_record_t){.timestamp = sk_wall_ms(), .key = {NULL, -1}, .value = {value, RECORD_VALUE_BYTES}};
    }
    if (sk_batch_build(&spec, recs, records, &out, len) != SK_OK) exit(2);
    return out;
}

static void
write_log(const char *dir, int64_t size_bytes, int32_t batch_bytes, sk_logmgr_t **mgr_out, sk_log_t **log_out)
{
    sk_log_config_t cfg;
    sk_logmgr_t *mgr;
    sk_log_t *log;
    int32_t seq[PRODUCERS] = {0};
    int32_t records = SK_MAX(1, batch_bytes / (RECORD_VALUE_BYTES + 10));
    int64_t written = 0, n = 0;
    size_t len;

    sk_log_config_defaults(&cfg);
    if (sk_logmgr_open(dir, &cfg, &mgr) != SK_OK || sk_logmgr_create(mgr, "big", 0, NULL, NULL, &log) != SK_OK) {
        fprintf(stderr, "cannot create the log in %s\n", dir);
        exit(2);
    }
    uint8_t *tmpl = make_batch(records, 0, 0, &len);
    uint8_t *b = malloc(len);
    while (written < size_bytes) {
        int p = (int)(n++ % PRODUCERS);
        memcpy(b, tmpl, len);
        sk_put_be64(b + 43, (uint64_t)(1000 + p));       /* producer id */
        sk_put_be32(b + 53, (uint32_t)seq[p]);           /* base sequence */
        sk_batch_crc_set(b, len);
        seq[p] += records;
        if (sk_log_append(log, b, len, 0, sk_wall_ms(), NULL) != SK_OK) {
            fprintf(stderr, "append failed\n");
            exit(2);
        }
        written += (int64_t)len;
    }
    free(b);
    free(tmpl);
    *mgr_out = mgr;
    *log_out = log;
}

static void
unlink_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

/* Remove producer snapshots above offset (a crash leaves only those of earlier rolls). */
static void
drop_snapshots_above(const char *pdir, int64_t offset)
{
    struct dirent *de;
    DIR *d = opendir(pdir);
    if (!d) return;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, SK_SNAPSHOT_EXT) && atoll(de->d_name) > offset) unlink_in(pdir, de->d_name);
    closedir(d);
}

/* Time sk_logmgr_open; point: the recovery point (-1: none). Re-validated bytes are
 * those of the segments from the one holding the point onwards, as recovery works by
 * segment (as Kafka's does). */
static void
measure(const char *what, const char *dir, int64_t point)
{
    sk_log_config_t cfg;
    sk_logmgr_t *mgr;
    double t0 = now_s();
    int64_t bytes = 0;

    sk_log_config_defaults(&cfg);
    if (sk_logmgr_open(dir, &cfg, &mgr) != SK_OK) {
        fprintf(stderr, "%s: open failed\n", what);
        exit(2);
    }
    double dt = now_s() - t0;
    sk_log_t *log = sk_logmgr_get(mgr, "big", 0);
    for (int32_t i = 0; point != INT64_MAX && i < log->seg_count; i++)
        if (log->segs[i]->next_offset > point) bytes += log->segs[i]->size_bytes;
    printf("%-5s %8.3f s  re-validated %6lld MiB (%5.0f MiB/s)  log=%lld MiB  segments=%d  producers=%d\n", what,
           dt, (long long)(bytes >> 20), bytes / 1048576.0 / (dt > 0 ? dt : 1e-9),
           (long long)(sk_log_size_bytes(log) >> 20), sk_log_segment_count(log), sk_log_producer_count(log));
    fflush(stdout);
    sk_logmgr_close(mgr);
}

int
main(int argc, char **argv)
{
    char pdir[4096], path[4096];
    sk_log_config_t cfg;
    sk_logmgr_t *mgr;
    sk_log_t *log;
    int status;

    if (argc < 2) {
        fprintf(stderr, "usage: recovery_time <empty dir> [size MiB] [batch bytes]\n");
        return 2;
    }
    const char *dir = argv[1];
    int64_t size = (argc > 2 ? atoll(argv[2]) : 1024) << 20;
    int32_t batch = argc > 3 ? atoi(argv[3]) : 16384;
    snprintf(pdir, sizeof(pdir), "%s/big-0", dir);
    sk_log_setup(SK_LOG_WARN, 0);
    sk_log_config_defaults(&cfg);

    /* The writer is a child that exits without closing anything: a crash (kill -9),
     * with the data in the page cache and no checkpoint, marker or final snapshot. */
    pid_t pid = fork();
    if (pid == 0) {
        double t0 = now_s();
        write_log(dir, size, batch, &mgr, &log);
        printf("wrote %lld MiB in %.1f s, %d segments\n", (long long)(sk_log_size_bytes(log) >> 20),
               now_s() - t0, sk_log_segment_count(log));
        fflush(stdout);
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 2;
    drop_snapshots_above(pdir, -1);
    measure("full", dir, -1);

    /* tail: as if the last flush and checkpoint covered 99% of the offsets. */
    if (sk_logmgr_open(dir, &cfg, &mgr) != SK_OK) return 2;
    log = sk_logmgr_get(mgr, "big", 0);
    int64_t point = sk_log_end_offset(log) - sk_log_end_offset(log) / 100;
    sk_logmgr_close(mgr);
    sk_ckpt_t ck = {0};
    sk_ckpt_add(&ck, "big", 0, point);
    snprintf(path, sizeof(path), "%s/%s", dir, SK_CKPT_RECOVERY);
    if (sk_ckpt_write(&ck, path) != SK_OK) return 2;
    sk_ckpt_free(&ck);
    unlink_in(dir, SK_CLEAN_SHUTDOWN_FILE);
    drop_snapshots_above(pdir, point);
    measure("tail", dir, point);
    measure("clean", dir, INT64_MAX);
    return 0;
}
