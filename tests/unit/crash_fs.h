/* tests/unit/crash_fs.h: the crash file layer of the storage crash tests (header-only,
 * included by one test program at a time). It interposes pwrite, write, ftruncate,
 * fdatasync and fsync for files under g.root ending in .log or .txnindex: each modelled
 * file keeps its contents as of its last sync plus the operations since, so that
 * crash_contents can build what the disk would hold after a crash in one of four modes
 * (all writes kept, none, a torn tail, random sectors), and files whose directory entry
 * was never synced can vanish. Everything else goes to the kernel unchanged. */
#ifndef SK_TEST_CRASH_FS_H
#define SK_TEST_CRASH_FS_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "storage/storage_int.h"

#ifndef FILES_MAX
#define FILES_MAX 256
#endif
#define SECTOR 512

enum { MODE_ALL, MODE_NONE, MODE_TORN, MODE_RANDOM, MODE_COUNT };
static const char *const mode_names[MODE_COUNT] = {"all", "none", "torn", "random"};

/* ---- the file layer model ---- */

typedef struct op {
    bool trunc;
    int64_t pos;  /* write position, or the new length */
    size_t len;
    uint8_t *data; /* owned copy of the written bytes */
} op_t;

typedef struct mfile {
    char path[512];
    uint8_t *durable; /* owned: contents at the last sync */
    size_t durable_len;
    op_t *ops;        /* owned: since the last sync */
    int32_t op_count;
    bool entry_durable;
} mfile_t;

static struct {
    int fail_syncs;    /* > 0: fail that many more fdatasync/fsync calls with EIO */
    int64_t sync_calls; /* fdatasync/fsync calls that reached this layer */
    char root[128]; /* only files under here are modelled */
    mfile_t files[FILES_MAX];
    int32_t count;
    bool active;
} g;

static bool
fd_path(int fd, char *out, size_t cap)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n <= 0) return false;
    out[n] = '\0';
    return true;
}

static bool
has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* The model of fd if it is a segment .log under the root (created on first sight). */
static mfile_t *
model_file(int fd)
{
    char path[512];
    if (!g.active || !fd_path(fd, path, sizeof(path))) return NULL;
    if (strncmp(path, g.root, strlen(g.root)) != 0 || (!has_suffix(path, ".log") && !has_suffix(path, ".txnindex")))
        return NULL;
    for (int32_t i = 0; i < g.count; i++)
        if (strcmp(g.files[i].path, path) == 0) return &g.files[i];
    if (g.count == FILES_MAX) abort();
    mfile_t *f = &g.files[g.count++];
    memset(f, 0, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "%s", path);
    return f;
}

static void
model_op(mfile_t *f, bool trunc, int64_t pos, const void *data, size_t len)
{
    op_t *v = realloc(f->ops, (size_t)(f->op_count + 1) * sizeof(*v));
    if (!v) abort();
    f->ops = v;
    op_t *o = &f->ops[f->op_count++];
    o->trunc = trunc;
    o->pos = pos;
    o->len = len;
    o->data = NULL;
    if (len) {
        o->data = malloc(len);
        if (!o->data) abort();
        memcpy(o->data, data, len);
    }
}

/* Apply op o (its first `len` bytes when it is a write) to buf. */
static void
apply_op(uint8_t **buf, size_t *blen, const op_t *o, size_t len, size_t skip)
{
    if (o->trunc) {
        size_t n = (size_t)o->pos;
        if (n > *blen) {
            *buf = realloc(*buf, n);
            memset(*buf + *blen, 0, n - *blen);
        }
        *blen = n;
        return;
    }
    size_t end = (size_t)o->pos + len;
    if (end > *blen) {
        *buf = realloc(*buf, end);
        memset(*buf + *blen, 0, end - *blen);
        *blen = end;
    }
    memcpy(*buf + o->pos + skip, o->data + skip, len - skip);
}

static void
model_sync(mfile_t *f)
{
    for (int32_t i = 0; i < f->op_count; i++) {
        apply_op(&f->durable, &f->durable_len, &f->ops[i], f->ops[i].len, 0);
        free(f->ops[i].data);
    }
    f->op_count = 0;
}

static void
model_dir_sync(int fd)
{
    char path[512];
    size_t n;
    if (!g.active || !fd_path(fd, path, sizeof(path))) return;
    n = strlen(path);
    for (int32_t i = 0; i < g.count; i++)
        if (strncmp(g.files[i].path, path, n) == 0 && g.files[i].path[n] == '/') g.files[i].entry_durable = true;
}

