/* storage/cleaner_thread.c: the cleaner thread of a log manager (log.cleaner.threads =
 * 1) and its hand-off with the loop thread. The loop thread owns every log; it calls
 * sk_cleaner_poll from its periodic tick, which (1) takes a finished task from the
 * done slot and swaps it in (cleaner_swap.c), and (2) when no task is out and
 * log.cleaner.backoff.ms has passed, picks the log with the highest dirty ratio among
 * the cleanable ones (one due by max.compaction.lag.ms first), describes it in a task
 * and puts it in the todo slot. The thread waits on a condition variable for the todo
 * slot, runs the task (cleaner.c) and puts it in the done slot. The two slots are the
 * only shared state, under one mutex; the task itself is touched by one thread at a
 * time, and its file references are taken and dropped on the loop thread only.
 * Polling from the tick (100 ms) adds at most a tick of latency to a cleaning that
 * takes far longer, and needs no extra watcher. Design: docs/compaction.md. */
#include "storage_int.h"

#include <pthread.h>

struct sk_cleaner {
    sk_logmgr_t *mgr;             /* borrowed */
    sk_cleaner_options_t opt;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sk_clean_task_t *todo;        /* owned; under mu */
    sk_clean_task_t *done;        /* owned; under mu */
    bool stop;                    /* under mu */
    _Atomic int cancel;           /* set at shutdown: the running task gives up */
    bool busy;                    /* loop thread: a task is out (todo, running or done) */
    int64_t last_pick_ms;         /* loop thread */
    sk_clean_stats_t totals;      /* loop thread */
};

static void *
cleaner_main(void *arg)
{
    sk_cleaner_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->todo && !c->stop) pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        sk_clean_task_t *t = c->todo;
        c->todo = NULL;
        pthread_mutex_unlock(&c->mu);
        sk_clean_task_run(t);
        pthread_mutex_lock(&c->mu);
        c->done = t;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int
sk_cleaner_new(sk_logmgr_t *mgr, const sk_cleaner_options_t *opt, sk_cleaner_t **out)
{
    sk_cleaner_t *c = calloc(1, sizeof(*c));
    if (!c) return SK_ENOMEM;
    c->mgr = mgr;
    c->opt = *opt;
    c->last_pick_ms = INT64_MIN / 2;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (opt->threaded) {
        if (sk_thread_start(&c->thread, cleaner_main, c) != SK_OK) { /* signals stay with the loop */
            pthread_cond_destroy(&c->cv);
            pthread_mutex_destroy(&c->mu);
            free(c);
            return SK_EIO;
        }
        c->started = true;
    }
    *out = c;
    return SK_OK;
}

static void
cleaner_release(sk_cleaner_t *c, sk_clean_task_t *t)
{
    if (!t) return;
    sk_log_t *log = sk_logmgr_get(c->mgr, t->topic, t->partition);
    if (log && log->cleaning && t->seg_count > 0 && log->segs[0]->base_offset <= t->segs[0].base_offset)
        log->cleaning = false;
    sk_clean_task_free(t);
}

void
sk_cleaner_free(sk_cleaner_t *c)
{
    if (!c) return;
    if (c->started) {
        /* The running task gives up at its next batch; its .cleaned files are removed
         * when it is freed below. */
        c->cancel = 1;
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    cleaner_release(c, c->todo);
    cleaner_release(c, c->done);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void
sk_cleaner_totals(const sk_cleaner_t *c, sk_clean_stats_t *out)
{
    *out = c->totals;
}

static void
totals_add(sk_clean_stats_t *a, const sk_clean_stats_t *b)
{
    a->bytes_read += b->bytes_read;
    a->bytes_written += b->bytes_written;
    a->records_removed += b->records_removed;
    a->batches_removed += b->batches_removed;
    a->segments_in += b->segments_in;
    a->segments_out += b->segments_out;
    a->elapsed_us += b->elapsed_us;
}

/* Install a finished task into its log (if the log and its segments are still there). */
static bool
cleaner_finish(sk_cleaner_t *c, sk_clean_task_t *t)
{
    sk_log_t *log = sk_logmgr_get(c->mgr, t->topic, t->partition);
    int rc = SK_ENOENT;
    if (log && log->cleaning) rc = sk_clean_task_install(log, t, -1);
    if (rc == SK_OK) {
        const sk_clean_stats_t *st = &t->stats;
        double secs = (double)SK_MAX(st->elapsed_us, 1) / 1e6;
        totals_add(&c->totals, st);
        SK_INFO("event=log_cleaned tp=%s-%d segments_in=%d segments_out=%d bytes_read=%lld bytes_written=%lld "
                "records_removed=%lld clean_offset=%lld elapsed_ms=%lld mb_per_s=%.1f",
                t->topic, t->partition, st->segments_in, st->segments_out, (long long)st->bytes_read,
                (long long)st->bytes_written, (long long)st->records_removed, (long long)st->clean_offset,
                (long long)(st->elapsed_us / 1000), (double)st->bytes_read / 1e6 / secs);
        if (sk_logmgr_checkpoint_cleaner(c->mgr) != SK_OK) SK_WARN("event=cleaner_checkpoint_failed");
    } else {
        SK_INFO("event=log_clean_dropped tp=%s-%d rc=%s", t->topic, t->partition, sk_strerror(rc));
        if (log && log->cleaning) log->cleaning = false;
    }
    sk_clean_task_free(t);
    return rc == SK_OK;
}

typedef struct pick {
    sk_log_t *best;
    double best_ratio;
    bool best_due;
    int64_t now_ms;
} pick_t;

static void
pick_visit(void *ctx, sk_log_t *log)
{
    pick_t *p = ctx;
    sk_clean_check_t ck;
    if (!log->cfg.compact || log->cleaning || sk_log_offline(log)) return;
    sk_log_clean_check(log, p->now_ms, &ck);
    if (!ck.cleanable) return;
    bool due = ck.dirty_ratio <= log->cfg.min_cleanable_ratio; /* due by lag or horizon */
    if (!p->best || (due && !p->best_due) || (due == p->best_due && ck.dirty_ratio > p->best_ratio)) {
        p->best = log;
        p->best_ratio = ck.dirty_ratio;
        p->best_due = due;
    }
}

int32_t
sk_cleaner_poll(sk_cleaner_t *c, int64_t now_ms)
{
    sk_clean_task_t *t = NULL;
    int32_t installed = 0;

    pthread_mutex_lock(&c->mu);
    t = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    if (t) {
        c->busy = false;
        installed += cleaner_finish(c, t) ? 1 : 0;
    }
    if (c->busy || now_ms - c->last_pick_ms < c->opt.backoff_ms) return installed;
    c->last_pick_ms = now_ms;
    pick_t p = {.now_ms = now_ms};
    sk_logmgr_foreach(c->mgr, pick_visit, &p);
    if (!p.best) return installed;
    sk_clean_opts_t o = {.now_ms = now_ms, .map_bytes = c->opt.dedupe_buffer_bytes,
                         .io_buffer_bytes = c->opt.io_buffer_bytes, .swap_stop_step = -1};
    if (sk_clean_task_new(p.best, &o, &t) != SK_OK) return installed;
    t->cancel = &c->cancel;
    c->busy = true;
    if (!c->opt.threaded) {
        sk_clean_task_run(t);
        c->busy = false;
        return installed + (cleaner_finish(c, t) ? 1 : 0);
    }
    pthread_mutex_lock(&c->mu);
    c->todo = t;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return installed;
}
