/* storage/recovery.c: loading the segments of one partition directory. After a clean
 * stop the indexes and file sizes are trusted: each segment costs a few small reads
 * (the tail after its last index entry), never a scan of its data. After an unclean
 * stop every segment from the one holding the recovery point onwards is re-validated
 * batch by batch (header sanity, contiguous offsets, CRC-32C), a torn or corrupt tail
 * is cut, later segments are deleted, and the indexes and the leader epoch cache are
 * rebuilt from what survived; the result is fsynced before it is trusted. A segment
 * whose index does not add up is recovered even after a clean stop.
 * Invariant on return: segments contiguous, the last one active, log->leo set. */
#include "storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <unistd.h>

typedef struct base_list {
    int64_t *v; /* owned */
    int32_t count;
    int32_t cap;
} base_list_t;

static int
base_list_add(base_list_t *l, int64_t base)
{
    if (l->count == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 16;
        int64_t *v = realloc(l->v, (size_t)cap * sizeof(*v));
        if (!v) return SK_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->count++] = base;
    return SK_OK;
}

static int
base_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* "<20 digits><ext>" -> base offset; false if the name is something else. */
static bool
seg_name_parse(const char *name, const char *ext, int64_t *base)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n != SK_SEG_NAME_DIGITS + e || strcmp(name + SK_SEG_NAME_DIGITS, ext) != 0) return false;
    int64_t v = 0;
    for (int i = 0; i < SK_SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        if (v > (INT64_MAX - (name[i] - '0')) / 10) return false;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return true;
}

static bool
has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Collect segment base offsets; drop leftovers of interrupted atomic writes. */
static int
list_segments(const char *dir, base_list_t *out)
{
    char path[SK_PATH_MAX];
    struct dirent *de;
    int rc = SK_OK;
    DIR *d = opendir(dir);

    if (!d) return SK_EIO;
    while (rc == SK_OK && (de = readdir(d)) != NULL) {
        int64_t base;
        if (seg_name_parse(de->d_name, ".log", &base)) {
            rc = base_list_add(out, base);
        } else if (has_suffix(de->d_name, ".tmp")) {
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
    if (rc == SK_OK && out->count > 1) qsort(out->v, (size_t)out->count, sizeof(int64_t), base_cmp);
    return rc;
}

static void
recover_epoch_cb(void *ctx, int32_t epoch, int64_t base_offset)
{
    sk_log_t *log = ctx;
    sk_epochs_assign(&log->epochs, epoch, base_offset);
}

/* Open segment `base` trusting it, or recover it; *cut says later segments must go. */
static int
load_one(sk_log_t *log, int64_t base, int64_t next_base, bool trust, sk_seg_t **out, bool *recovered, bool *cut)
{
    sk_seg_t *seg = NULL;
    int64_t truncated = 0;
    bool last = next_base < 0;
    int rc = SK_ECORRUPT;

    *recovered = false;
    *cut = false;
    if (trust) {
        rc = sk_seg_open(log->dir, base, &log->cfg, last, &seg);
        if (rc == SK_OK && !last && seg->next_offset != next_base) rc = SK_ECORRUPT;
        if (rc != SK_OK && !seg) return rc;
        if (rc != SK_OK && rc != SK_ECORRUPT) goto fail;
        if (rc == SK_ECORRUPT) SK_WARN("event=segment_index_mismatch dir=%s base_offset=%lld", log->dir, (long long)base);
    } else {
        rc = sk_seg_open(log->dir, base, &log->cfg, last, &seg);
        if (rc != SK_OK && !seg) return rc;
        rc = SK_ECORRUPT;
    }
    if (rc == SK_ECORRUPT) {
        rc = sk_seg_recover(seg, &log->cfg, recover_epoch_cb, log, &truncated);
        if (rc != SK_OK) goto fail;
        *recovered = true;
        if (truncated > 0)
            SK_WARN("event=truncated_tail dir=%s base_offset=%lld bytes=%lld", log->dir, (long long)base,
                    (long long)truncated);
        *cut = !last && (truncated > 0 || seg->next_offset != next_base);
        rc = (*cut || last) ? sk_seg_activate(seg, &log->cfg) : sk_seg_seal(seg);
        if (rc != SK_OK) goto fail;
    }
    *out = seg;
    return SK_OK;
fail:
    sk_seg_free(seg);
    return rc;
}

static int
load_finish(sk_log_t *log, bool any_recovered)
{
    int rc = SK_OK;
    log->leo = log->segs[log->seg_count - 1]->next_offset;
    sk_epochs_truncate_from_end(&log->epochs, log->leo);
    if (any_recovered) {
        /* What we validated may sit only in the page cache: make it durable before the
         * recovery point moves past it. */
        for (int32_t i = 0; i < log->seg_count && rc == SK_OK; i++) rc = sk_seg_sync(log->segs[i]);
        if (rc == SK_OK) rc = sk_epochs_store(&log->epochs, log->dir, true);
        if (rc == SK_OK) log->recovery_point = log->leo;
    }
    return rc;
}

int
sk_log_load_segments(sk_log_t *log, bool clean)
{
    base_list_t bases = {0};
    sk_seg_t *seg = NULL;
    bool any_recovered = false;
    int rc = sk_clean_recover_dir(log->dir); /* an interrupted cleaner swap */

    if (rc == SK_OK) rc = list_segments(log->dir, &bases);

    if (rc != SK_OK) goto done;
    if (bases.count == 0) {
        rc = sk_seg_create(log->dir, SK_MAX(log->start_offset, 0), &log->cfg, &seg);
        log->dir_dirty = true;
        if (rc == SK_OK) rc = sk_log_seg_push(log, seg);
        if (rc != SK_OK) sk_seg_free(seg);
        goto done;
    }
    for (int32_t i = 0; i < bases.count; i++) {
        bool recovered, cut;
        int64_t next_base = i + 1 < bases.count ? bases.v[i + 1] : -1;
        bool trust = clean || (next_base >= 0 && next_base <= log->recovery_point);
        rc = load_one(log, bases.v[i], next_base, trust, &seg, &recovered, &cut);
        if (rc != SK_OK) goto done;
        rc = sk_log_seg_push(log, seg);
        if (rc != SK_OK) {
            sk_seg_free(seg);
            goto done;
        }
        any_recovered |= recovered;
        if (cut) {
            for (int32_t j = i + 1; j < bases.count; j++) {
                SK_WARN("event=delete_segment_after_truncation dir=%s base_offset=%lld", log->dir,
                        (long long)bases.v[j]);
                sk_seg_unlink(log->dir, bases.v[j]);
            }
            break;
        }
    }
    rc = load_finish(log, any_recovered);
done:
    free(bases.v);
    return rc;
}
