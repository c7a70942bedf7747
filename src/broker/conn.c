/* broker/conn.c: client connections on the loop thread: non-blocking reads into a
 * refcounted receive buffer, Kafka framing (int32 size + frame), the in-order response
 * FIFO written with writev for memory and sendfile for log ranges, back-pressure
 * (reading pauses while too many requests are in flight or too many response bytes are
 * queued) and idle timeouts. A frame over socket.request.max.bytes or with a negative
 * size closes the connection, as Kafka does. */
#include "broker_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CONN_RBUF_MIN (64u * 1024u)
#define CONN_IOV_MAX 64

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents);
static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents);

static void
conn_update_reading(sk_conn_t *c)
{
    const sk_config_t *cfg = c->srv->cfg;
    bool want = !c->closing && c->inflight < cfg->queued_max_requests &&
                c->queued_bytes < (size_t)cfg->connection_write_queue_max_bytes;
    if (want && !c->reading) ev_io_start(c->srv->loop, &c->rio);
    if (!want && c->reading) ev_io_stop(c->srv->loop, &c->rio);
    c->reading = want;
}

void
sk_conn_accept(sk_server_t *srv, int fd, const char *peer)
{
    sk_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->id = ++srv->next_conn_id;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->last_active_ms = sk_mono_ms();
    ev_io_init(&c->rio, conn_on_read, fd, EV_READ);
    ev_io_init(&c->wio, conn_on_write, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->conn_count++;
    SK_DEBUG(NET, "event=conn_open conn=%llu peer=%s", (unsigned long long)c->id, peer);
    conn_update_reading(c);
}

void
sk_conn_close(sk_conn_t *c, const char *why)
{
    sk_server_t *srv = c->srv;
    sk_req_t *r, *next;

    SK_DEBUG(NET, "event=conn_close conn=%llu peer=%s why=%s", (unsigned long long)c->id, c->peer, why);
    ev_io_stop(srv->loop, &c->rio);
    ev_io_stop(srv->loop, &c->wio);
    for (r = c->head; r; r = next) {
        next = r->next;
        if (r->parked) sk_fetch_wait_cancel(r);
        sk_req_free(r);
    }
    sk_rbuf_put(c->rbuf);
    close(c->fd);
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->conn_count--;
    free(c);
}

/* Make sure rbuf has room for `need` bytes after rpos, compacting or moving to a new
 * buffer when requests still hold the old one. */
static int
conn_rbuf_room(sk_conn_t *c, size_t need)
{
    sk_rbuf_t *b = c->rbuf;
    size_t have = b ? b->len - c->rpos : 0;
    size_t cap = SK_MAX(CONN_RBUF_MIN, need);

    if (b && b->cap - c->rpos >= need && b->cap - b->len > 0) return SK_OK;
    if (b && b->refs == 1 && b->cap >= need) {
        memmove(b->data, b->data + c->rpos, have);
        b->len = have;
        c->rpos = 0;
        return SK_OK;
    }
    sk_rbuf_t *nb = sk_rbuf_new(cap);
    if (!nb) return SK_ENOMEM;
    if (have) memcpy(nb->data, b->data + c->rpos, have);
    nb->len = have;
    sk_rbuf_put(b);
    c->rbuf = nb;
    c->rpos = 0;
    return SK_OK;
}

static bool
conn_has_frame(const sk_conn_t *c)
{
    if (!c->rbuf || c->rbuf->len - c->rpos < 4) return false;
    int32_t size = (int32_t)sk_be32(c->rbuf->data + c->rpos);
    return size < 0 || c->rbuf->len - c->rpos >= 4 + (size_t)size;
}

/* Parse every complete frame in the buffer. Returns false if the connection closed. */
static bool
conn_parse(sk_conn_t *c, size_t *need)
{
    const sk_config_t *cfg = c->srv->cfg;
    *need = 4;
    while (!c->closing && c->rbuf) {
        size_t avail = c->rbuf->len - c->rpos;
        if (avail < 4) {
            *need = 4;
            return true;
        }
        int32_t size = (int32_t)sk_be32(c->rbuf->data + c->rpos);
        if (size < 8 || size > cfg->socket_request_max_bytes) {
            SK_WARN("event=bad_frame_size conn=%llu peer=%s size=%d max=%d", (unsigned long long)c->id,
                    c->peer, size, cfg->socket_request_max_bytes);
            sk_conn_close(c, "frame size");
            return false;
        }
        if (avail < 4 + (size_t)size) {
            *need = 4 + (size_t)size;
            return true;
        }
        const uint8_t *frame = c->rbuf->data + c->rpos + 4;
        c->rpos += 4 + (size_t)size;
        sk_dispatch(c, c->rbuf, frame, (size_t)size);
        if (c->closing) return true;
        if (c->inflight >= cfg->queued_max_requests) return true; /* back-pressure */
    }
    return true;
}

static void
conn_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    sk_conn_t *c = w->data;
    size_t need = 4;

    (void)loop;
    (void)revents;
    c->in_read = true;
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->rbuf && !conn_parse(c, &need)) return;
        if (c->closing || c->inflight >= c->srv->cfg->queued_max_requests) break;
        if (conn_rbuf_room(c, need) != SK_OK) {
            sk_conn_close(c, "out of memory");
            return;
        }
        sk_rbuf_t *b = c->rbuf;
        ssize_t n = read(c->fd, b->data + b->len, b->cap - b->len);
        if (n > 0) {
            b->len += (size_t)n;
            c->last_active_ms = sk_mono_ms();
            continue;
        }
        if (n == 0) {
            sk_conn_close(c, "eof");
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        sk_conn_close(c, "read error");
        return;
    }
    if (c->rbuf && !conn_parse(c, &need)) return;
    c->in_read = false;
    sk_conn_kick(c);
}

