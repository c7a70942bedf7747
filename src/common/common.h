/* common/common.h: the public surface of src/common, the bottom of the module graph.
 * Return codes, assertions, logging, time, the per-request arena, byte readers and
 * writers (big-endian ints, varints), refcounted receive buffers and file handles, the
 * output chain that mixes memory with file ranges (sendfile), CRC-32C, hashing and a
 * small string-keyed map. Nothing here knows about Kafka beyond wire integer encodings.
 * Everything is single-threaded unless a function says otherwise. */
#ifndef SK_COMMON_H
#define SK_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- return codes: functions return int; Kafka error codes are data, never these ---- */
#define SK_OK 0
#define SK_AGAIN 1        /* need more bytes or room; not an error */
#define SK_ECORRUPT (-1)  /* malformed bytes from network or disk */
#define SK_ENOMEM (-2)    /* allocation failed or a configured memory cap was hit */
#define SK_EIO (-3)       /* a system call on a file or socket failed (see errno) */
#define SK_ELIMIT (-4)    /* a configured limit was exceeded */
#define SK_ENOENT (-5)    /* no such object */
#define SK_EEXIST (-6)    /* object already exists */
#define SK_ERANGE (-7)    /* value (e.g. offset) out of the valid range */
#define SK_EINVAL (-8)    /* invalid argument from a caller or a user */
#define SK_EUNSUP (-9)    /* unsupported (version, codec, feature) */

const char *sk_strerror(int rc);

