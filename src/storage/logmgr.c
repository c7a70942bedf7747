/* storage/logmgr.c: the log manager of one data directory: finds and opens every
 * <topic>-<partition> directory (topic names may contain '-': the partition is what
 * follows the last one), removes leftovers of deletions (*-delete), reads and writes the
 * data dir's three offset checkpoints, and keeps the clean-shutdown marker: written by
 * sk_logmgr_close only when every log was flushed and sealed, removed on open, so its
 * presence means the indexes and sizes on disk can be trusted.
 * Owns its logs (map key "<topic>-<partition>"). Runs on one thread; fsyncs the flush
 * policies ask for go to the attached flusher (flusher.c) and removed files to the
 * attached trash thread (trash.c), both borrowed.
 * Format: docs/storage-format.md. */
#include "storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define TOPIC_NAME_MAX 249

#define LOCK_FILE ".lock"

struct sk_logmgr {
    char *dir;               /* owned */
    int lock_fd;             /* owned: holds an exclusive flock on <dir>/.lock */
    sk_log_config_t defaults;
    sk_map_t logs;           /* "<topic>-<partition>" -> sk_log_t * (owned) */
    bool offline;            /* a write or fsync failed: every log refuses appends */
    sk_flusher_t *flusher;   /* borrowed: runs the fsyncs (NULL: on this thread) */
    sk_trash_t *trash;       /* borrowed: removes deleted files (NULL: at once) */
};

bool
sk_logmgr_offline(const sk_logmgr_t *mgr)
{
    return mgr->offline;
}

const char *
sk_logmgr_dir(const sk_logmgr_t *mgr)
{
    return mgr->dir;
}

static int
tp_key(char *out, size_t cap, const char *topic, int32_t partition)
{
    int n = snprintf(out, cap, "%s-%d", topic, partition);
    return (n > 0 && (size_t)n < cap) ? n : -1;
}

/* Kafka's legal topic names: [a-zA-Z0-9._-]{1,249}, not "." or "..". */
static bool
topic_name_ok(const char *t, size_t n)
{
    if (n == 0 || n > TOPIC_NAME_MAX) return false;
    if ((n == 1 && t[0] == '.') || (n == 2 && t[0] == '.' && t[1] == '.')) return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* "<topic>-<partition>" -> topic (copied into topic_out) and partition. */
static bool
tp_parse(const char *name, char *topic_out, size_t cap, int32_t *partition)
{
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1]) return false;
    int64_t p = 0;
    for (const char *c = dash + 1; *c; c++) {
        if (*c < '0' || *c > '9' || p > INT32_MAX / 10) return false;
        p = p * 10 + (*c - '0');
    }
    if (p > INT32_MAX) return false;
    size_t n = (size_t)(dash - name);
    if (n >= cap || !topic_name_ok(name, n)) return false;
    memcpy(topic_out, name, n);
    topic_out[n] = '\0';
    *partition = (int32_t)p;
    return true;
}

/* Remove a partition directory's files, then the directory (no recursion: partition
 * directories hold only files). */
static int
remove_dir_files(const char *path)
{
    char file[SK_PATH_MAX];
    struct dirent *de;
    int rc = SK_OK;
    DIR *d = opendir(path);

    if (!d) return errno == ENOENT ? SK_OK : SK_EIO;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        if (unlink(file) != 0) rc = SK_EIO;
    }
    closedir(d);
    if (rmdir(path) != 0) rc = SK_EIO;
    return rc;
}

typedef struct mgr_ckpts {
    sk_ckpt_t recovery, hw, start, cleaner;
} mgr_ckpts_t;

