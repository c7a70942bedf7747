/* storage/flusher.c: the group-commit flusher. fsync runs on a worker thread, never on
 * the loop thread that owns the logs.
 *
 * The loop thread asks for "everything of log L below offset X durable" (a waiter, or a
 * bare request from the flush.messages / flush.ms policies). A log has at most one job
 * in flight: the job holds dup()ed descriptors of the files to sync (the unsynced
 * segments from the recovery point on, the indexes of the sealed ones among them, and
 * the partition directory when a segment was created since its last sync; the active
 * segment's indexes are rebuilt by recovery), so a segment rolled, closed or deleted
 * meanwhile never closes a descriptor the worker is using (an fsync through a dup
 * syncs the same open file). A request for a log whose job still waits in the queue
 * extends that job to the LEO; requests arriving while a log's job runs are batched
 * into the next one, which covers the LEO as of the moment the first job finished. The
 * worker takes every queued job of every log in one go. The worker reports back
 * through the wake callback (the broker's ev_async); the loop thread then calls
 * sk_flusher_poll, which moves recovery points and completes waiters in offset order.
 * A failed fsync takes the data dir offline (sk_log_offline) and fails every waiter of
 * that log with SK_EIO; nothing is ever fsynced again for that log (no retry).
 *
 * Threads: the worker touches only the job's descriptors and its rc/timing fields; the
 * job's log pointer, the logs and the waiters belong to the loop thread. The mutex
 * guards the two queues and the counters. Unthreaded mode (tests): sk_flusher_work runs
 * the queued jobs on the caller's thread. Invariants: log->flush_job is the log's only
 * job in flight; waiters of a log are sorted by offset; a waiter is completed once. */
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#define FLUSH_JOB_FDS_MAX 64 /* descriptors per job; a log with more unsynced segments
                                gets the rest in its next job */

typedef struct flush_fd {
    int fd;        /* owned: a dup */
    bool data_only; /* fdatasync (segment .log) rather than fsync */
} flush_fd_t;

struct flush_job {
    struct flush_job *next;
    sk_log_t *log;          /* loop thread only: borrowed; NULL once the log closed */
    int64_t target;         /* LEO when submitted: everything below is synced on success */
    int64_t active_base;    /* base offset of the active segment when submitted */
    int64_t covered_end;    /* next_offset of the last segment the job covers */
    flush_fd_t fds[FLUSH_JOB_FDS_MAX]; /* owned */
    int32_t fd_count;
    bool has_dir;           /* fds include the partition directory */
    bool taken;             /* mu: the worker took it; until then the loop may extend it */
    int rc;                 /* worker: SK_OK or SK_EIO */
    int err;                /* worker: errno of the failed sync */
};

struct sk_flusher {
    bool threaded;
    bool started;           /* thread created */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* worker waits for jobs; drain waits for idle */
    flush_job_t *todo;      /* mu: submitted, oldest first */
    flush_job_t *todo_tail;
    flush_job_t *done;      /* mu: finished, oldest first */
    flush_job_t *done_tail;
    bool busy;              /* mu: the worker holds a batch */
    bool stop;              /* mu */
    sk_flusher_stats_t stats; /* mu */
    int32_t inflight;       /* loop thread: submitted and not yet polled */
    sk_flusher_wake_fn wake; /* called on the worker thread when jobs finished */
    void *wake_ctx;
};

/* ---- worker side ---- */

static void
job_run(flush_job_t *j, sk_flusher_stats_t *st)
{
    j->rc = SK_OK;
    for (int32_t i = 0; i < j->fd_count; i++) {
        int r = j->fds[i].data_only ? fdatasync(j->fds[i].fd) : fsync(j->fds[i].fd);
        st->fsync_calls++;
        if (r != 0) {
            /* Stop at the first failure: the dir goes offline, nothing is retried. */
            j->rc = SK_EIO;
            j->err = errno;
            return;
        }
    }
}

static void
queue_push(flush_job_t **head, flush_job_t **tail, flush_job_t *j)
{
    j->next = NULL;
    if (*tail) (*tail)->next = j;
    else *head = j;
    *tail = j;
}

