/* common/file.c: small file helpers: atomic replace (write temp, fsync, rename, fsync
 * dir) for checkpoint files, bounded whole-file reads, mkdir -p. */

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

int
sk_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return SK_EIO;
    int rc = fsync(fd) == 0 ? SK_OK : SK_EIO;
    close(fd);
    return rc;
}

int
sk_write_file_atomic(const char *path, const void *data, size_t len, bool do_fsync)
{
    char tmp[4096], dir[4096];
    int fd = -1;
    size_t off = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) return SK_EINVAL;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return SK_EIO;
    while (off < len) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto fail;
        off += (size_t)n;
    }
    if (do_fsync && fsync(fd) != 0) goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) goto fail;
    if (do_fsync) {
        snprintf(dir, sizeof(dir), "%s", path);
        return sk_fsync_dir(dirname(dir));
    }
    return SK_OK;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    return SK_EIO;
}

int
sk_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t off = 0;

    if (fd < 0) return errno == ENOENT ? SK_ENOENT : SK_EIO;
    if (fstat(fd, &st) != 0) goto fail;
    if ((size_t)st.st_size > max_bytes) {
        close(fd);
        return SK_ELIMIT;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) goto fail;
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    buf[off] = '\0';
    close(fd);
    *out = buf;
    *out_len = off;
    return SK_OK;
fail:
    free(buf);
    close(fd);
    return SK_EIO;
}

int
sk_mkdir_p(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp)) return SK_EINVAL;
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return SK_EIO;
            tmp[i] = c;
        }
    }
    return SK_OK;
}
