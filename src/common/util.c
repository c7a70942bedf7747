/* common/util.c: return-code names, assertions, logging, clocks and UUIDs.
 * Logging writes one line per event to stderr; the level filter and the debug
 * categories are process-wide settings made once at start-up. */

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

const char *
sk_strerror(int rc)
{
    switch (rc) {
    case SK_OK: return "ok";
    case SK_AGAIN: return "again";
    case SK_ECORRUPT: return "corrupt";
    case SK_ENOMEM: return "out of memory";
    case SK_EIO: return "i/o error";
    case SK_ELIMIT: return "limit exceeded";
    case SK_ENOENT: return "not found";
    case SK_EEXIST: return "already exists";
    case SK_ERANGE: return "out of range";
    case SK_EINVAL: return "invalid argument";
    case SK_EUNSUP: return "unsupported";
    default: return "unknown error";
    }
}

void
sk_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "FATAL assertion failed: %s at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}

/* Process-wide logging settings: written once before the loop starts. */
static struct {
    sk_log_level_t min_level;
    unsigned debug_cats;
} log_cfg = {SK_LOG_INFO, 0};

void
sk_log_setup(sk_log_level_t min_level, unsigned debug_cats)
{
    log_cfg.min_level = min_level;
    log_cfg.debug_cats = debug_cats;
}

bool
sk_log_debug_on(unsigned cat)
{
    return (log_cfg.debug_cats & cat) != 0;
}

void
sk_log_write(sk_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;

    if (level < log_cfg.min_level && level != SK_LOG_DEBUG) return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 names[level]);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line)) n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof(line) - 1) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n);
}

int64_t
sk_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
sk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
sk_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
sk_uuid_random(sk_uuid_t *u)
{
    for (;;) {
        size_t got = 0;
        while (got < sizeof(u->b)) {
            ssize_t n = getrandom(u->b + got, sizeof(u->b) - got, 0);
            if (n > 0) got += (size_t)n;
            else if (errno != EINTR) SK_ASSERT(!"getrandom failed");
        }
        /* Kafka reserves the zero UUID and the "metadata topic" UUID (all zero but the
         * last byte 1); never hand either out. */
        bool reserved = true;
        for (int i = 0; i < 15; i++)
            if (u->b[i]) reserved = false;
        if (!reserved) return;
    }
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
sk_uuid_to_base64(const sk_uuid_t *u, char out[23])
{
    int o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 16; i++) {
        acc = (acc << 8) | u->b[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    SK_ASSERT(o == 22);
}

int
sk_uuid_from_base64(const char *s, sk_uuid_t *u)
{
    uint32_t acc = 0;
    int bits = 0, o = 0;
    if (strlen(s) != 22) return SK_EINVAL;
    for (int i = 0; i < 22; i++) {
        const char *c = strchr(b64url, s[i]);
        if (!c || !*c) return SK_EINVAL;
        acc = (acc << 6) | (uint32_t)(c - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= 16) return SK_EINVAL;
            u->b[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o == 16 ? SK_OK : SK_EINVAL;
}