static void
model_reset(void)
{
    for (int32_t i = 0; i < g.count; i++) {
        for (int32_t j = 0; j < g.files[i].op_count; j++) free(g.files[i].ops[j].data);
        free(g.files[i].ops);
        free(g.files[i].durable);
    }
    g.count = 0;
}

/* ---- the interposed calls ---- */

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t pos)
{
    ssize_t r = syscall(SYS_pwrite64, fd, buf, n, pos);
    mfile_t *f = r > 0 ? model_file(fd) : NULL;
    if (f) model_op(f, false, pos, buf, (size_t)r);
    return r;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    mfile_t *f = model_file(fd);
    struct stat st;
    off_t pos = f ? lseek(fd, 0, SEEK_CUR) : 0;
    if (f && (fcntl(fd, F_GETFL) & O_APPEND) && fstat(fd, &st) == 0) pos = st.st_size;
    ssize_t r = syscall(SYS_write, fd, buf, n);
    if (f && r > 0) model_op(f, false, pos, buf, (size_t)r);
    return r;
}

int
ftruncate(int fd, off_t len)
{
    int r = (int)syscall(SYS_ftruncate, fd, len);
    mfile_t *f = r == 0 ? model_file(fd) : NULL;
    if (f) model_op(f, true, len, NULL, 0);
    return r;
}

static int
sync_common(int fd, long nr)
{
    struct stat st;
    /* Crash images are thrown away: their durability does not matter, speed does. */
    if (!g.active) return 0;
    g.sync_calls++;
    if (g.fail_syncs > 0) {
        g.fail_syncs--;
        errno = EIO;
        return -1;
    }
    int r = (int)syscall(nr, fd);
    if (r != 0) return r;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        model_dir_sync(fd);
    } else {
        mfile_t *f = model_file(fd);
        if (f) model_sync(f);
    }
    return 0;
}

int
fdatasync(int fd)
{
    return sync_common(fd, SYS_fdatasync);
}

int
fsync(int fd)
{
    return sync_common(fd, SYS_fsync);
}

/* ---- crash images ---- */

typedef struct crash_ctx {
    uint64_t rng;
    int mode;
    int32_t vanish_from; /* modelled files from this index on whose entry is not durable vanish */
} crash_ctx_t;

static uint64_t
rnd(crash_ctx_t *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static void
put_file(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = syscall(SYS_write, fd, p + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    close(fd);
}

/* What a modelled .log holds on disk after a crash in c->mode; false: it is gone. */
static bool
crash_contents(crash_ctx_t *c, const mfile_t *f, uint8_t **out, size_t *out_len)
{
    uint8_t *buf = malloc(f->durable_len + 1);
    size_t len = f->durable_len;
    int32_t cut = f->op_count;

    if (len) memcpy(buf, f->durable, len);
    if (!f->entry_durable && f - g.files >= c->vanish_from) {
        free(buf);
        return false;
    }
    if (c->mode == MODE_NONE) cut = 0;
    if (c->mode == MODE_TORN) cut = f->op_count ? (int32_t)(rnd(c) % (uint64_t)(f->op_count + 1)) : 0;
    for (int32_t i = 0; i < f->op_count; i++) {
        const op_t *o = &f->ops[i];
        if (c->mode == MODE_RANDOM) {
            if (o->trunc) {
                if (rnd(c) % 2) apply_op(&buf, &len, o, 0, 0);
                continue;
            }
            /* Sector by sector: some reach the disk, some do not. */
            for (size_t s = 0; s < o->len; s += SECTOR) {
                if (rnd(c) % 2) continue;
                size_t n = SK_MIN(o->len, s + SECTOR);
                apply_op(&buf, &len, o, n, s);
            }
            continue;
        }
        if (i < cut) {
            apply_op(&buf, &len, o, o->len, 0);
        } else if (i == cut && c->mode == MODE_TORN && !o->trunc && o->len > 0) {
            size_t part = (size_t)(rnd(c) % o->len);
            apply_op(&buf, &len, o, part, 0);
            if (rnd(c) % 2) { /* garbage where the rest should have been */
                size_t end = (size_t)o->pos + o->len;
                if (end > len) {
                    buf = realloc(buf, end);
                    len = end;
                }
                for (size_t k = (size_t)o->pos + part; k < end; k++) buf[k] = (uint8_t)rnd(c);
            }
        }
    }
    *out = buf;
    *out_len = len;
    return true;
}

static const mfile_t *
model_lookup(const char *path)
{
    for (int32_t i = 0; i < g.count; i++)
        if (strcmp(g.files[i].path, path) == 0) return &g.files[i];
    return NULL;
}

#endif
