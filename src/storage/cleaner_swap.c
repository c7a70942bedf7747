/* storage/cleaner_swap.c: the loop-thread half of compaction. Decides whether a log is
 * cleanable (Kafka's LogCleanerManager rules), describes its cleanable sealed segments
 * in a task for the cleaner thread (cleaner.c), and swaps the cleaned segments in once
 * the task comes back, if the segments it read are still the log's (retention,
 * DeleteRecords, truncation or a topic delete may have removed them meanwhile). Also
 * the start-up half of the swap's crash safety (sk_clean_recover_dir).
 *
 * Swap of one group (old segments S1..Sn, cleaned files named after S1's base B):
 *   1. B.index.cleaned, B.timeindex.cleaned, then B.log.cleaned are renamed to .swap;
 *      the directory is fsynced. B.log.swap existing is the commit point.
 *   2. the files of S1..Sn are removed (sk_seg_unlink);
 *   3. B.index.swap, B.timeindex.swap, then B.log.swap take their final names; the
 *      directory is fsynced; the new segment is opened and replaces S1..Sn in memory.
 * A crash before the commit point leaves the old segments whole (the .cleaned and
 * stray index .swap files are removed at start-up); after it, start-up removes every
 * segment whose base lies inside the .swap's offsets and completes step 3. A missing
 * index is rebuilt by the normal segment recovery.
 * Invariant kept: the log's segments stay contiguous (a cleaned segment ends where its
 * group ended, cleaner.c keeps that batch). Design: docs/compaction.md. */
#include "storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- is the log cleanable? ---- */

/* Timestamp of the first batch of seg (-1 unknown): what max.compaction.lag.ms is
 * measured from (Kafka: the segment's first batch timestamp). */
static int64_t
seg_first_ts(const sk_seg_t *seg)
{
    uint8_t buf[SK_BATCH_HEADER_SIZE];
    sk_scan_t s;
    sk_batch_hdr_t h;
    if (seg->size_bytes == 0) return -1;
    sk_scan_init(&s, seg->log->fd, seg->size_bytes, buf, sizeof(buf));
    return sk_scan_hdr(&s, 0, &h) == SK_OK ? h.max_timestamp : -1;
}

void
sk_log_clean_check(const sk_log_t *log, int64_t now_ms, sk_clean_check_t *o)
{
    const sk_log_config_t *cfg = &log->cfg;
    int32_t sealed = log->seg_count - 1;
    /* Kafka: min(active segment base, last stable offset). */
    int64_t bound = SK_MIN(log->segs[sealed]->base_offset, sk_log_last_stable_offset(log));
    int64_t lag_limit = cfg->min_compaction_lag_ms > now_ms ? INT64_MIN : now_ms - cfg->min_compaction_lag_ms;
    const sk_seg_t *first_dirty_seg = NULL;

    memset(o, 0, sizeof(*o));
    /* A clean offset past the LEO (the log was cut back) covers nothing. */
    o->first_dirty = SK_MIN(SK_MAX(log->clean_offset, log->start_offset), log->leo);
    o->first_uncleanable = log->segs[0]->base_offset;
    for (int32_t i = 0; i < sealed; i++) {
        const sk_seg_t *seg = log->segs[i];
        bool dirty = seg->next_offset > o->first_dirty;
        if (seg->next_offset > bound) break;
        if (dirty && cfg->min_compaction_lag_ms > 0 && seg->max_ts > lag_limit) break;
        o->first_uncleanable = seg->next_offset;
        if (dirty) {
            o->dirty_bytes += seg->size_bytes;
            if (!first_dirty_seg) first_dirty_seg = seg;
        } else {
            o->clean_bytes += seg->size_bytes;
        }
    }
    if (o->clean_bytes + o->dirty_bytes > 0)
        o->dirty_ratio = (double)o->dirty_bytes / (double)(o->clean_bytes + o->dirty_bytes);
    bool due = false;
    if (first_dirty_seg && cfg->max_compaction_lag_ms < INT64_MAX) {
        int64_t ts = seg_first_ts(first_dirty_seg);
        due = ts >= 0 && now_ms - ts > cfg->max_compaction_lag_ms;
    }
    bool horizon = log->clean_horizon_ms >= 0 && now_ms >= log->clean_horizon_ms &&
                   o->first_uncleanable > log->segs[0]->base_offset;
    o->cleanable = cfg->compact && ((o->dirty_bytes > 0 && (o->dirty_ratio > cfg->min_cleanable_ratio || due)) ||
                                    horizon);
}

