/* tests/fuzz/fuzz_util.h: small helpers for the storage fuzz targets, which hand their
 * input to code that reads files: a private scratch directory per fuzzing process
 * (under $SK_FUZZ_TMPDIR, else /dev/shm so no real disk is touched, else /tmp), and a
 * whole-file writer. Header-only. */
#ifndef SK_FUZZ_UTIL_H
#define SK_FUZZ_UTIL_H

#include <fcntl.h>
#include <unistd.h>

#include "common/common.h"

/* Scratch directory created on first use; removed only by the OS (tmpfs) or the user. */
static inline const char *
fuzz_tmpdir(void)
{
    static char dir[256];
    if (dir[0]) return dir;
    const char *base = getenv("SK_FUZZ_TMPDIR");
    if (!base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/skiff-fuzz-XXXXXX", base);
    SK_ASSERT(mkdtemp(dir) != NULL);
    return dir;
}

static inline void
fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SK_ASSERT(fd >= 0);
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        SK_ASSERT(n > 0);
        done += (size_t)n;
    }
    close(fd);
}

#endif