static void
ckpt_load(sk_ckpt_t *c, const char *dir, const char *name)
{
    char path[SK_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int rc = sk_ckpt_read(c, path);
    if (rc != SK_OK) SK_WARN("event=bad_checkpoint path=%s rc=%s", path, sk_strerror(rc));
}

/* Index a checkpoint by "<topic>-<partition>" for O(1) lookups while opening. */
static int
ckpt_index(const sk_ckpt_t *c, sk_map_t *m)
{
    char key[TOPIC_NAME_MAX + 16];
    sk_map_init(m);
    for (int32_t i = 0; i < c->count; i++) {
        int n = tp_key(key, sizeof(key), c->v[i].topic, c->v[i].partition);
        if (n < 0) continue;
        if (sk_map_put(m, key, (size_t)n, &c->v[i].offset) != SK_OK) return SK_ENOMEM;
    }
    return SK_OK;
}

static int64_t
ckpt_lookup(const sk_map_t *m, const char *key)
{
    const int64_t *v = sk_map_get(m, key, strlen(key));
    return v ? *v : -1;
}

static void
mgr_free(sk_logmgr_t *mgr)
{
    sk_map_entry_t *e;
    for (size_t i = 0; sk_map_next(&mgr->logs, &i, &e);) sk_log_close(e->value, false);
    sk_map_deinit(&mgr->logs);
    if (mgr->lock_fd >= 0) close(mgr->lock_fd);
    free(mgr->dir);
    free(mgr);
}

/* One process per data directory, as Kafka's .lock file ensures: a second broker on the
 * same directory would interleave appends and checkpoints. */
static int
mgr_lock(sk_logmgr_t *mgr)
{
    char path[SK_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", mgr->dir, LOCK_FILE);
    mgr->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (mgr->lock_fd < 0) return SK_EIO;
    if (flock(mgr->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        SK_ERROR("event=data_dir_locked dir=%s reason=\"another process is using this data directory\"", mgr->dir);
        return SK_EEXIST;
    }
    return SK_OK;
}

static int
mgr_open_log(sk_logmgr_t *mgr, const char *name, bool clean, sk_map_t idx[4])
{
    char topic[TOPIC_NAME_MAX + 1], path[SK_PATH_MAX];
    int32_t partition;
    sk_log_t *log = NULL;

    if (!tp_parse(name, topic, sizeof(topic), &partition)) {
        SK_WARN("event=skip_unknown_dir dir=%s/%s", mgr->dir, name);
        return SK_OK;
    }
    snprintf(path, sizeof(path), "%s/%s", mgr->dir, name);
    sk_trash_sweep_dir(path); /* .deleted files a crash left behind */
    sk_log_open_args_t a = {
        .dir = path,
        .topic = topic,
        .partition = partition,
        .cfg = &mgr->defaults,
        .clean = clean,
        .recovery_point = ckpt_lookup(&idx[0], name),
        .hw = ckpt_lookup(&idx[1], name),
        .start_offset = ckpt_lookup(&idx[2], name),
    };
    int rc = sk_log_open(&a, &log);
    if (rc != SK_OK) {
        SK_ERROR("event=log_open_failed dir=%s rc=%s", path, sk_strerror(rc));
        return rc;
    }
    log->dir_offline = &mgr->offline;
    log->flusher = mgr->flusher;
    log->trash = mgr->trash;
    log->clean_offset = ckpt_lookup(&idx[3], name);
    rc = sk_map_put(&mgr->logs, name, strlen(name), log);
    if (rc != SK_OK) sk_log_close(log, false);
    return rc;
}

static int
mgr_scan(sk_logmgr_t *mgr, bool clean, sk_map_t idx[4])
{
    char path[SK_PATH_MAX];
    struct dirent *de;
    struct stat st;
    int rc = SK_OK;
    DIR *d = opendir(mgr->dir);

    if (!d) return SK_EIO;
    while (rc == SK_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        size_t n = strlen(de->d_name);
        if (n > 7 && strcmp(de->d_name + n - 7, "-delete") == 0) {
            if (remove_dir_files(path) != SK_OK) SK_WARN("event=delete_leftover_failed dir=%s", path);
            continue;
        }
        rc = mgr_open_log(mgr, de->d_name, clean, idx);
    }
    closedir(d);
    return rc;
}

int
sk_logmgr_open(const char *dir, const sk_log_config_t *defaults, sk_logmgr_t **out)
{
    char marker[SK_PATH_MAX];
    mgr_ckpts_t ck = {0};
    sk_map_t idx[4];
    int rc = SK_ENOMEM;
    sk_logmgr_t *mgr = calloc(1, sizeof(*mgr));

    for (int i = 0; i < 4; i++) sk_map_init(&idx[i]);
    if (mgr) mgr->lock_fd = -1;
    if (!mgr || !(mgr->dir = strdup(dir))) goto fail;
    mgr->defaults = *defaults;
    sk_map_init(&mgr->logs);
    rc = sk_mkdir_p(dir);
    if (rc == SK_OK) rc = mgr_lock(mgr);
    if (rc != SK_OK) goto fail;
    snprintf(marker, sizeof(marker), "%s/%s", dir, SK_CLEAN_SHUTDOWN_FILE);
    bool clean = access(marker, F_OK) == 0;
    ckpt_load(&ck.recovery, dir, SK_CKPT_RECOVERY);
    ckpt_load(&ck.hw, dir, SK_CKPT_REPLICATION);
    ckpt_load(&ck.start, dir, SK_CKPT_LOG_START);
    ckpt_load(&ck.cleaner, dir, SK_CKPT_CLEANER);
    rc = ckpt_index(&ck.recovery, &idx[0]);
    if (rc == SK_OK) rc = ckpt_index(&ck.hw, &idx[1]);
    if (rc == SK_OK) rc = ckpt_index(&ck.start, &idx[2]);
    if (rc == SK_OK) rc = ckpt_index(&ck.cleaner, &idx[3]);
    if (rc == SK_OK) rc = mgr_scan(mgr, clean, idx);
    if (rc != SK_OK) goto fail;
    if (clean) {
        /* From here on a crash must lead to recovery. */
        if (unlink(marker) != 0 || sk_fsync_dir(dir) != SK_OK) {
            rc = SK_EIO;
            goto fail;
        }
    }
    SK_INFO("event=logmgr_open dir=%s logs=%zu clean=%d", dir, mgr->logs.count, clean);
    *out = mgr;
    rc = SK_OK;
    goto done;
fail:
    if (mgr) {
        if (mgr->dir) mgr_free(mgr);
        else free(mgr);
    }
done:
    for (int i = 0; i < 4; i++) sk_map_deinit(&idx[i]);
    sk_ckpt_free(&ck.recovery);
    sk_ckpt_free(&ck.hw);
    sk_ckpt_free(&ck.start);
    sk_ckpt_free(&ck.cleaner);
    return rc;
}

/* cleaner-offset-checkpoint: one line per log that has been cleaned. */
int
sk_logmgr_checkpoint_cleaner(sk_logmgr_t *mgr)
{
    char path[SK_PATH_MAX];
    sk_ckpt_t ck = {0};
    sk_map_entry_t *e;
    int rc = SK_OK;

    for (size_t i = 0; rc == SK_OK && sk_map_next(&mgr->logs, &i, &e);) {
        const sk_log_t *log = e->value;
        if (log->clean_offset >= 0) rc = sk_ckpt_add(&ck, log->topic, log->partition, log->clean_offset);
    }
    if (rc == SK_OK) {
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, SK_CKPT_CLEANER);
        rc = sk_ckpt_write(&ck, path);
    }
    sk_ckpt_free(&ck);
    return rc;
}

int
sk_logmgr_checkpoint(sk_logmgr_t *mgr)
{
    char path[SK_PATH_MAX];
    mgr_ckpts_t ck = {0};
    sk_map_entry_t *e;
    int rc = SK_OK;

    for (size_t i = 0; rc == SK_OK && sk_map_next(&mgr->logs, &i, &e);) {
        const sk_log_t *log = e->value;
        rc = sk_ckpt_add(&ck.recovery, log->topic, log->partition, log->recovery_point);
        if (rc == SK_OK) rc = sk_ckpt_add(&ck.hw, log->topic, log->partition, log->hw);
        if (rc == SK_OK) rc = sk_ckpt_add(&ck.start, log->topic, log->partition, log->start_offset);
    }
    if (rc == SK_OK) {
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, SK_CKPT_RECOVERY);
        rc = sk_ckpt_write(&ck.recovery, path);
    }
    if (rc == SK_OK) {
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, SK_CKPT_REPLICATION);
        rc = sk_ckpt_write(&ck.hw, path);
    }
    if (rc == SK_OK) {
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, SK_CKPT_LOG_START);
        rc = sk_ckpt_write(&ck.start, path);
    }
    if (rc == SK_OK) rc = sk_logmgr_checkpoint_cleaner(mgr);
    sk_ckpt_free(&ck.recovery);
    sk_ckpt_free(&ck.hw);
    sk_ckpt_free(&ck.start);
    return rc;
}