int64_t
sk_log_clean_offset(const sk_log_t *log)
{
    return log->clean_offset;
}

/* ---- the task ---- */

static int
prod_cmp(const void *a, const void *b)
{
    int64_t x = ((const sk_clean_prod_t *)a)->producer_id, y = ((const sk_clean_prod_t *)b)->producer_id;
    return (x > y) - (x < y);
}

/* Producer id -> last offset of its last batch (Kafka's lastRecordsOfActiveProducers). */
static int
task_producers(const sk_log_t *log, sk_clean_task_t *t)
{
    sk_map_entry_t *e;
    size_t n = log->pstate.producers.count;
    if (n == 0) return SK_OK;
    t->prods = calloc(n, sizeof(*t->prods));
    if (!t->prods) return SK_ENOMEM;
    for (size_t i = 0; sk_map_next(&log->pstate.producers, &i, &e);) {
        const sk_pentry_t *p = e->value;
        if (p->batch_count == 0 || (size_t)t->prod_count >= n) continue;
        t->prods[t->prod_count++] = (sk_clean_prod_t){p->producer_id, p->batches[p->batch_count - 1].last_offset};
    }
    qsort(t->prods, (size_t)t->prod_count, sizeof(*t->prods), prod_cmp);
    return SK_OK;
}

void
sk_clean_task_free(sk_clean_task_t *t)
{
    if (!t) return;
    for (int32_t i = 0; i < t->group_count; i++)
        if (t->groups[i].written) sk_clean_group_unlink(t->dir, t->segs[t->groups[i].first].base_offset);
    for (int32_t i = 0; i < t->seg_count; i++) sk_fref_put(t->segs[i].file);
    free(t->segs);
    free(t->prods);
    free(t->groups);
    free(t->dir);
    free(t->topic);
    free(t);
}

int
sk_clean_task_new(sk_log_t *log, const sk_clean_opts_t *opts, sk_clean_task_t **out)
{
    sk_clean_check_t ck;
    sk_clean_task_t *t = NULL;
    int32_t n = 0;

    *out = NULL;
    if (log->cleaning || sk_log_offline(log)) return SK_EEXIST; /* already with the cleaner, or offline */
    sk_log_clean_check(log, opts->now_ms, &ck);
    if (!ck.cleanable) return SK_ENOENT;
    while (n < log->seg_count - 1 && log->segs[n]->next_offset <= ck.first_uncleanable) n++;
    if (n == 0) return SK_ENOENT;
    t = calloc(1, sizeof(*t));
    if (!t) return SK_ENOMEM;
    t->dir = strdup(log->dir);
    t->topic = strdup(log->topic);
    t->segs = calloc((size_t)n, sizeof(*t->segs));
    if (!t->dir || !t->topic || !t->segs || task_producers(log, t) != SK_OK) {
        sk_clean_task_free(t);
        return SK_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        const sk_seg_t *seg = log->segs[i];
        t->segs[i] = (sk_clean_seg_t){seg->base_offset, seg->next_offset, seg->size_bytes, sk_fref_get(seg->log)};
        t->seg_count++;
    }
    t->partition = log->partition;
    t->first_dirty = SK_MIN(ck.first_dirty, ck.first_uncleanable);
    t->first_uncleanable = ck.first_uncleanable;
    t->now_ms = opts->now_ms;
    t->delete_retention_ms = log->cfg.delete_retention_ms;
    t->segment_bytes = log->cfg.segment_bytes;
    t->index_interval_bytes = log->cfg.index_interval_bytes;
    t->map_bytes = opts->map_bytes;
    t->io_buffer_bytes = opts->io_buffer_bytes;
    t->map_end = t->first_dirty;
    t->min_horizon_ms = -1;
    log->cleaning = true;
    *out = t;
    return SK_OK;
}

/* ---- the swap ---- */

