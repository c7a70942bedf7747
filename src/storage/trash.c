/* storage/trash.c: file deletion off the loop thread (Kafka's file.delete.delay.ms
 * idea, without the delay: readers keep their own descriptors, so a removed segment can
 * go at once). A segment leaving a live log (retention, DeleteRecords, the cleaner's
 * swap) is renamed to <name>.deleted on the loop thread (indexes first, the .log last,
 * so a crash in between leaves either the whole segment or no .log: a segment without
 * its .log is not a segment) and the trash thread unlinks the renamed files; unlinking
 * a large file can block for long on some file systems. A deleted partition's
 * directory, already renamed to <topic>-<partition>.<id>-delete, is emptied and removed
 * there too. Start-up removes .deleted files a crash left behind (sk_trash_sweep_dir);
 * logmgr removes leftover -delete directories.
 *
 * Threads: the queue is guarded by the mutex; items are owned by the queue until the
 * worker removes and frees them. Unthreaded mode (tests): sk_trash_work removes the
 * queued items on the caller's thread. Invariant: a queued path never names a file of
 * a live segment (it was renamed first). */
#include "storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#define TRASH_SUFFIX ".deleted"

typedef struct trash_item {
    struct trash_item *next;
    bool is_dir;
    char path[]; /* owned */
} trash_item_t;

struct sk_trash {
    bool threaded;
    bool started;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    trash_item_t *head, *tail; /* mu: oldest first */
    bool busy;                 /* mu: the worker holds items */
    bool stop;                 /* mu */
    int64_t removed;           /* mu */
};

/* Remove a directory's files, then the directory (partition directories hold only
 * files: no recursion). Returns how many entries were removed. */
static int64_t
trash_remove_dir(const char *path)
{
    char file[SK_PATH_MAX];
    struct dirent *de;
    int64_t n = 0;
    DIR *d = opendir(path);

    if (!d) return 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        if (unlink(file) == 0) n++;
        else SK_WARN("event=trash_unlink_failed path=%s errno=%d", file, errno);
    }
    closedir(d);
    if (rmdir(path) == 0) n++;
    else SK_WARN("event=trash_rmdir_failed path=%s errno=%d", path, errno);
    return n;
}

static int64_t
trash_remove(const trash_item_t *it)
{
    if (it->is_dir) return trash_remove_dir(it->path);
    if (unlink(it->path) == 0) return 1;
    if (errno != ENOENT) SK_WARN("event=trash_unlink_failed path=%s errno=%d", it->path, errno);
    return 0;
}

static int32_t
trash_run_batch(sk_trash_t *t)
{
    int64_t removed = 0;
    int32_t n = 0;

    pthread_mutex_lock(&t->mu);
    trash_item_t *list = t->head;
    t->head = t->tail = NULL;
    t->busy = list != NULL;
    pthread_mutex_unlock(&t->mu);
    while (list) {
        trash_item_t *it = list;
        list = it->next;
        removed += trash_remove(it);
        free(it);
        n++;
    }
    pthread_mutex_lock(&t->mu);
    t->removed += removed;
    t->busy = false;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return n;
}

static void *
trash_main(void *arg)
{
    sk_trash_t *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->mu);
        while (!t->head && !t->stop) pthread_cond_wait(&t->cv, &t->mu);
        bool quit = t->stop && !t->head;
        pthread_mutex_unlock(&t->mu);
        if (quit) return NULL;
        trash_run_batch(t);
    }
}

int
sk_trash_new(bool threaded, sk_trash_t **out)
{
    sk_trash_t *t = calloc(1, sizeof(*t));
    if (!t) return SK_ENOMEM;
    t->threaded = threaded;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (threaded) {
        if (sk_thread_start(&t->thread, trash_main, t) != SK_OK) {
            pthread_cond_destroy(&t->cv);
            pthread_mutex_destroy(&t->mu);
            free(t);
            return SK_EIO;
        }
        t->started = true;
    }
    *out = t;
    return SK_OK;
}

void
sk_trash_free(sk_trash_t *t)
{
    if (!t) return;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        t->stop = true;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    while (trash_run_batch(t) > 0) {}
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int32_t
sk_trash_work(sk_trash_t *t)
{
    SK_ASSERT(!t->threaded);
    return trash_run_batch(t);
}

void
sk_trash_drain(sk_trash_t *t)
{
    if (!t->threaded) {
        while (trash_run_batch(t) > 0) {}
        return;
    }
    pthread_mutex_lock(&t->mu);
    while (t->head || t->busy) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

int64_t
sk_trash_removed(sk_trash_t *t)
{
    pthread_mutex_lock(&t->mu);
    int64_t n = t->removed;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static int
trash_push(sk_trash_t *t, const char *path, bool is_dir)
{
    size_t n = strlen(path);
    trash_item_t *it = malloc(sizeof(*it) + n + 1);
    if (!it) return SK_ENOMEM;
    it->next = NULL;
    it->is_dir = is_dir;
    memcpy(it->path, path, n + 1);
    pthread_mutex_lock(&t->mu);
    if (t->tail) t->tail->next = it;
    else t->head = it;
    t->tail = it;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return SK_OK;
}

int
sk_trash_dir(sk_trash_t *t, const char *path)
{
    if (!t || trash_push(t, path, true) != SK_OK) {
        trash_remove_dir(path);
        return SK_OK;
    }
    return SK_OK;
}

int
sk_log_seg_unlink(sk_log_t *log, int64_t base_offset)
{
    /* Indexes before the .log: see the top of the file. */
    static const char *const exts[] = {".index", ".timeindex", ".txnindex", ".log"};
    char path[SK_PATH_MAX], to[SK_PATH_MAX];
    int rc = SK_OK;

    if (!log->trash) return sk_seg_unlink(log->dir, base_offset);
    for (size_t i = 0; i < SK_ARRAY_LEN(exts); i++) {
        sk_seg_path(path, sizeof(path), log->dir, base_offset, exts[i]);
        int n = snprintf(to, sizeof(to), "%s%s", path, TRASH_SUFFIX);
        if (n < 0 || (size_t)n >= sizeof(to)) return SK_EINVAL;
        if (rename(path, to) != 0) {
            if (errno != ENOENT) rc = SK_EIO;
            continue;
        }
        if (trash_push(log->trash, to, false) != SK_OK && unlink(to) != 0) rc = SK_EIO;
    }
    return rc;
}

void
sk_trash_sweep_dir(const char *dir)
{
    char path[SK_PATH_MAX];
    struct dirent *de;
    size_t m = strlen(TRASH_SUFFIX);
    DIR *d = opendir(dir);

    if (!d) return;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n <= m || strcmp(de->d_name + n - m, TRASH_SUFFIX) != 0) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) != 0) SK_WARN("event=trash_sweep_failed path=%s errno=%d", path, errno);
    }
    closedir(d);
}