void
sk_logmgr_close(sk_logmgr_t *mgr)
{
    char marker[SK_PATH_MAX];
    sk_map_entry_t *e;
    bool ok = true;

    if (!mgr) return;
    /* Jobs in flight finish first (a directory fsync may be among them). */
    sk_flusher_drain(mgr->flusher);
    for (size_t i = 0; sk_map_next(&mgr->logs, &i, &e);) {
        sk_log_t *log = e->value;
        if (sk_log_offline(log) || sk_log_flush(log) != SK_OK) ok = false;
    }
    if (sk_logmgr_checkpoint(mgr) != SK_OK) ok = false;
    for (size_t i = 0; sk_map_next(&mgr->logs, &i, &e);) {
        sk_log_t *log = e->value;
        if (sk_log_close(log, !sk_log_offline(log)) != SK_OK) ok = false;
    }
    sk_map_deinit(&mgr->logs);
    if (ok) {
        snprintf(marker, sizeof(marker), "%s/%s", mgr->dir, SK_CLEAN_SHUTDOWN_FILE);
        if (sk_write_file_atomic(marker, "", 0, true) != SK_OK) SK_ERROR("event=clean_marker_failed dir=%s", mgr->dir);
    } else {
        SK_WARN("event=unclean_close dir=%s", mgr->dir);
    }
    if (mgr->lock_fd >= 0) close(mgr->lock_fd);
    free(mgr->dir);
    free(mgr);
}