typedef struct swap {
    sk_log_t *log;     /* NULL at start-up */
    const char *dir;
    int32_t steps;
    int32_t stop;      /* stop after this many steps (-1: never) */
} swap_t;

/* One file system step done: true when a test asked to stop here. */
static bool
swap_step(swap_t *s)
{
    s->steps++;
    return s->stop >= 0 && s->steps >= s->stop;
}

static void
swap_name(char *out, size_t cap, const char *dir, int64_t base, const char *ext, const char *suffix)
{
    char e[32];
    snprintf(e, sizeof(e), "%s%s", ext, suffix);
    sk_seg_path(out, cap, dir, base, e);
}

/* The aborted-transaction index exists only for segments that had aborts. */
static bool
ext_optional(const char *ext)
{
    return strcmp(ext, SK_TXNIDX_EXT) == 0;
}

static int
swap_rename(swap_t *s, int64_t base, const char *ext, const char *from_sfx, const char *to_sfx)
{
    char from[SK_PATH_MAX], to[SK_PATH_MAX];
    swap_name(from, sizeof(from), s->dir, base, ext, from_sfx);
    swap_name(to, sizeof(to), s->dir, base, ext, to_sfx);
    if (rename(from, to) != 0) {
        if (errno == ENOENT && ext_optional(ext)) return SK_OK;
        SK_ERROR("event=cleaner_rename_failed from=%s errno=%d", from, errno);
        return SK_EIO;
    }
    return SK_OK;
}

static const char *const swap_exts[] = {".index", ".timeindex", SK_TXNIDX_EXT, ".log"}; /* .log last */

/* The files of group g: S1..Sn -> B. SK_AGAIN when a test stopped it. */
static int
swap_files(swap_t *s, const sk_clean_task_t *t, const sk_clean_group_t *g)
{
    int64_t base = t->segs[g->first].base_offset;
    int rc;

    for (size_t i = 0; i < SK_ARRAY_LEN(swap_exts); i++) {
        if ((rc = swap_rename(s, base, swap_exts[i], SK_CLEANED_EXT, SK_SWAP_EXT)) != SK_OK) return rc;
        if (swap_step(s)) return SK_AGAIN;
    }
    if (sk_fsync_dir(s->dir) != SK_OK) return SK_EIO;
    if (swap_step(s)) return SK_AGAIN;
    for (int32_t i = 0; i < g->count; i++) {
        /* Through the log: deletion may be deferred to the trash thread. */
        if (sk_log_seg_unlink(s->log, t->segs[g->first + i].base_offset) != SK_OK) return SK_EIO;
        if (swap_step(s)) return SK_AGAIN;
    }
    for (size_t i = 0; i < SK_ARRAY_LEN(swap_exts); i++) {
        if ((rc = swap_rename(s, base, swap_exts[i], SK_SWAP_EXT, "")) != SK_OK) return rc;
        if (swap_step(s)) return SK_AGAIN;
    }
    if (sk_fsync_dir(s->dir) != SK_OK) return SK_EIO;
    return swap_step(s) ? SK_AGAIN : SK_OK;
}

/* Index in log->segs of the task's segment i if it is still the same file, else -1. */
static int32_t
task_seg_in_log(const sk_log_t *log, const sk_clean_seg_t *ts)
{
    const sk_seg_t *seg = sk_log_seg_for(log, ts->base_offset);
    if (!seg || seg->base_offset != ts->base_offset || seg->log != ts->file) return -1;
    if (seg->next_offset != ts->next_offset || seg->size_bytes != ts->size_bytes || seg->active) return -1;
    for (int32_t i = 0; i < log->seg_count; i++)
        if (log->segs[i] == seg) return i;
    return -1;
}

/* Replace log->segs[k .. k+count) by the cleaned segment now on disk under base. */
static int
swap_memory(sk_log_t *log, int32_t k, int32_t count, int64_t end)
{
    sk_seg_t *seg = NULL;
    int64_t base = log->segs[k]->base_offset, truncated = 0;
    int rc = sk_seg_open(log->dir, base, &log->cfg, false, &seg);

    if (rc == SK_ECORRUPT && seg) {
        /* The indexes did not add up: rebuild them as recovery would. */
        rc = sk_seg_recover(seg, &log->cfg, NULL, NULL, &truncated);
        if (rc == SK_OK) rc = sk_seg_seal(seg);
    }
    if (rc == SK_OK && (seg->next_offset != end || truncated > 0)) rc = SK_ECORRUPT;
    if (rc != SK_OK) {
        sk_seg_free(seg);
        return rc;
    }
    for (int32_t i = 0; i < count; i++) sk_seg_free(log->segs[k + i]);
    log->segs[k] = seg;
    memmove(log->segs + k + 1, log->segs + k + count, (size_t)(log->seg_count - k - count) * sizeof(*log->segs));
    log->seg_count -= count - 1;
    return SK_OK;
}

