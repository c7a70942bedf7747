/* common/arena.c: per-request bump allocator. Chunks grow geometrically; everything is
 * released at once by reset/deinit. A cap bounds what one request may allocate, so a
 * hostile array count fails the decode instead of exhausting memory. */
#include "common.h"

struct sk_arena_chunk {
    sk_arena_chunk_t *next;
    size_t cap;
    size_t used;
    _Alignas(16) uint8_t data[];
};

#define ARENA_CHUNK_MIN 4096

void
sk_arena_init(sk_arena_t *a, size_t cap_bytes)
{
    a->head = NULL;
    a->used_bytes = 0;
    a->cap_bytes = cap_bytes;
}

void
sk_arena_reset(sk_arena_t *a)
{
    sk_arena_chunk_t *c = a->head;
    while (c) {
        sk_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
}

void
sk_arena_deinit(sk_arena_t *a)
{
    sk_arena_reset(a);
}

void *
sk_arena_alloc(sk_arena_t *a, size_t size)
{
    sk_arena_chunk_t *c = a->head;
    size_t need = (size + 7u) & ~(size_t)7u;
    void *p;

    if (need < size) return NULL;
    if (a->cap_bytes && (need > a->cap_bytes || a->used_bytes > a->cap_bytes - need)) return NULL;
    if (!c || c->cap - c->used < need) {
        size_t cap = c ? c->cap * 2 : ARENA_CHUNK_MIN;
        if (cap > (1u << 20)) cap = 1u << 20;
        if (cap < need) cap = need;
        c = malloc(sizeof(*c) + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    p = c->data + c->used;
    c->used += need;
    a->used_bytes += need;
    memset(p, 0, size);
    return p;
}

void *
sk_arena_calloc(sk_arena_t *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return sk_arena_alloc(a, (n && size) ? n * size : 1);
}

char *
sk_arena_strndup(sk_arena_t *a, const char *s, size_t len)
{
    char *p = sk_arena_alloc(a, len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
