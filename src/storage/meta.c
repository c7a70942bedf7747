/* storage/meta.c: the small text files next to the segments, in Kafka's formats so
 * Kafka's tools and brokers read them:
 *   leader-epoch-checkpoint   "0\n<count>\n" then "<epoch> <start offset>\n" per entry
 *   partition.metadata        "version: 0\ntopic_id: <base64url uuid>" (no final newline)
 *   offset checkpoints        "0\n<count>\n" then "<topic> <partition> <offset>\n"
 *                             (recovery-point-offset-, replication-offset- and
 *                             log-start-offset-checkpoint in the data directory)
 * Every write replaces the file atomically (temp file, rename). Readers treat the bytes
 * as untrusted: a malformed file is SK_ECORRUPT, never an assertion.
 * Invariant of the epoch cache: epochs and start offsets strictly increase. */
#include "storage_int.h"

#include <errno.h>
#include <limits.h>

/* ---- a strict line reader over a NUL-terminated buffer ---- */

typedef struct text_rd {
    char *p; /* borrowed: the file buffer, modified in place (lines split) */
} text_rd_t;

static char *
text_line(text_rd_t *r)
{
    if (!r->p || !*r->p) return NULL;
    char *line = r->p;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        r->p = nl + 1;
    } else {
        r->p = NULL;
    }
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r') line[n - 1] = '\0';
    return line;
}

/* Parse a decimal integer in [lo, hi] that runs to the next space or end of string. */
static int
text_int(char **s, int64_t lo, int64_t hi, int64_t *v)
{
    char *end;
    while (**s == ' ' || **s == '\t') (*s)++;
    if (!**s) return SK_ECORRUPT;
    errno = 0;
    long long x = strtoll(*s, &end, 10);
    if (errno || end == *s || (*end && *end != ' ' && *end != '\t')) return SK_ECORRUPT;
    if (x < lo || x > hi) return SK_ECORRUPT;
    *s = end;
    *v = x;
    return SK_OK;
}

static bool
text_rest_blank(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return *s == '\0';
}

/* Header: version 0 then the entry count. */
static int
text_header(text_rd_t *r, int64_t *count)
{
    int64_t version;
    char *line = text_line(r);
    if (!line) {
        *count = 0; /* an empty file is an empty checkpoint, as Kafka reads it */
        return SK_OK;
    }
    if (text_int(&line, 0, 0, &version) != SK_OK || !text_rest_blank(line)) return SK_ECORRUPT;
    line = text_line(r);
    if (!line) return SK_ECORRUPT;
    if (text_int(&line, 0, INT32_MAX, count) != SK_OK || !text_rest_blank(line)) return SK_ECORRUPT;
    return SK_OK;
}

/* ---- leader epoch cache ---- */

static int
epochs_push(sk_epochs_t *e, int32_t epoch, int64_t start_offset)
{
    if (e->count == e->cap) {
        int32_t cap = e->cap ? e->cap * 2 : 8;
        sk_epoch_entry_t *v = realloc(e->v, (size_t)cap * sizeof(*v));
        if (!v) return SK_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->count++] = (sk_epoch_entry_t){epoch, start_offset};
    return SK_OK;
}

int
sk_epochs_load(sk_epochs_t *e, const char *dir)
{
    char path[SK_PATH_MAX], *buf = NULL;
    size_t len;
    int64_t count;
    text_rd_t r;
    int rc;

    e->count = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, SK_EPOCH_FILE);
    rc = sk_read_file(path, SK_META_FILE_MAX_BYTES, &buf, &len);
    if (rc == SK_ENOENT) return SK_OK;
    if (rc != SK_OK) return rc;
    r.p = buf;
    rc = text_header(&r, &count);
    for (int64_t i = 0; rc == SK_OK && i < count; i++) {
        int64_t epoch, off;
        char *line = text_line(&r);
        rc = SK_ECORRUPT;
        if (!line || text_int(&line, 0, INT32_MAX, &epoch) != SK_OK) break;
        if (text_int(&line, 0, INT64_MAX, &off) != SK_OK || !text_rest_blank(line)) break;
        if (e->count > 0 && (epoch <= e->v[e->count - 1].epoch || off < e->v[e->count - 1].start_offset)) break;
        /* Same start offset: the older epoch never got a batch (as in sk_epochs_assign). */
        if (e->count > 0 && off == e->v[e->count - 1].start_offset) e->count--;
        rc = epochs_push(e, (int32_t)epoch, off);
    }
    if (rc == SK_OK && text_line(&r)) rc = SK_ECORRUPT;
    free(buf);
    if (rc != SK_OK) e->count = 0;
    return rc;
}