/* Run every queued job once; returns how many ran. */
static int32_t
flusher_run_batch(sk_flusher_t *f)
{
    sk_flusher_stats_t st = {0};
    int32_t n = 0;

    pthread_mutex_lock(&f->mu);
    flush_job_t *batch = f->todo;
    f->todo = f->todo_tail = NULL;
    f->busy = batch != NULL;
    for (flush_job_t *j = batch; j; j = j->next) j->taken = true;
    pthread_mutex_unlock(&f->mu);
    if (!batch) return 0;
    for (flush_job_t *j = batch; j; j = j->next, n++) job_run(j, &st);
    pthread_mutex_lock(&f->mu);
    while (batch) {
        flush_job_t *next = batch->next;
        queue_push(&f->done, &f->done_tail, batch);
        batch = next;
    }
    f->stats.fsync_calls += st.fsync_calls;
    f->stats.batches++;
    f->stats.jobs += n;
    f->busy = false;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->wake) f->wake(f->wake_ctx);
    return n;
}

static void *
flusher_main(void *arg)
{
    sk_flusher_t *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (!f->todo && !f->stop) pthread_cond_wait(&f->cv, &f->mu);
        bool quit = f->stop && !f->todo;
        pthread_mutex_unlock(&f->mu);
        if (quit) return NULL;
        flusher_run_batch(f);
    }
}

int
sk_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits this mask */
    int r = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r == 0 ? SK_OK : SK_EIO;
}

/* ---- loop side ---- */

int
sk_flusher_new(bool threaded, sk_flusher_wake_fn wake, void *wake_ctx, sk_flusher_t **out)
{
    sk_flusher_t *f = calloc(1, sizeof(*f));
    if (!f) return SK_ENOMEM;
    f->threaded = threaded;
    f->wake = wake;
    f->wake_ctx = wake_ctx;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (threaded) {
        if (sk_thread_start(&f->thread, flusher_main, f) != SK_OK) {
            pthread_cond_destroy(&f->cv);
            pthread_mutex_destroy(&f->mu);
            free(f);
            return SK_EIO;
        }
        f->started = true;
    }
    *out = f;
    return SK_OK;
}

static void
job_free(flush_job_t *j)
{
    for (int32_t i = 0; i < j->fd_count; i++) close(j->fds[i].fd);
    free(j);
}

void
sk_flusher_free(sk_flusher_t *f)
{
    if (!f) return;
    if (f->started) {
        pthread_mutex_lock(&f->mu);
        f->stop = true;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thread, NULL);
    } else {
        while (flusher_run_batch(f) > 0) {}
    }
    sk_flusher_poll(f); /* logs still open get their results */
    SK_ASSERT(f->todo == NULL && f->done == NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int32_t
sk_flusher_work(sk_flusher_t *f)
{
    SK_ASSERT(!f->threaded);
    return flusher_run_batch(f);
}

void
sk_flusher_drain(sk_flusher_t *f)
{
    if (!f) return;
    while (f->inflight > 0) {
        if (f->threaded) {
            pthread_mutex_lock(&f->mu);
            while (f->todo || f->busy) pthread_cond_wait(&f->cv, &f->mu);
            pthread_mutex_unlock(&f->mu);
        } else {
            flusher_run_batch(f);
        }
        sk_flusher_poll(f); /* may submit follow-up jobs */
    }
}

void
sk_flusher_stats(sk_flusher_t *f, sk_flusher_stats_t *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}

static bool
job_add_fd(flush_job_t *j, int fd, bool data_only)
{
    if (fd < 0) return true;
    if (j->fd_count == FLUSH_JOB_FDS_MAX) return false;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return false;
    j->fds[j->fd_count].fd = d;
    j->fds[j->fd_count].data_only = data_only;
    j->fd_count++;
    return true;
}

/* Describe what must be synced for everything below the LEO to be durable. */
static int
job_build(sk_log_t *log, flush_job_t *j)
{
    sk_seg_t *from = sk_log_seg_for(log, log->recovery_point);
    int32_t i = 0;

    while (from && log->segs[i] != from) i++;
    j->target = log->leo;
    j->active_base = log->segs[log->seg_count - 1]->base_offset;
    j->covered_end = log->leo;
    for (; i < log->seg_count; i++) {
        sk_seg_t *seg = log->segs[i];
        if (seg->synced) continue;
        if (j->fd_count + 4 > FLUSH_JOB_FDS_MAX) { /* 3 files + the directory */
            /* Too many unsynced segments for one job: cover those that fit. */
            j->target = j->covered_end = seg->base_offset;
            break;
        }
        /* The active segment's indexes are left out: the recovery point stays inside
         * that segment, so recovery rebuilds them; once sealed, the segment (still
         * not marked synced) comes with its indexes in the next job. Two fewer
         * flushes per round. */
        bool active = i == log->seg_count - 1;
        if (!job_add_fd(j, seg->log->fd, true) || (!active && !job_add_fd(j, seg->oidx.fd, false)) ||
            (!active && !job_add_fd(j, seg->tidx.fd, false)))
            return SK_EIO;
    }
    if (log->dir_dirty) {
        /* The directory entry of a new segment: needed after a power loss. */
        int dfd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) return SK_EIO;
        j->fds[j->fd_count].fd = dfd;
        j->fds[j->fd_count].data_only = false;
        j->fd_count++;
        j->has_dir = true;
        log->dir_dirty = false;
    }
    return SK_OK;
}

