/* common/map.c: open-addressing string-keyed hash map with linear probing and
 * tombstones. Keys are copied; values are borrowed pointers. Used for topic registries
 * and similar small-to-medium tables on the loop thread. */
#include "common.h"

#define MAP_TOMB ((char *)1)

uint64_t
sk_hash64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int32_t
sk_java_string_hash(const char *s, size_t len)
{
    /* Java hashes UTF-16 code units: decode UTF-8, split supplementary code points into
     * surrogate pairs. A malformed byte counts as one unit of its own value. */
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp = p[i];
        size_t n = 1;
        if (cp >= 0xf0 && len - i >= 4) {
            cp = ((cp & 7u) << 18) | ((p[i + 1] & 63u) << 12) | ((p[i + 2] & 63u) << 6) | (p[i + 3] & 63u);
            n = 4;
        } else if (cp >= 0xe0 && cp < 0xf0 && len - i >= 3) {
            cp = ((cp & 15u) << 12) | ((p[i + 1] & 63u) << 6) | (p[i + 2] & 63u);
            n = 3;
        } else if (cp >= 0xc0 && cp < 0xe0 && len - i >= 2) {
            cp = ((cp & 31u) << 6) | (p[i + 1] & 63u);
            n = 2;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
        i += n;
    }
    return (int32_t)h;
}

void
sk_map_init(sk_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void
sk_map_deinit(sk_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != MAP_TOMB) free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static sk_map_entry_t *
map_find(const sk_map_t *m, const char *key, size_t key_len)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    size_t i = (size_t)sk_hash64(key, key_len) & mask;
    for (size_t n = 0; n < m->cap; n++, i = (i + 1) & mask) {
        sk_map_entry_t *e = &m->slots[i];
        if (!e->key) return NULL;
        if (e->key != MAP_TOMB && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) return e;
    }
    return NULL;
}

static int
map_grow(sk_map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    sk_map_entry_t *old = m->slots;
    size_t old_cap = m->cap;
    if (m->count * 2 < m->cap) cap = m->cap; /* only tombstones: rehash in place size */
    m->slots = calloc(cap, sizeof(*m->slots));
    if (!m->slots) {
        m->slots = old;
        return SK_ENOMEM;
    }
    m->cap = cap;
    m->count = 0;
    m->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        sk_map_entry_t *e = &old[i];
        if (!e->key || e->key == MAP_TOMB) continue;
        size_t j = (size_t)sk_hash64(e->key, e->key_len) & (cap - 1);
        while (m->slots[j].key) j = (j + 1) & (cap - 1);
        m->slots[j] = *e;
        m->count++;
        m->used++;
    }
    free(old);
    return SK_OK;
}

void *
sk_map_get(const sk_map_t *m, const char *key, size_t key_len)
{
    sk_map_entry_t *e = map_find(m, key, key_len);
    return e ? e->value : NULL;
}

int
sk_map_put(sk_map_t *m, const char *key, size_t key_len, void *value)
{
    sk_map_entry_t *e = map_find(m, key, key_len);
    if (e) {
        e->value = value;
        return SK_OK;
    }
    if ((m->used + 1) * 4 > m->cap * 3 && map_grow(m)) return SK_ENOMEM;
    char *k = malloc(key_len + 1);
    if (!k) return SK_ENOMEM;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    size_t mask = m->cap - 1;
    size_t i = (size_t)sk_hash64(key, key_len) & mask;
    while (m->slots[i].key && m->slots[i].key != MAP_TOMB) i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i] = (sk_map_entry_t){k, key_len, value};
    m->count++;
    return SK_OK;
}

void *
sk_map_del(sk_map_t *m, const char *key, size_t key_len)
{
    sk_map_entry_t *e = map_find(m, key, key_len);
    void *v;
    if (!e) return NULL;
    v = e->value;
    free(e->key);
    e->key = MAP_TOMB;
    e->value = NULL;
    m->count--;
    return v;
}

bool
sk_map_next(const sk_map_t *m, size_t *iter, sk_map_entry_t **e)
{
    while (*iter < m->cap) {
        sk_map_entry_t *s = &m->slots[(*iter)++];
        if (s->key && s->key != MAP_TOMB) {
            *e = s;
            return true;
        }
    }
    return false;
}
