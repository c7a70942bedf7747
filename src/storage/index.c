/* storage/index.c: the sparse .index (relative offset u32 BE, position u32 BE) and
 * .timeindex (timestamp i64 BE, relative offset u32 BE) files of one segment, mapped
 * into memory. The active segment's files are preallocated to segment.index.bytes
 * (rounded down to whole entries) with real blocks, so a full disk shows up as an error
 * at allocation rather than a fault on a mapped page; sealing trims them to their
 * entries, as Kafka does, so Kafka's tools see exact files. Entries are appended in
 * order: relative offsets, positions and timestamps strictly increase (the caller keeps
 * that; sk_log_verify checks it). Format: docs/storage-format.md. */
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int
index_map(sk_index_t *ix, size_t bytes, bool writable)
{
    ix->map = NULL;
    ix->map_bytes = 0;
    if (bytes == 0) return SK_OK;
    void *m = mmap(NULL, bytes, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, ix->fd, 0);
    if (m == MAP_FAILED) return SK_EIO;
    ix->map = m;
    ix->map_bytes = bytes;
    return SK_OK;
}

static void
index_unmap(sk_index_t *ix)
{
    if (ix->map) munmap(ix->map, ix->map_bytes);
    ix->map = NULL;
    ix->map_bytes = 0;
}

/* Make sure the disk blocks under entry `entries` exist before it is written through
 * the mapping: the file is sparse (a partition costs no index space until it holds
 * records, as in Kafka), and a store into a hole on a full disk would raise SIGBUS.
 * Blocks are allocated SK_INDEX_ALLOC_BYTES at a time. false: no space (the caller then
 * treats the index as full, which rolls the segment, and that fails cleanly). */
static bool
index_reserve(sk_index_t *ix)
{
    size_t need = (size_t)(ix->entries + 1) * (size_t)ix->entry_size;
    if (need <= ix->alloc_bytes) return true;
    size_t to = ix->alloc_bytes + SK_INDEX_ALLOC_BYTES;
    if (to > ix->map_bytes) to = ix->map_bytes;
    int err = posix_fallocate(ix->fd, (off_t)ix->alloc_bytes, (off_t)(to - ix->alloc_bytes));
    if (err != 0 && err != EOPNOTSUPP && err != EINVAL) {
        SK_WARN("event=index_alloc_failed entries=%d err=%d", ix->entries, err);
        ix->max_entries = ix->entries;
        return false;
    }
    ix->alloc_bytes = to;
    return true;
}

