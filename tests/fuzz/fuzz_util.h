/* tests/fuzz/fuzz_util.h: small helpers for the storage fuzz targets, which hand their
 * input to code that reads files: a private scratch directory per fuzzing process
 * (under $SK_FUZZ_TMPDIR, else /dev/shm so no real disk is touched, else /tmp), a
 * whole-file writer and a directory wiper. Header-only. */
#ifndef SK_FUZZ_UTIL_H
#define SK_FUZZ_UTIL_H

#include <dirent.h>
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

/* Create dir if needed and remove every file in it (not subdirectories), so that no
 * input sees what an earlier one left behind (snapshots, indexes, temp files). */
static inline void
fuzz_dir_clear(const char *dir)
{
    char path[1024];
    struct dirent *de;
    DIR *d;

    SK_ASSERT(sk_mkdir_p(dir) == SK_OK);
    d = opendir(dir);
    SK_ASSERT(d != NULL);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

#endif
