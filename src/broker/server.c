/* broker/server.c: the server object: opens the data dir (log manager + metadata image),
 * binds the listeners, runs the libev loop, a periodic tick (flushes due, idle
 * connections, checkpoints) and stops cleanly on SIGTERM/SIGINT (connections closed,
 * logs flushed, checkpoints and the clean-shutdown marker written). fsyncs run on the
 * storage flusher thread, which wakes the loop through flush_async; segment and topic
 * deletion run on the storage trash thread; compaction runs on the storage cleaner
 * thread, fed and harvested from the tick. */
#include "broker_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_TICK_S 0.1
#define SERVER_CHECKPOINT_MS 60000

static void server_accept_resume(sk_server_t *srv);

static void
server_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    sk_server_t *srv = w->data;
    (void)revents;
    SK_INFO("event=shutdown_requested signal=%d", w->signum);
    srv->stopping = true;
    ev_break(loop, EVBREAK_ALL);
}

/* The flusher thread finished fsyncs: complete what waited for them (parked produces). */
static void
server_on_flushed(struct ev_loop *loop, ev_async *w, int revents)
{
    sk_server_t *srv = w->data;
    (void)loop;
    (void)revents;
    sk_flusher_poll(srv->flusher);
}

/* Runs on the flusher thread: ev_async_send is the one libev call safe from there. */
static void
server_flusher_wake(void *ctx)
{
    sk_server_t *srv = ctx;
    ev_async_send(srv->loop, &srv->flush_async);
}

/* Start the flusher and trash threads and hand them to the log manager. */
static int
server_storage_threads(sk_server_t *srv)
{
    int rc;
    ev_async_init(&srv->flush_async, server_on_flushed);
    srv->flush_async.data = srv;
    ev_async_start(srv->loop, &srv->flush_async);
    if ((rc = sk_flusher_new(true, server_flusher_wake, srv, &srv->flusher)) != SK_OK) return rc;
    if ((rc = sk_trash_new(true, &srv->trash)) != SK_OK) return rc;
    sk_logmgr_set_flusher(srv->logs, srv->flusher);
    sk_logmgr_set_trash(srv->logs, srv->trash);
    return SK_OK;
}

static void
server_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    sk_server_t *srv = w->data;
    int64_t now = sk_mono_ms();
    (void)loop;
    (void)revents;
    sk_logmgr_flush_due(srv->logs, sk_wall_ms());
    sk_conn_close_idle(srv, now);
    if (srv->accept_paused) server_accept_resume(srv); /* retry accepting every tick */
    sk_coord_tick(srv->coord); /* session and rebalance timeouts, offset retention */
    if (srv->txn) sk_txn_coord_tick(srv->txn); /* transaction timeouts, marker retries */
    if (now - srv->last_retention_ms >= srv->cfg->log_retention_check_interval_ms) {
        srv->last_retention_ms = now;
        sk_server_retention(srv, sk_wall_ms());
    }
    if (now - srv->last_checkpoint_ms >= SERVER_CHECKPOINT_MS) {
        srv->last_checkpoint_ms = now;
        sk_logmgr_checkpoint(srv->logs);
    }
    if (srv->cleaner) sk_cleaner_poll(srv->cleaner, sk_wall_ms()); /* swap in, hand out */
}

/* log.cleaner.enable and log.cleaner.threads > 0: one compaction thread. */
static int
server_cleaner_start(sk_server_t *srv)
{
    const sk_config_t *cfg = srv->cfg;
    if (!cfg->log_cleaner_enable || cfg->log_cleaner_threads <= 0) {
        SK_INFO("event=cleaner_disabled");
        return SK_OK;
    }
    sk_cleaner_options_t o = {.dedupe_buffer_bytes = cfg->log_cleaner_dedupe_buffer_size,
                              .io_buffer_bytes = cfg->log_cleaner_io_buffer_size,
                              .backoff_ms = cfg->log_cleaner_backoff_ms,
                              .threaded = true};
    return sk_cleaner_new(srv->logs, &o, &srv->cleaner);
}

/* Out of file descriptors (or memory): a listening socket stays readable, so keep
 * accepting would spin the loop. Stop the listeners; the tick resumes them. */
static void
server_accept_pause(sk_server_t *srv, int err)
{
    for (int i = 0; i < srv->listen_count; i++) ev_io_stop(srv->loop, &srv->listen_io[i]);
    int64_t now = sk_mono_ms();
    if (now - srv->accept_pause_logged_ms >= 10000) { /* at most one line per 10 s */
        srv->accept_pause_logged_ms = now;
        SK_WARN("event=accept_paused errno=%d connections=%d reason=\"out of file descriptors or memory\"", err,
                srv->conn_count);
    }
    srv->accept_paused = true;
}

static void
server_accept_resume(sk_server_t *srv)
{
    for (int i = 0; i < srv->listen_count; i++) ev_io_start(srv->loop, &srv->listen_io[i]);
    srv->accept_paused = false;
}

