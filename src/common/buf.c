/* common/buf.c: refcounted receive buffers and file handles. A request's record bytes
 * stay a slice of the receive buffer they arrived in (the request holds a ref); a fetch
 * response's file range holds a ref on the segment's fd so that a segment deleted while
 * the response is queued is still readable until it is sent. */
#include "common.h"

#include <unistd.h>

sk_fref_t *
sk_fref_new(int fd)
{
    sk_fref_t *f = malloc(sizeof(*f));
    if (!f) return NULL;
    f->fd = fd;
    f->refs = 1;
    return f;
}

sk_fref_t *
sk_fref_get(sk_fref_t *f)
{
    SK_ASSERT(f->refs > 0);
    f->refs++;
    return f;
}

void
sk_fref_put(sk_fref_t *f)
{
    if (!f) return;
    SK_ASSERT(f->refs > 0);
    if (--f->refs == 0) {
        if (f->fd >= 0) close(f->fd);
        free(f);
    }
}

sk_rbuf_t *
sk_rbuf_new(size_t cap)
{
    sk_rbuf_t *b = malloc(sizeof(*b) + cap);
    if (!b) return NULL;
    b->refs = 1;
    b->cap = cap;
    b->len = 0;
    return b;
}

sk_rbuf_t *
sk_rbuf_get(sk_rbuf_t *b)
{
    SK_ASSERT(b->refs > 0);
    b->refs++;
    return b;
}

void
sk_rbuf_put(sk_rbuf_t *b)
{
    if (!b) return;
    SK_ASSERT(b->refs > 0);
    if (--b->refs == 0) free(b);
}