static void
log_flush_failed(sk_log_t *log, int err, const char *what)
{
    log->offline = true;
    if (log->dir_offline) *log->dir_offline = true;
    SK_ERROR("event=flush_failed tp=%s-%d what=%s errno=%d action=data_dir_offline", log->topic, log->partition,
             what, err);
}

/* Start a job for log now (the caller checked none is in flight). */
static int
flusher_submit(sk_flusher_t *f, sk_log_t *log)
{
    flush_job_t *j;
    int rc;

    SK_ASSERT(log->flush_job == NULL);
    if (sk_log_offline(log)) return SK_EIO;
    j = calloc(1, sizeof(*j));
    if (!j) return SK_ENOMEM;
    j->log = log;
    rc = job_build(log, j);
    if (rc != SK_OK) {
        log_flush_failed(log, errno, "dup");
        job_free(j);
        return rc;
    }
    log->flush_job = j;
    log->flush_again = false;
    log->unflushed_records = 0;
    log->dirty_since_ms = -1;
    f->inflight++;
    pthread_mutex_lock(&f->mu);
    queue_push(&f->todo, &f->todo_tail, j);
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return SK_OK;
}

/* A request while the log's job waits in the queue: the job is rebuilt to cover the
 * LEO now, so it is answered by that job rather than the next. false when the worker
 * has taken the job already. */
static bool
flusher_extend(sk_flusher_t *f, sk_log_t *log)
{
    flush_job_t *j = log->flush_job;
    bool done = false;

    pthread_mutex_lock(&f->mu);
    if (!j->taken && j->target < log->leo) {
        for (int32_t i = 0; i < j->fd_count; i++) close(j->fds[i].fd);
        j->fd_count = 0;
        if (j->has_dir) log->dir_dirty = true;
        j->has_dir = false;
        done = job_build(log, j) == SK_OK;
        if (!done) {
            /* Keep what was built: the request waits for the next job instead. */
            for (int32_t i = 0; i < j->fd_count; i++) close(j->fds[i].fd);
            j->fd_count = 0;
            j->target = j->covered_end = j->active_base = -1;
            log->dir_dirty = true;
            log->flush_again = true;
        }
    } else if (!j->taken) {
        done = true; /* it already covers the LEO */
    }
    pthread_mutex_unlock(&f->mu);
    return done;
}

/* Complete (and unlink) the waiters of log with offset <= upto, or all with rc. */
static void
waiters_complete(sk_log_t *log, int64_t upto, int rc)
{
    while (log->waiters && (rc != SK_OK || log->waiters->offset <= upto)) {
        sk_flush_waiter_t *w = log->waiters;
        log->waiters = w->next;
        if (log->waiters) log->waiters->prev = NULL;
        else log->waiters_tail = NULL;
        w->next = w->prev = NULL;
        w->log = NULL;
        w->done(w, rc);
    }
}