sk_log_t *
sk_logmgr_get(sk_logmgr_t *mgr, const char *topic, int32_t partition)
{
    char key[TOPIC_NAME_MAX + 16];
    int n = tp_key(key, sizeof(key), topic, partition);
    return n < 0 ? NULL : sk_map_get(&mgr->logs, key, (size_t)n);
}

int
sk_logmgr_create(sk_logmgr_t *mgr, const char *topic, int32_t partition, const sk_uuid_t *topic_id,
                 const sk_log_config_t *cfg, sk_log_t **out)
{
    char key[TOPIC_NAME_MAX + 16], path[SK_PATH_MAX];
    struct stat st;
    sk_log_t *log = NULL;
    int n, rc;

    if (!topic_name_ok(topic, strlen(topic)) || partition < 0) return SK_EINVAL;
    n = tp_key(key, sizeof(key), topic, partition);
    if (n < 0) return SK_EINVAL;
    if (sk_map_get(&mgr->logs, key, (size_t)n)) return SK_EEXIST;
    snprintf(path, sizeof(path), "%s/%s", mgr->dir, key);
    if (stat(path, &st) == 0) return SK_EEXIST;
    if (mgr->offline) return SK_EIO;
    rc = sk_log_create_new(path, topic, partition, topic_id, cfg ? cfg : &mgr->defaults, &log);
    if (rc != SK_OK) return rc;
    log->dir_offline = &mgr->offline;
    log->flusher = mgr->flusher;
    log->trash = mgr->trash;
    rc = sk_fsync_dir(mgr->dir);
    if (rc == SK_OK) rc = sk_map_put(&mgr->logs, key, (size_t)n, log);
    if (rc != SK_OK) {
        sk_log_close(log, false);
        remove_dir_files(path);
        return rc;
    }
    if (out) *out = log;
    return SK_OK;
}