static void
server_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    sk_server_t *srv = w->data;
    (void)loop;
    (void)revents;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char host[INET6_ADDRSTRLEN] = "?", peer[64];
        int one = 1;
        int fd = accept4(w->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                server_accept_pause(srv, errno);
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                SK_WARN("event=accept_failed errno=%d", errno);
            }
            return;
        }
        if (srv->max_conns > 0 && srv->conn_count >= srv->max_conns) {
            close(fd);
            srv->refused_since_log++;
            int64_t now = sk_mono_ms();
            if (now - srv->refused_logged_ms >= 10000) { /* at most one line per 10 s */
                SK_WARN("event=connection_refused reason=max.connections count=%d refused=%lld", srv->conn_count,
                        (long long)srv->refused_since_log);
                srv->refused_logged_ms = now;
                srv->refused_since_log = 0;
            }
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        snprintf(peer, sizeof(peer), "%s", host);
        sk_conn_accept(srv, fd, peer);
    }
}

static int
server_listen(sk_server_t *srv, const char *host, int port)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    int fd = -1, one = 1, rc;

    if (srv->listen_count >= (int)SK_ARRAY_LEN(srv->listen_fds)) return SK_ELIMIT;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
    if (rc != 0) {
        SK_ERROR("event=listen_failed host=%s port=%d error=\"%s\"", host, port, gai_strerror(rc));
        return SK_EINVAL;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) goto fail;
    freeaddrinfo(res);
    ev_io_init(&srv->listen_io[srv->listen_count], server_on_accept, fd, EV_READ);
    srv->listen_io[srv->listen_count].data = srv;
    ev_io_start(srv->loop, &srv->listen_io[srv->listen_count]);
    srv->listen_fds[srv->listen_count++] = fd;
    SK_INFO("event=listening host=%s port=%d", host && *host ? host : "*", port);
    return SK_OK;
fail:
    SK_ERROR("event=listen_failed host=%s port=%d errno=%d (%s)", host, port, errno, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return SK_EIO;
}

static void
server_log_defaults(const sk_config_t *cfg, sk_log_config_t *lc)
{
    sk_log_config_defaults(lc);
    lc->segment_bytes = cfg->log_segment_bytes;
    lc->segment_ms = cfg->log_roll_ms;
    lc->index_interval_bytes = cfg->log_index_interval_bytes;
    lc->segment_index_bytes = cfg->log_index_size_max_bytes;
    lc->flush_interval_messages = cfg->log_flush_interval_messages;
    lc->flush_interval_ms = cfg->log_flush_interval_ms < 0 ? INT64_MAX : cfg->log_flush_interval_ms;
    lc->log_append_time = cfg->log_message_timestamp_type_append;
    lc->writeback_bytes = cfg->log_writeback_bytes;
    lc->compact = cfg->log_cleanup_policy && strstr(cfg->log_cleanup_policy, "compact");
    lc->cleanup_delete = cfg->log_cleanup_policy && strstr(cfg->log_cleanup_policy, "delete");
    lc->min_cleanable_ratio = cfg->log_cleaner_min_cleanable_ratio;
    lc->delete_retention_ms = cfg->log_cleaner_delete_retention_ms;
    lc->min_compaction_lag_ms = cfg->log_cleaner_min_compaction_lag_ms;
    lc->max_compaction_lag_ms = cfg->log_cleaner_max_compaction_lag_ms;
}

/* max.connections as set, or when unset: the open-file limit is raised to its hard
 * maximum and three quarters of it go to connections, so the segment files partitions
 * open later still get descriptors. (Kafka's default is unlimited; running out of
 * descriptors there fails file opens as well as accepts.) */
static int32_t
server_max_connections(const sk_config_t *cfg)
{
    if (sk_config_source(cfg, "max.connections") != SK_CONFIG_SRC_DEFAULT) return cfg->max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return cfg->max_connections;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur / 4 * 3 >= (rlim_t)INT32_MAX) return cfg->max_connections;
    int32_t n = (int32_t)(rl.rlim_cur / 4 * 3);
    if (n < 16) n = 16;
    SK_INFO("event=max_connections value=%d open_file_limit=%llu", n, (unsigned long long)rl.rlim_cur);
    return n;
}