/* A job of a still open log finished: move the durable point and the recovery point. */
static void
job_apply(sk_log_t *log, flush_job_t *j)
{
    const sk_seg_t *active = log->segs[log->seg_count - 1];
    int64_t durable = SK_MIN(j->target, log->leo);

    if (j->rc != SK_OK) {
        log_flush_failed(log, j->err, "fsync");
        waiters_complete(log, 0, SK_EIO);
        return;
    }
    log->durable_offset = SK_MAX(log->durable_offset, durable);
    /* Sealed segments the job covered need no fsync again; their index descriptors
     * are not needed any more (as sk_seg_sync does). */
    for (int32_t i = 0; i < log->seg_count - 1; i++) {
        sk_seg_t *seg = log->segs[i];
        if (seg->base_offset >= j->active_base || seg->next_offset > j->covered_end || seg->synced) continue;
        if (seg->oidx.fd >= 0) close(seg->oidx.fd);
        if (seg->tidx.fd >= 0) close(seg->tidx.fd);
        seg->oidx.fd = seg->tidx.fd = -1;
        seg->synced = true;
    }
    /* The recovery point trusts whole segments below it: if the active segment of the
     * job was sealed meanwhile (its final index entries were not part of the job), it
     * must be re-validated after a crash, so the point stays at its base. */
    int64_t rp = active->base_offset == j->active_base ? durable : SK_MIN(durable, j->active_base);
    log->recovery_point = SK_MAX(log->recovery_point, SK_MIN(rp, log->leo));
    /* The active segment is never marked synced here: its indexes were not synced. */
    waiters_complete(log, log->durable_offset, SK_OK);
}

int32_t
sk_flusher_poll(sk_flusher_t *f)
{
    int32_t n = 0;

    pthread_mutex_lock(&f->mu);
    flush_job_t *list = f->done;
    f->done = f->done_tail = NULL;
    pthread_mutex_unlock(&f->mu);
    while (list) {
        flush_job_t *j = list;
        list = j->next;
        f->inflight--;
        n++;
        sk_log_t *log = j->log;
        if (log) {
            SK_ASSERT(log->flush_job == j);
            log->flush_job = NULL;
            job_apply(log, j);
            /* Requests that came while the job ran form the next batch. */
            if (!sk_log_offline(log) && (log->flush_again || log->waiters)) {
                if (flusher_submit(f, log) != SK_OK) waiters_complete(log, 0, SK_EIO);
            }
        }
        job_free(j);
    }
    return n;
}

/* ---- the log's side (declared in storage.h) ---- */

int
sk_log_flush_request(sk_log_t *log)
{
    if (sk_log_offline(log)) return SK_EIO;
    if (!log->flusher) return sk_log_flush(log);
    if (log->durable_offset >= log->leo && !log->dir_dirty) return SK_OK;
    if (log->flush_job) {
        if (!flusher_extend(log->flusher, log)) log->flush_again = true;
        return SK_OK;
    }
    return flusher_submit(log->flusher, log);
}

int
sk_log_flush_wait(sk_log_t *log, int64_t offset, sk_flush_waiter_t *w, sk_flush_done_fn done, void *ctx)
{
    int rc;

    SK_ASSERT(w && done && offset >= 0);
    if (sk_log_offline(log)) return SK_EIO;
    if (offset <= log->durable_offset) return SK_OK;
    if (!log->flusher) {
        rc = sk_log_flush(log);
        return rc;
    }
    w->log = log;
    w->offset = offset;
    w->done = done;
    w->ctx = ctx;
    /* Offsets asked for grow with the LEO, so this is almost always an append. */
    sk_flush_waiter_t *at = log->waiters_tail;
    while (at && at->offset > offset) at = at->prev;
    w->prev = at;
    w->next = at ? at->next : log->waiters;
    if (w->next) w->next->prev = w;
    else log->waiters_tail = w;
    if (at) at->next = w;
    else log->waiters = w;
    if (log->flush_job) {
        if (!flusher_extend(log->flusher, log)) log->flush_again = true;
        return SK_AGAIN;
    }
    rc = flusher_submit(log->flusher, log);
    if (rc != SK_OK) {
        sk_log_flush_cancel(w);
        return rc;
    }
    return SK_AGAIN;
}

void
sk_log_flush_cancel(sk_flush_waiter_t *w)
{
    sk_log_t *log = w->log;
    if (!log) return;
    if (w->prev) w->prev->next = w->next;
    else log->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    else log->waiters_tail = w->prev;
    w->next = w->prev = NULL;
    w->log = NULL;
}

int64_t
sk_log_durable_offset(const sk_log_t *log)
{
    return log->durable_offset;
}

/* The log is closing: its job (if any) finishes without it, its waiters fail. */
void
sk_log_flush_detach(sk_log_t *log)
{
    if (log->flush_job) {
        log->flush_job->log = NULL;
        log->flush_job = NULL;
    }
    waiters_complete(log, 0, SK_EIO);
}