int
sk_epochs_store(const sk_epochs_t *e, const char *dir, bool do_fsync)
{
    char path[SK_PATH_MAX];
    size_t cap = 32 + (size_t)e->count * 40, n;
    char *buf = malloc(cap);
    int rc;

    if (!buf) return SK_ENOMEM;
    n = (size_t)snprintf(buf, cap, "0\n%d\n", e->count);
    for (int32_t i = 0; i < e->count; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%d %lld\n", e->v[i].epoch, (long long)e->v[i].start_offset);
    SK_ASSERT(n < cap);
    snprintf(path, sizeof(path), "%s/%s", dir, SK_EPOCH_FILE);
    rc = sk_write_file_atomic(path, buf, n, do_fsync);
    free(buf);
    return rc;
}

bool
sk_epochs_assign(sk_epochs_t *e, int32_t epoch, int64_t start_offset)
{
    if (epoch < 0) return false;
    if (e->count > 0) {
        const sk_epoch_entry_t *last = &e->v[e->count - 1];
        if (epoch <= last->epoch) return false;
        if (start_offset < last->start_offset) return false;
        if (start_offset == last->start_offset) {
            /* The older epoch never got a batch: the newer one replaces it. */
            e->count--;
        }
    }
    return epochs_push(e, epoch, start_offset) == SK_OK;
}

void
sk_epochs_truncate_from_end(sk_epochs_t *e, int64_t end_offset)
{
    while (e->count > 0 && e->v[e->count - 1].start_offset >= end_offset) e->count--;
}

void
sk_epochs_free(sk_epochs_t *e)
{
    free(e->v);
    memset(e, 0, sizeof(*e));
}

/* ---- partition.metadata ---- */

int
sk_partmeta_write(const char *dir, const sk_uuid_t *topic_id)
{
    char path[SK_PATH_MAX], b64[23], buf[64];
    sk_uuid_to_base64(topic_id, b64);
    int n = snprintf(buf, sizeof(buf), "version: 0\ntopic_id: %s", b64);
    snprintf(path, sizeof(path), "%s/%s", dir, SK_PARTMETA_FILE);
    return sk_write_file_atomic(path, buf, (size_t)n, true);
}

int
sk_partmeta_read(const char *dir, sk_uuid_t *topic_id)
{
    char path[SK_PATH_MAX], *buf = NULL;
    size_t len;
    text_rd_t r;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, SK_PARTMETA_FILE);
    rc = sk_read_file(path, 4096, &buf, &len);
    if (rc != SK_OK) return rc;
    r.p = buf;
    rc = SK_ECORRUPT;
    char *v = text_line(&r), *t = text_line(&r);
    if (v && t && strcmp(v, "version: 0") == 0 && strncmp(t, "topic_id: ", 10) == 0)
        rc = sk_uuid_from_base64(t + 10, topic_id) == SK_OK ? SK_OK : SK_ECORRUPT;
    free(buf);
    return rc;
}

/* ---- offset checkpoints ---- */

int
sk_ckpt_add(sk_ckpt_t *c, const char *topic, int32_t partition, int64_t offset)
{
    if (c->count == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 16;
        sk_ckpt_entry_t *v = realloc(c->v, (size_t)cap * sizeof(*v));
        if (!v) return SK_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    char *t = strdup(topic);
    if (!t) return SK_ENOMEM;
    c->v[c->count++] = (sk_ckpt_entry_t){t, partition, offset};
    return SK_OK;
}

static int
ckpt_line(sk_ckpt_t *c, char *line)
{
    int64_t part, off;
    char *sp = line;
    while (*sp && *sp != ' ' && *sp != '\t') sp++;
    if (sp == line || !*sp) return SK_ECORRUPT;
    *sp++ = '\0';
    if (text_int(&sp, 0, INT32_MAX, &part) != SK_OK) return SK_ECORRUPT;
    if (text_int(&sp, INT64_MIN, INT64_MAX, &off) != SK_OK || !text_rest_blank(sp)) return SK_ECORRUPT;
    return sk_ckpt_add(c, line, (int32_t)part, off);
}

int
sk_ckpt_read(sk_ckpt_t *c, const char *path)
{
    char *buf = NULL;
    size_t len;
    int64_t count;
    text_rd_t r;
    int rc = sk_read_file(path, SK_META_FILE_MAX_BYTES, &buf, &len);

    memset(c, 0, sizeof(*c));
    if (rc == SK_ENOENT) return SK_OK;
    if (rc != SK_OK) return rc;
    r.p = buf;
    rc = text_header(&r, &count);
    for (int64_t i = 0; rc == SK_OK && i < count; i++) {
        char *line = text_line(&r);
        rc = line ? ckpt_line(c, line) : SK_ECORRUPT;
    }
    if (rc == SK_OK && text_line(&r)) rc = SK_ECORRUPT;
    free(buf);
    if (rc != SK_OK) sk_ckpt_free(c);
    return rc;
}

static int
ckpt_cmp(const void *a, const void *b)
{
    const sk_ckpt_entry_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c) return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

int
sk_ckpt_write(sk_ckpt_t *c, const char *path)
{
    size_t cap = 32, n;
    char *buf;
    int rc;

    for (int32_t i = 0; i < c->count; i++) cap += strlen(c->v[i].topic) + 40;
    buf = malloc(cap);
    if (!buf) return SK_ENOMEM;
    if (c->count > 1) qsort(c->v, (size_t)c->count, sizeof(c->v[0]), ckpt_cmp);
    n = (size_t)snprintf(buf, cap, "0\n%d\n", c->count);
    for (int32_t i = 0; i < c->count; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s %d %lld\n", c->v[i].topic, c->v[i].partition,
                              (long long)c->v[i].offset);
    SK_ASSERT(n < cap);
    rc = sk_write_file_atomic(path, buf, n, true);
    free(buf);
    return rc;
}

bool
sk_ckpt_get(const sk_ckpt_t *c, const char *topic, int32_t partition, int64_t *offset)
{
    for (int32_t i = 0; i < c->count; i++) {
        if (c->v[i].partition == partition && strcmp(c->v[i].topic, topic) == 0) {
            *offset = c->v[i].offset;
            return true;
        }
    }
    return false;
}

void
sk_ckpt_free(sk_ckpt_t *c)
{
    for (int32_t i = 0; i < c->count; i++) free(c->v[i].topic);
    free(c->v);
    memset(c, 0, sizeof(*c));
}