int
sk_index_open(sk_index_t *ix, const char *path, int32_t entry_size, int32_t max_bytes, bool writable)
{
    int rc = SK_EIO;
    struct stat st;

    SK_ASSERT(entry_size == SK_OFFIDX_ENTRY_SIZE || entry_size == SK_TIMEIDX_ENTRY_SIZE);
    memset(ix, 0, sizeof(*ix));
    ix->entry_size = entry_size;
    ix->writable = writable;
    ix->fd = open(path, (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
    if (ix->fd < 0) return errno == ENOENT ? SK_ENOENT : SK_EIO;
    if (fstat(ix->fd, &st) != 0) goto fail;
    if (st.st_size / entry_size > INT32_MAX) {
        rc = SK_ECORRUPT;
        goto fail;
    }
    ix->entries = (int32_t)(st.st_size / entry_size);
    if (writable) {
        int32_t cap = max_bytes / entry_size;
        if (cap < ix->entries) cap = ix->entries;
        ix->max_entries = cap;
        size_t bytes = (size_t)cap * (size_t)entry_size;
        if ((off_t)bytes != st.st_size && ftruncate(ix->fd, (off_t)bytes) != 0) goto fail;
        rc = index_map(ix, bytes, true);
    } else {
        ix->max_entries = ix->entries;
        rc = index_map(ix, (size_t)ix->entries * (size_t)entry_size, false);
    }
    if (rc != SK_OK) goto fail;
    return SK_OK;
fail:
    close(ix->fd);
    ix->fd = -1;
    return rc;
}

void
sk_index_close(sk_index_t *ix)
{
    index_unmap(ix);
    if (ix->fd >= 0) close(ix->fd);
    ix->fd = -1;
    ix->entries = 0;
    ix->max_entries = 0;
}

int
sk_index_trim(sk_index_t *ix)
{
    size_t bytes = (size_t)ix->entries * (size_t)ix->entry_size;

    SK_ASSERT(ix->fd >= 0);
    index_unmap(ix);
    if (ftruncate(ix->fd, (off_t)bytes) != 0) return SK_EIO;
    ix->writable = false;
    ix->max_entries = ix->entries;
    return index_map(ix, bytes, false);
}

int
sk_index_sync(sk_index_t *ix)
{
    if (ix->fd < 0) return SK_OK;
    if (ix->map && ix->writable && msync(ix->map, ix->map_bytes, MS_SYNC) != 0) return SK_EIO;
    return fsync(ix->fd) == 0 ? SK_OK : SK_EIO;
}

void
sk_index_reset(sk_index_t *ix)
{
    SK_ASSERT(ix->writable);
    ix->entries = 0;
}

bool
sk_index_full(const sk_index_t *ix)
{
    /* The time index keeps one slot for the entry written when the segment is sealed. */
    int32_t reserve = ix->entry_size == SK_TIMEIDX_ENTRY_SIZE ? 1 : 0;
    return ix->entries >= ix->max_entries - reserve;
}

void
sk_index_append_off(sk_index_t *ix, uint32_t rel_offset, uint32_t pos)
{
    SK_ASSERT(ix->writable && ix->entry_size == SK_OFFIDX_ENTRY_SIZE);
    SK_ASSERT(ix->entries < ix->max_entries);
    if (!index_reserve(ix)) return;
    uint8_t *p = ix->map + (size_t)ix->entries * SK_OFFIDX_ENTRY_SIZE;
    sk_put_be32(p, rel_offset);
    sk_put_be32(p + 4, pos);
    ix->entries++;
}

void
sk_index_append_time(sk_index_t *ix, int64_t ts, uint32_t rel_offset)
{
    SK_ASSERT(ix->writable && ix->entry_size == SK_TIMEIDX_ENTRY_SIZE);
    SK_ASSERT(ix->entries < ix->max_entries);
    if (!index_reserve(ix)) return;
    uint8_t *p = ix->map + (size_t)ix->entries * SK_TIMEIDX_ENTRY_SIZE;
    sk_put_be64(p, (uint64_t)ts);
    sk_put_be32(p + 8, rel_offset);
    ix->entries++;
}

void
sk_index_entry_off(const sk_index_t *ix, int32_t i, uint32_t *rel_offset, uint32_t *pos)
{
    SK_ASSERT(ix->entry_size == SK_OFFIDX_ENTRY_SIZE && i >= 0 && i < ix->entries);
    const uint8_t *p = ix->map + (size_t)i * SK_OFFIDX_ENTRY_SIZE;
    *rel_offset = sk_be32(p);
    *pos = sk_be32(p + 4);
}

void
sk_index_entry_time(const sk_index_t *ix, int32_t i, int64_t *ts, uint32_t *rel_offset)
{
    SK_ASSERT(ix->entry_size == SK_TIMEIDX_ENTRY_SIZE && i >= 0 && i < ix->entries);
    const uint8_t *p = ix->map + (size_t)i * SK_TIMEIDX_ENTRY_SIZE;
    *ts = (int64_t)sk_be64(p);
    *rel_offset = sk_be32(p + 8);
}

int32_t
sk_index_find_off(const sk_index_t *ix, uint32_t rel)
{
    int32_t lo = 0, hi = ix->entries - 1, best = -1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        uint32_t r, pos;
        sk_index_entry_off(ix, mid, &r, &pos);
        if (r <= rel) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

int32_t
sk_index_find_time(const sk_index_t *ix, int64_t ts)
{
    int32_t lo = 0, hi = ix->entries - 1, best = -1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int64_t t;
        uint32_t r;
        sk_index_entry_time(ix, mid, &t, &r);
        if (t <= ts) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

int32_t
sk_index_find_bound(const sk_index_t *ix, uint32_t pos_max, uint32_t rel_max)
{
    /* Both keys grow with the entry number, so the matching entries are a prefix. */
    int32_t lo = 0, hi = ix->entries - 1, best = -1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        uint32_t r, pos;
        sk_index_entry_off(ix, mid, &r, &pos);
        if (pos <= pos_max && r < rel_max) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}