int
sk_server_new(const sk_config_t *cfg, sk_server_t **out)
{
    sk_server_t *srv = calloc(1, sizeof(*srv));
    sk_meta_options_t mo;
    int rc = SK_ENOMEM;

    if (!srv) return SK_ENOMEM;
    srv->cfg = cfg;
    srv->loop = ev_default_loop(EVFLAG_AUTO);
    if (!srv->loop) goto fail;
    (void)sk_crc32c(0, "", 0); /* set up the CRC tables before anything else */
    server_log_defaults(cfg, &srv->log_defaults);
    srv->max_conns = server_max_connections(cfg);
    const char *dir = cfg->log_dirs[0];
    if ((rc = sk_mkdir_p(dir)) != SK_OK) {
        SK_ERROR("event=data_dir_failed dir=%s errno=%d", dir, errno);
        goto fail;
    }
    if ((rc = sk_logmgr_open(dir, &srv->log_defaults, &srv->logs)) != SK_OK) {
        SK_ERROR("event=log_open_failed dir=%s rc=%s", dir, sk_strerror(rc));
        goto fail;
    }
    if ((rc = server_storage_threads(srv)) != SK_OK) {
        SK_ERROR("event=storage_threads_failed rc=%s", sk_strerror(rc));
        goto fail;
    }
    if ((rc = sk_pid_alloc_open(dir, &srv->pids)) != SK_OK) {
        SK_ERROR("event=producer_id_open_failed dir=%s rc=%s", dir, sk_strerror(rc));
        goto fail;
    }
    mo = (sk_meta_options_t){.node_id = cfg->node_id,
                             .data_dir = dir,
                             .logs = srv->logs,
                             .log_defaults = &srv->log_defaults,
                             .max_message_bytes = cfg->message_max_bytes,
                             .retention_ms = cfg->log_retention_ms,
                             .retention_bytes = cfg->log_retention_bytes};
    if ((rc = sk_meta_open(&mo, &srv->meta)) != SK_OK) {
        SK_ERROR("event=meta_open_failed dir=%s rc=%s", dir, sk_strerror(rc));
        goto fail;
    }
    if ((rc = sk_server_coord_start(srv)) != SK_OK) goto fail;
    if ((rc = sk_server_txn_start(srv)) != SK_OK) goto fail;
    if ((rc = server_cleaner_start(srv)) != SK_OK) {
        SK_ERROR("event=cleaner_start_failed rc=%s", sk_strerror(rc));
        goto fail;
    }
    SK_ASSERT(cfg->advertised_listener_count > 0);
    srv->adv_host = cfg->advertised_listeners[0].host;
    srv->adv_port = cfg->advertised_listeners[0].port;
    for (int i = 0; i < cfg->listener_count; i++) {
        if ((rc = server_listen(srv, cfg->listeners[i].host, cfg->listeners[i].port)) != SK_OK) goto fail;
    }
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&srv->sigterm, server_on_signal, SIGTERM);
    ev_signal_init(&srv->sigint, server_on_signal, SIGINT);
    srv->sigterm.data = srv->sigint.data = srv;
    ev_signal_start(srv->loop, &srv->sigterm);
    ev_signal_start(srv->loop, &srv->sigint);
    ev_timer_init(&srv->tick, server_on_tick, SERVER_TICK_S, SERVER_TICK_S);
    srv->tick.data = srv;
    ev_timer_start(srv->loop, &srv->tick);
    srv->last_checkpoint_ms = srv->last_retention_ms = sk_mono_ms();
    *out = srv;
    return SK_OK;
fail:
    sk_server_free(srv);
    return rc;
}

int
sk_server_run(sk_server_t *srv)
{
    SK_INFO("event=started node_id=%d cluster_id=%s advertised=%s:%d", srv->cfg->node_id,
            sk_meta_cluster_id(srv->meta), srv->adv_host, srv->adv_port);
    ev_run(srv->loop, 0);
    return SK_OK;
}

void
sk_server_free(sk_server_t *srv)
{
    if (!srv) return;
    while (srv->conns) sk_conn_close(srv->conns, "shutdown");
    for (int i = 0; i < srv->listen_count; i++) {
        ev_io_stop(srv->loop, &srv->listen_io[i]);
        close(srv->listen_fds[i]);
    }
    if (srv->loop) {
        ev_timer_stop(srv->loop, &srv->tick);
        ev_signal_stop(srv->loop, &srv->sigterm);
        ev_signal_stop(srv->loop, &srv->sigint);
    }
    sk_cleaner_free(srv->cleaner); /* joins the thread; the logs are still open */
    sk_txn_coord_free(srv->txn); /* before the group coordinator it points to */
    sk_coord_free(srv->coord); /* after the connections: parked group requests are gone */
    sk_meta_close(srv->meta);
    sk_pid_alloc_free(srv->pids);
    if (srv->logs) sk_logmgr_close(srv->logs); /* drains the flusher first */
    sk_flusher_free(srv->flusher);
    sk_trash_free(srv->trash);
    if (srv->loop) ev_async_stop(srv->loop, &srv->flush_async);
    SK_INFO("event=stopped");
    free(srv);
}

int16_t
sk_server_auto_create(sk_server_t *srv, const char *name, size_t len, sk_topic_t **out)
{
    char buf[256], err[256];
    int rc;

    if (!sk_topic_name_valid(name, len)) return SK_KERR_INVALID_TOPIC_EXCEPTION;
    if (!srv->cfg->auto_create_topics_enable) return SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    memcpy(buf, name, len);
    buf[len] = '\0';
    rc = sk_meta_topic_create(srv->meta, buf, srv->cfg->num_partitions, (int16_t)srv->cfg->default_replication_factor,
                              NULL, 0, out, err, sizeof(err));
    if (rc == SK_OK) return SK_KERR_NONE;
    if (rc == SK_EEXIST) {
        *out = sk_meta_topic(srv->meta, name, len);
        return SK_KERR_NONE;
    }
    SK_ERROR("event=auto_create_failed topic=%s error=\"%s\"", buf, err);
    return SK_KERR_KAFKA_STORAGE_ERROR;
}