static int
swap_group(sk_log_t *log, swap_t *s, sk_clean_task_t *t, sk_clean_group_t *g)
{
    int32_t k = task_seg_in_log(log, &t->segs[g->first]);
    for (int32_t i = 1; k >= 0 && i < g->count; i++)
        if (task_seg_in_log(log, &t->segs[g->first + i]) != k + i) k = -1;
    if (k < 0) return SK_ENOENT;
    int rc = swap_files(s, t, g);
    if (rc != SK_OK) return rc;
    g->written = false; /* the .cleaned files are the segment now */
    rc = swap_memory(log, k, g->count, t->segs[g->first + g->count - 1].next_offset);
    if (rc != SK_OK) {
        /* On disk and valid after a restart, but not readable now: stop writing here. */
        log->offline = true;
        SK_ERROR("event=cleaner_swap_open_failed tp=%s-%d base_offset=%lld rc=%s", log->topic, log->partition,
                 (long long)t->segs[g->first].base_offset, sk_strerror(rc));
    }
    return rc;
}

int
sk_clean_task_install(sk_log_t *log, sk_clean_task_t *t, int32_t stop_step)
{
    swap_t s = {.log = log, .dir = log->dir, .stop = stop_step};
    int rc = t->rc;

    log->cleaning = false;
    if (rc != SK_OK) return rc;
    /* Every segment the task read must still be there, untouched. */
    for (int32_t i = 0; i < t->group_count && rc == SK_OK; i++) {
        const sk_clean_group_t *g = &t->groups[i];
        for (int32_t j = 0; j < g->count && rc == SK_OK; j++)
            if (task_seg_in_log(log, &t->segs[g->first + j]) < 0) rc = SK_ENOENT;
    }
    for (int32_t i = 0; rc == SK_OK && i < t->group_count; i++)
        if (t->groups[i].written) rc = swap_group(log, &s, t, &t->groups[i]);
    if (rc != SK_OK) return rc;
    log->clean_offset = SK_MAX(log->clean_offset, t->map_end);
    log->clean_horizon_ms = t->min_horizon_ms;
    t->stats.segments_in = 0;
    for (int32_t i = 0; i < t->group_count; i++) {
        t->stats.segments_in += t->groups[i].count;
        t->stats.segments_out++;
    }
    return SK_OK;
}

/* ---- synchronous cleaning (tests, tools) ---- */

int
sk_log_clean(sk_log_t *log, const sk_clean_opts_t *opts, sk_clean_stats_t *stats)
{
    sk_clean_task_t *t = NULL;
    int rc = sk_clean_task_new(log, opts, &t);
    if (rc != SK_OK) return rc;
    sk_clean_task_run(t);
    rc = sk_clean_task_install(log, t, opts->swap_stop_step);
    if (stats) *stats = t->stats;
    sk_clean_task_free(t);
    return rc;
}

/* ---- start-up: finish or undo an interrupted swap ---- */

/* "<20 digits><ext>" -> base offset. */
static bool
name_base(const char *name, const char *ext, int64_t *base)
{
    size_t n = strlen(name), e = strlen(ext);
    int64_t v = 0;
    if (n != SK_SEG_NAME_DIGITS + e || strcmp(name + SK_SEG_NAME_DIGITS, ext) != 0) return false;
    for (int i = 0; i < SK_SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return true;
}

/* Next offset after the last whole batch of a .swap log file (base when empty). */
static int
swap_end_offset(const char *path, int64_t base, int64_t *end)
{
    uint8_t buf[SK_SCAN_BLOCK_BYTES];
    struct stat st;
    sk_scan_t s;
    sk_batch_hdr_t h;
    int64_t pos = 0;
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC);

    *end = base;
    if (fd < 0) return SK_EIO;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return SK_EIO;
    }
    sk_scan_init(&s, fd, st.st_size, buf, sizeof(buf));
    while ((rc = sk_scan_hdr(&s, pos, &h)) == SK_OK) {
        if (h.base_offset < *end) break;
        *end = h.base_offset + h.last_offset_delta + 1;
        pos += (int64_t)h.batch_length + SK_LOG_OVERHEAD;
    }
    close(fd);
    return rc == SK_EIO ? SK_EIO : SK_OK;
}