/* ---- assertions: always on, print expression and location, then abort ---- */
void sk_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define SK_ASSERT(e) ((e) ? (void)0 : sk_assert_fail(#e, __FILE__, __LINE__))
#ifdef SK_DEBUG_ASSERTS
#define SK_DASSERT(e) SK_ASSERT(e)
#else
#define SK_DASSERT(e) ((void)0)
#endif
#define SK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SK_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- logging: one line per event, level then key=value context ---- */
typedef enum { SK_LOG_DEBUG = 0, SK_LOG_INFO, SK_LOG_WARN, SK_LOG_ERROR } sk_log_level_t;
typedef enum {
    SK_DBG_PROTO = 1u << 0,
    SK_DBG_NET = 1u << 1,
    SK_DBG_STORAGE = 1u << 2,
    SK_DBG_REQ = 1u << 3,
} sk_dbg_cat_t;
void sk_log_setup(sk_log_level_t min_level, unsigned debug_cats);
bool sk_log_debug_on(unsigned cat);
void sk_log_write(sk_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define SK_INFO(...) sk_log_write(SK_LOG_INFO, __VA_ARGS__)
#define SK_WARN(...) sk_log_write(SK_LOG_WARN, __VA_ARGS__)
#define SK_ERROR(...) sk_log_write(SK_LOG_ERROR, __VA_ARGS__)
#define SK_DEBUG(cat, ...) \
    (sk_log_debug_on(SK_DBG_##cat) ? sk_log_write(SK_LOG_DEBUG, __VA_ARGS__) : (void)0)

/* ---- time ---- */
int64_t sk_wall_ms(void);  /* milliseconds since the epoch (CLOCK_REALTIME) */
int64_t sk_mono_ms(void);  /* monotonic milliseconds, for timeouts */
int64_t sk_mono_us(void);

/* ---- arena: bump allocator freed in one step; allocations are zeroed ---- */
typedef struct sk_arena_chunk sk_arena_chunk_t;
typedef struct sk_arena {
    sk_arena_chunk_t *head; /* owned: newest chunk first */
    size_t used_bytes;      /* total bytes handed out */
    size_t cap_bytes;       /* 0 = unlimited; over it allocations fail */
} sk_arena_t;
void sk_arena_init(sk_arena_t *a, size_t cap_bytes);
void sk_arena_deinit(sk_arena_t *a);
void sk_arena_reset(sk_arena_t *a); /* frees everything, keeps the cap */
void *sk_arena_alloc(sk_arena_t *a, size_t size); /* NULL on cap or OOM; 8-aligned */
/* n*size with overflow check; NULL on overflow/cap */
void *sk_arena_calloc(sk_arena_t *a, size_t n, size_t size);
char *sk_arena_strndup(sk_arena_t *a, const char *s, size_t len);

/* ---- strings and byte slices that borrow memory ---- */
typedef struct sk_str {
    const char *ptr; /* borrowed; not NUL-terminated */
    int32_t len;     /* -1 = null */
} sk_str_t;
typedef struct sk_bytes {
    const uint8_t *ptr; /* borrowed */
    int32_t len;        /* -1 = null */
} sk_bytes_t;
typedef struct sk_uuid {
    uint8_t b[16];
} sk_uuid_t;
#define SK_STR_NULL ((sk_str_t){NULL, -1})
static inline sk_str_t sk_str_c(const char *s) { return (sk_str_t){s, s ? (int32_t)strlen(s) : -1}; }
static inline bool sk_str_eq(sk_str_t a, const char *b)
{
    size_t n = strlen(b);
    return a.len >= 0 && (size_t)a.len == n && memcmp(a.ptr, b, n) == 0;
}
static inline bool sk_uuid_is_zero(const sk_uuid_t *u)
{
    static const sk_uuid_t z;
    return memcmp(u->b, z.b, 16) == 0;
}
void sk_uuid_random(sk_uuid_t *u);                    /* never zero; never the reserved one */
void sk_uuid_to_base64(const sk_uuid_t *u, char out[23]); /* Kafka's URL-safe, unpadded form */
int sk_uuid_from_base64(const char *s, sk_uuid_t *u);

/* ---- refcounted file handle (for sendfile ranges that outlive a segment) ---- */
typedef struct sk_fref {
    int fd;      /* owned: closed when refs reaches 0 */
    int32_t refs;
} sk_fref_t;
sk_fref_t *sk_fref_new(int fd); /* refs = 1 */
sk_fref_t *sk_fref_get(sk_fref_t *f);
void sk_fref_put(sk_fref_t *f);

/* ---- refcounted receive buffer: a request's bytes stay a slice of it ---- */
typedef struct sk_rbuf {
    int32_t refs;
    size_t cap;
    size_t len;     /* bytes filled */
    uint8_t data[]; /* cap bytes */
} sk_rbuf_t;
sk_rbuf_t *sk_rbuf_new(size_t cap);
sk_rbuf_t *sk_rbuf_get(sk_rbuf_t *b);
void sk_rbuf_put(sk_rbuf_t *b);

/* ---- reader over borrowed bytes (big-endian, Kafka varints) ----
 * Every read checks bounds and returns SK_ECORRUPT when bytes run out. */
typedef struct sk_rd {
    const uint8_t *p; /* borrowed */
    size_t len;
    size_t pos;
} sk_rd_t;
static inline void sk_rd_init(sk_rd_t *r, const uint8_t *p, size_t len) { r->p = p; r->len = len; r->pos = 0; }
static inline size_t sk_rd_left(const sk_rd_t *r) { return r->len - r->pos; }
int sk_rd_i16(sk_rd_t *r, int16_t *v);
int sk_rd_u16(sk_rd_t *r, uint16_t *v);
int sk_rd_i32(sk_rd_t *r, int32_t *v);
int sk_rd_u32(sk_rd_t *r, uint32_t *v);
int sk_rd_i64(sk_rd_t *r, int64_t *v);
int sk_rd_f64(sk_rd_t *r, double *v);
int sk_rd_uuid(sk_rd_t *r, sk_uuid_t *v);
int sk_rd_uvarint_slow(sk_rd_t *r, uint32_t *v);  /* the general cases of the inlines below */
int sk_rd_uvarlong_slow(sk_rd_t *r, uint64_t *v);
/* Per-record hot path: single-byte varints (by far the most common) never leave the
 * caller. */
static inline int sk_rd_i8(sk_rd_t *r, int8_t *v)
{
    if (r->pos >= r->len) return SK_ECORRUPT;
    *v = (int8_t)r->p[r->pos++];
    return SK_OK;
}
static inline int sk_rd_uvarint(sk_rd_t *r, uint32_t *v) /* unsigned LEB128, at most 5 bytes */
{
    if (r->len - r->pos >= 2) {
        const uint8_t *p = r->p + r->pos;
        if (p[0] < 0x80) {
            *v = p[0];
            r->pos += 1;
            return SK_OK;
        }
        if (p[1] < 0x80) {
            *v = (uint32_t)(p[0] & 0x7f) | ((uint32_t)p[1] << 7);
            r->pos += 2;
            return SK_OK;
        }
    }
    return sk_rd_uvarint_slow(r, v);
}
static inline int sk_rd_varint(sk_rd_t *r, int32_t *v) /* zig-zag */
{
    uint32_t u;
    if (sk_rd_uvarint(r, &u)) return SK_ECORRUPT;
    *v = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
    return SK_OK;
}
static inline int sk_rd_uvarlong(sk_rd_t *r, uint64_t *v) /* at most 10 bytes */
{
    if (r->len - r->pos >= 2) {
        const uint8_t *p = r->p + r->pos;
        if (p[0] < 0x80) {
            *v = p[0];
            r->pos += 1;
            return SK_OK;
        }
        if (p[1] < 0x80) {
            *v = (uint64_t)(p[0] & 0x7f) | ((uint64_t)p[1] << 7);
            r->pos += 2;
            return SK_OK;
        }
    }
    return sk_rd_uvarlong_slow(r, v);
}
static inline int sk_rd_varlong(sk_rd_t *r, int64_t *v) /* zig-zag */
{
    uint64_t u;
    if (sk_rd_uvarlong(r, &u)) return SK_ECORRUPT;
    *v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return SK_OK;
}
static inline int sk_rd_raw(sk_rd_t *r, size_t n, const uint8_t **out) /* borrow n bytes */
{
    if (r->len - r->pos < n) return SK_ECORRUPT;
    *out = r->p + r->pos;
    r->pos += n;
    return SK_OK;
}
int sk_rd_skip(sk_rd_t *r, size_t n);

/* ---- output chain: memory bytes interleaved with file ranges ----
 * The memory part is one growable owned buffer; file parts hold a ref on an sk_fref_t
 * and are sent with sendfile (or copied by TLS later). total_bytes counts both. */
typedef struct sk_wpart {
    sk_fref_t *file; /* ref held; NULL = memory part */
    int64_t pos;     /* memory: offset into buf; file: byte position in file */
    size_t len;
} sk_wpart_t;
typedef struct sk_wr {
    uint8_t *buf; /* owned */
    size_t cap;
    size_t len;           /* memory bytes written */
    sk_wpart_t *parts;    /* owned: in order; memory parts index into buf */
    size_t part_count;
    size_t part_cap;
    size_t total_bytes;   /* memory + file bytes */
    size_t cap_bytes;     /* 0 = unlimited */
    bool failed;          /* an allocation failed; the chain is unusable */
} sk_wr_t;
void sk_wr_init(sk_wr_t *w, size_t cap_bytes);
void sk_wr_deinit(sk_wr_t *w); /* drops file refs, frees memory */
void sk_wr_reset(sk_wr_t *w);
/* All writers return SK_OK or SK_ENOMEM (and set failed). */
int sk_wr_i8(sk_wr_t *w, int8_t v);
int sk_wr_i16(sk_wr_t *w, int16_t v);
int sk_wr_u16(sk_wr_t *w, uint16_t v);
int sk_wr_i32(sk_wr_t *w, int32_t v);
int sk_wr_u32(sk_wr_t *w, uint32_t v);
int sk_wr_i64(sk_wr_t *w, int64_t v);
int sk_wr_f64(sk_wr_t *w, double v);
int sk_wr_uuid(sk_wr_t *w, const sk_uuid_t *v);
int sk_wr_uvarint(sk_wr_t *w, uint32_t v);
int sk_wr_uvarlong(sk_wr_t *w, uint64_t v);
int sk_wr_varint(sk_wr_t *w, int32_t v);
int sk_wr_varlong(sk_wr_t *w, int64_t v);
int sk_wr_raw(sk_wr_t *w, const void *p, size_t n);
int sk_wr_file(sk_wr_t *w, sk_fref_t *file, int64_t pos, size_t len); /* takes its own ref */
/* Reserve n memory bytes to patch later; returns their offset in buf via *at. */
int sk_wr_reserve(sk_wr_t *w, size_t n, size_t *at);
void sk_wr_patch_i32(sk_wr_t *w, size_t at, int32_t v);
/* Contiguous copy of the whole chain (reads file parts with pread); for tests. */
int sk_wr_flatten(const sk_wr_t *w, uint8_t **out, size_t *out_len);
size_t sk_uvarint_size(uint32_t v);
size_t sk_varint_size(int32_t v);
size_t sk_varlong_size(int64_t v);

/* ---- byte order helpers for fixed layouts (record batches, index files) ---- */
static inline uint16_t sk_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t sk_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t sk_be64(const uint8_t *p) { return ((uint64_t)sk_be32(p) << 32) | sk_be32(p + 4); }
static inline void sk_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void sk_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void sk_put_be64(uint8_t *p, uint64_t v) { sk_put_be32(p, (uint32_t)(v >> 32)); sk_put_be32(p + 4, (uint32_t)v); }

/* ---- checksums and hashes ---- */
uint32_t sk_crc32c(uint32_t crc, const void *data, size_t len); /* start with crc = 0 */
uint64_t sk_hash64(const void *data, size_t len);               /* FNV-1a 64 */
int32_t sk_java_string_hash(const char *s, size_t len);         /* Java String.hashCode (UTF-16 units) */

/* ---- string-keyed hash map (keys copied, values borrowed) ---- */
typedef struct sk_map_entry {
    char *key; /* owned; NULL = empty slot; (char *)1 = tombstone */
    size_t key_len;
    void *value;
} sk_map_entry_t;
typedef struct sk_map {
    sk_map_entry_t *slots; /* owned */
    size_t cap;            /* power of two */
    size_t count;
    size_t used;           /* count + tombstones */
} sk_map_t;
void sk_map_init(sk_map_t *m);
void sk_map_deinit(sk_map_t *m);
void *sk_map_get(const sk_map_t *m, const char *key, size_t key_len);
int sk_map_put(sk_map_t *m, const char *key, size_t key_len, void *value); /* replaces */
void *sk_map_del(sk_map_t *m, const char *key, size_t key_len);         /* returns old value */
/* Iterate: for (size_t i = 0; sk_map_next(m, &i, &e);) ... ; safe to read, not to modify. */
bool sk_map_next(const sk_map_t *m, size_t *iter, sk_map_entry_t **e);

/* ---- files ---- */
int sk_write_file_atomic(const char *path, const void *data, size_t len, bool do_fsync);
int sk_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len); /* NUL-terminated */
int sk_mkdir_p(const char *path);
int sk_fsync_dir(const char *path);

#endif
