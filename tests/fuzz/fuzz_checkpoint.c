/* tests/fuzz/fuzz_checkpoint.c: libFuzzer target for the text-file parsers of
 * storage/meta.c. Byte 0 picks the file; the rest is its content, written to a scratch
 * directory on tmpfs:
 *   0: leader-epoch-checkpoint   (sk_epochs_load)
 *   1: an offset checkpoint      (sk_ckpt_read: recovery point, high watermark, log start)
 *   2: partition.metadata        (sk_partmeta_read)
 * Required: no crash, leak or out-of-bounds read; a rejected file leaves nothing behind
 * (no epochs, no entries); an accepted one satisfies the format's invariants (epochs
 * and start offsets strictly increasing, as sk_log_verify requires; partitions >= 0) and
 * survives store-then-load unchanged. (The quorum-state file does not exist yet.) */
#include "storage/storage_int.h"
#include "fuzz_util.h"

static void
check_epochs(const char *dir)
{
    sk_epochs_t e = {0}, back = {0};
    int rc = sk_epochs_load(&e, dir);
    if (rc != SK_OK) {
        SK_ASSERT(e.count == 0);
        goto done;
    }
    for (int32_t i = 0; i < e.count; i++) {
        SK_ASSERT(e.v[i].epoch >= 0 && e.v[i].start_offset >= 0);
        if (i > 0) SK_ASSERT(e.v[i].epoch > e.v[i - 1].epoch && e.v[i].start_offset > e.v[i - 1].start_offset);
    }
    SK_ASSERT(sk_epochs_store(&e, dir, false) == SK_OK);
    SK_ASSERT(sk_epochs_load(&back, dir) == SK_OK);
    SK_ASSERT(back.count == e.count);
    for (int32_t i = 0; i < e.count; i++)
        SK_ASSERT(back.v[i].epoch == e.v[i].epoch && back.v[i].start_offset == e.v[i].start_offset);
done:
    sk_epochs_free(&back);
    sk_epochs_free(&e);
}

static void
check_ckpt(const char *path)
{
    sk_ckpt_t c, back;
    int rc = sk_ckpt_read(&c, path);
    if (rc != SK_OK) {
        SK_ASSERT(c.count == 0 && c.v == NULL);
        return;
    }
    for (int32_t i = 0; i < c.count; i++) {
        int64_t off;
        SK_ASSERT(c.v[i].partition >= 0 && c.v[i].topic[0] != '\0');
        SK_ASSERT(sk_ckpt_get(&c, c.v[i].topic, c.v[i].partition, &off));
    }
    SK_ASSERT(sk_ckpt_write(&c, path) == SK_OK); /* sorts c */
    SK_ASSERT(sk_ckpt_read(&back, path) == SK_OK);
    SK_ASSERT(back.count == c.count);
    for (int32_t i = 0; i < c.count; i++) {
        SK_ASSERT(strcmp(back.v[i].topic, c.v[i].topic) == 0);
        SK_ASSERT(back.v[i].partition == c.v[i].partition && back.v[i].offset == c.v[i].offset);
    }
    sk_ckpt_free(&back);
    sk_ckpt_free(&c);
}

static void
check_partmeta(const char *dir)
{
    sk_uuid_t id, back;
    if (sk_partmeta_read(dir, &id) != SK_OK) return;
    SK_ASSERT(sk_partmeta_write(dir, &id) == SK_OK);
    SK_ASSERT(sk_partmeta_read(dir, &back) == SK_OK);
    SK_ASSERT(memcmp(id.b, back.b, 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {SK_EPOCH_FILE, SK_CKPT_RECOVERY, SK_PARTMETA_FILE};
    const char *dir = fuzz_tmpdir();
    char path[512];

    if (size < 1) return 0;
    int which = data[0] % 3;
    snprintf(path, sizeof(path), "%s/%s", dir, names[which]);
    fuzz_write_file(path, data + 1, size - 1);
    if (which == 0) check_epochs(dir);
    else if (which == 1) check_ckpt(path);
    else check_partmeta(dir);
    unlink(path);
    return 0;
}