typedef struct name_list {
    int64_t *v; /* owned */
    int32_t count, cap;
} name_list_t;

static int
name_list_add(name_list_t *l, int64_t b)
{
    if (l->count == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 16;
        int64_t *v = realloc(l->v, (size_t)cap * sizeof(*v));
        if (!v) return SK_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->count++] = b;
    return SK_OK;
}

/* One pass over the directory: remove .cleaned and lone index .swap files, collect the
 * bases of .log.swap files and of segments. */
static int
recover_scan(const char *dir, name_list_t *swaps, name_list_t *segs)
{
    char path[SK_PATH_MAX];
    struct dirent *de;
    int rc = SK_OK;
    DIR *d = opendir(dir);

    if (!d) return SK_EIO;
    while (rc == SK_OK && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t n = strlen(nm);
        int64_t base;
        if (name_base(nm, ".log" SK_SWAP_EXT, &base)) {
            rc = name_list_add(swaps, base);
        } else if (name_base(nm, ".log", &base)) {
            rc = name_list_add(segs, base);
        } else if (n > strlen(SK_CLEANED_EXT) && strcmp(nm + n - strlen(SK_CLEANED_EXT), SK_CLEANED_EXT) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, nm);
            unlink(path);
        }
    }
    closedir(d);
    return rc;
}

static int
recover_swap(const char *dir, int64_t base, const name_list_t *segs)
{
    char path[SK_PATH_MAX];
    int64_t end;
    swap_name(path, sizeof(path), dir, base, ".log", SK_SWAP_EXT);
    int rc = swap_end_offset(path, base, &end);
    if (rc != SK_OK) return rc;
    SK_WARN("event=cleaner_swap_resume dir=%s base_offset=%lld end_offset=%lld", dir, (long long)base,
            (long long)end);
    for (int32_t i = 0; i < segs->count; i++) {
        if (segs->v[i] < base || (segs->v[i] >= end && segs->v[i] != base)) continue;
        if (sk_seg_unlink(dir, segs->v[i]) != SK_OK) return SK_EIO;
    }
    swap_t s = {.dir = dir, .stop = -1};
    for (size_t i = 0; i < SK_ARRAY_LEN(swap_exts); i++) {
        swap_name(path, sizeof(path), dir, base, swap_exts[i], SK_SWAP_EXT);
        if (access(path, F_OK) != 0) continue; /* renamed already, or rebuilt later */
        if ((rc = swap_rename(&s, base, swap_exts[i], SK_SWAP_EXT, "")) != SK_OK) return rc;
    }
    return SK_OK;
}

int
sk_clean_recover_dir(const char *dir)
{
    char path[SK_PATH_MAX];
    name_list_t swaps = {0}, segs = {0};
    int rc = recover_scan(dir, &swaps, &segs);

    for (int32_t i = 0; rc == SK_OK && i < swaps.count; i++) rc = recover_swap(dir, swaps.v[i], &segs);
    /* Index .swap files whose .log.swap is gone (renamed, or never made) are stale. */
    for (int32_t i = 0; rc == SK_OK && i < segs.count + swaps.count; i++) {
        int64_t b = i < segs.count ? segs.v[i] : swaps.v[i - segs.count];
        for (size_t j = 0; j + 1 < SK_ARRAY_LEN(swap_exts); j++) {
            swap_name(path, sizeof(path), dir, b, swap_exts[j], SK_SWAP_EXT);
            unlink(path);
        }
    }
    if (rc == SK_OK && swaps.count > 0) rc = sk_fsync_dir(dir);
    free(swaps.v);
    free(segs.v);
    return rc;
}