int
sk_logmgr_delete(sk_logmgr_t *mgr, const char *topic, int32_t partition)
{
    char key[TOPIC_NAME_MAX + 16], from[SK_PATH_MAX], to[SK_PATH_MAX];
    sk_uuid_t id;
    int n = tp_key(key, sizeof(key), topic, partition);
    sk_log_t *log = n < 0 ? NULL : sk_map_del(&mgr->logs, key, (size_t)n);

    if (!log) return SK_ENOENT;
    sk_log_close(log, false);
    sk_uuid_random(&id);
    n = snprintf(to, sizeof(to), "%s/%s.", mgr->dir, key);
    for (int i = 0; i < 16; i++) n += snprintf(to + n, sizeof(to) - (size_t)n, "%02x", id.b[i]);
    snprintf(to + n, sizeof(to) - (size_t)n, "-delete");
    snprintf(from, sizeof(from), "%s/%s", mgr->dir, key);
    if (rename(from, to) != 0 || sk_fsync_dir(mgr->dir) != SK_OK) {
        SK_ERROR("event=delete_rename_failed dir=%s errno=%d", from, errno);
        return SK_EIO;
    }
    /* Once renamed the log is gone; the files go on the trash thread. A failure there
     * leaves a -delete dir that the next open removes. */
    sk_trash_dir(mgr->trash, to);
    return SK_OK;
}

void
sk_logmgr_foreach(sk_logmgr_t *mgr, sk_log_visit_cb cb, void *ctx)
{
    sk_map_entry_t *e;
    for (size_t i = 0; sk_map_next(&mgr->logs, &i, &e);) cb(ctx, e->value);
}

int
sk_logmgr_flush_due(sk_logmgr_t *mgr, int64_t now_ms)
{
    sk_map_entry_t *e;
    int rc = SK_OK;
    for (size_t i = 0; sk_map_next(&mgr->logs, &i, &e);) {
        sk_log_t *log = e->value;
        if (sk_log_offline(log) || log->unflushed_records == 0 || log->cfg.flush_interval_ms == INT64_MAX) continue;
        if (log->dirty_since_ms < 0) log->dirty_since_ms = now_ms;
        if (now_ms - log->dirty_since_ms >= log->cfg.flush_interval_ms) {
            int r = sk_log_flush_request(log); /* on the flusher when there is one */
            if (r != SK_OK) rc = r;
        }
    }
    return rc;
}

static void
mgr_attach(void *ctx, sk_log_t *log)
{
    const sk_logmgr_t *mgr = ctx;
    log->flusher = mgr->flusher;
    log->trash = mgr->trash;
}

void
sk_logmgr_set_flusher(sk_logmgr_t *mgr, sk_flusher_t *f)
{
    if (mgr->flusher && mgr->flusher != f) sk_flusher_drain(mgr->flusher);
    mgr->flusher = f;
    sk_logmgr_foreach(mgr, mgr_attach, mgr);
}

void
sk_logmgr_set_trash(sk_logmgr_t *mgr, sk_trash_t *t)
{
    mgr->trash = t;
    sk_logmgr_foreach(mgr, mgr_attach, mgr);
}

int
sk_logmgr_disk_space(const sk_logmgr_t *mgr, int64_t *total_bytes, int64_t *usable_bytes)
{
    struct statvfs st;
    if (statvfs(mgr->dir, &st) != 0) return SK_EIO;
    *total_bytes = (int64_t)st.f_blocks * (int64_t)st.f_frsize;
    *usable_bytes = (int64_t)st.f_bavail * (int64_t)st.f_frsize;
    return SK_OK;
}