/* Write as much of the done head of the FIFO as the socket takes.
 * Returns SK_OK (all written or waiting for room), SK_EIO (closed). */
static int
conn_flush(sk_conn_t *c)
{
    for (;;) {
        struct iovec iov[CONN_IOV_MAX];
        int n_iov = 0;
        sk_req_t *r = c->head;

        while (r && r->done && (r->no_response || r->out_part >= r->out.part_count)) {
            bool close_after = r->close_after;
            c->head = r->next;
            if (!c->head) c->tail = NULL;
            c->inflight--;
            sk_req_free(r);
            if (close_after) {
                sk_conn_close(c, "protocol");
                return SK_EIO;
            }
            r = c->head;
        }
        if (!r || !r->done) break;
        /* A file part at the head goes out with sendfile. */
        const sk_wpart_t *p = &r->out.parts[r->out_part];
        if (p->file) {
            off_t pos = (off_t)(p->pos + (int64_t)r->out_off);
            ssize_t n = sendfile(c->fd, p->file->fd, &pos, p->len - r->out_off);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return SK_AGAIN;
                sk_conn_close(c, "sendfile error");
                return SK_EIO;
            }
            if (n == 0) { /* file shorter than promised: cannot complete this response */
                sk_conn_close(c, "short file");
                return SK_EIO;
            }
            r->out_off += (size_t)n;
            c->queued_bytes -= (size_t)n;
            if (r->out_off == p->len) {
                r->out_part++;
                r->out_off = 0;
            }
            continue;
        }
        /* Gather memory parts across consecutive done responses. */
        for (sk_req_t *q = r; q && q->done && n_iov < CONN_IOV_MAX; q = q->next) {
            if (q->no_response) continue;
            size_t i = q->out_part;
            size_t off = q->out_off;
            for (; i < q->out.part_count && n_iov < CONN_IOV_MAX; i++, off = 0) {
                const sk_wpart_t *m = &q->out.parts[i];
                if (m->file) break;
                iov[n_iov].iov_base = q->out.buf + m->pos + off;
                iov[n_iov].iov_len = m->len - off;
                n_iov++;
            }
            if (i < q->out.part_count) break;
        }
        ssize_t n = writev(c->fd, iov, n_iov);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return SK_AGAIN;
            sk_conn_close(c, "write error");
            return SK_EIO;
        }
        size_t left = (size_t)n;
        c->queued_bytes -= left;
        for (sk_req_t *q = r; q && left; q = q->next) {
            while (left && q->out_part < q->out.part_count) {
                const sk_wpart_t *m = &q->out.parts[q->out_part];
                size_t take = SK_MIN(left, m->len - q->out_off);
                q->out_off += take;
                left -= take;
                if (q->out_off == m->len) {
                    q->out_part++;
                    q->out_off = 0;
                } else {
                    break;
                }
            }
        }
    }
    return SK_OK;
}

void
sk_conn_kick(sk_conn_t *c)
{
    int rc = conn_flush(c);
    if (rc == SK_EIO) return; /* closed */
    bool pending = c->head && c->head->done;
    if (rc == SK_AGAIN || pending) ev_io_start(c->srv->loop, &c->wio);
    else ev_io_stop(c->srv->loop, &c->wio);
    conn_update_reading(c);
    /* Whole frames may have been left unparsed under back-pressure. */
    if (c->reading && conn_has_frame(c)) ev_feed_event(c->srv->loop, &c->rio, EV_READ);
}

static void
conn_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    sk_conn_kick(w->data);
}

void
sk_conn_close_idle(sk_server_t *srv, int64_t now_ms)
{
    int64_t idle = srv->cfg->connections_max_idle_ms;
    sk_conn_t *c = srv->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (idle > 0 && !c->head && now_ms - c->last_active_ms > idle) sk_conn_close(c, "idle");
    }
}
