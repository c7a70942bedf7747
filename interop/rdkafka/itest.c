/* interop/rdkafka/itest.c: shared helpers of the librdkafka interop programs (see
 * itest.h). Admin calls run on a temporary queue of the caller's handle and wait at
 * most ADMIN_TIMEOUT_MS; metadata is always asked for all topics so that a lookup
 * never triggers auto-creation. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_TIMEOUT_MS 30000

int it_failures;

int
it_check(int cond, const char *fmt, ...)
{
    va_list ap;

    if (cond) return 1;
    it_failures++;
    va_start(ap, fmt);
    fputs("  check failed: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    return 0;
}

void
it_note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("  ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

_Noreturn void
it_die(const char *test, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("FAIL %s: ", test);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    exit(1);
}

int
it_finish(const char *test, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("%s %s: ", it_failures ? "FAIL" : "PASS", test);
    vprintf(fmt, ap);
    if (it_failures) printf(" (%d failed checks)", it_failures);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    return it_failures ? 1 : 0;
}

const char *
it_bootstrap(void)
{
    const char *b = getenv("BOOTSTRAP");

    if (b == NULL || *b == '\0') it_die("setup", "env BOOTSTRAP is not set");
    return b;
}

long long
it_env_ll(const char *name, long long dflt)
{
    const char *s = getenv(name);
    char *end = NULL;
    long long v;

    if (s == NULL || *s == '\0') return dflt;
    v = strtoll(s, &end, 10);
    if (*end != '\0') it_die("setup", "env %s=%s is not an integer", name, s);
    return v;
}

int64_t
it_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rd_kafka_conf_t *
it_conf_new(const char *test, ...)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    const char *name, *value;
    va_list ap;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", it_bootstrap(), errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK)
        it_die(test, "conf bootstrap.servers: %s", errstr);
    va_start(ap, test);
    while ((name = va_arg(ap, const char *)) != NULL) {
        value = va_arg(ap, const char *);
        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
            it_die(test, "conf %s=%s: %s", name, value, errstr);
    }
    va_end(ap);
    return conf;
}

rd_kafka_t *
it_handle_new(const char *test, rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

    if (rk == NULL) it_die(test, "rd_kafka_new: %s", errstr);
    return rk;
}

/* waits for one admin result of the given type on q; NULL on timeout */
static rd_kafka_event_t *
admin_result_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
    int64_t deadline = it_now_ms() + ADMIN_TIMEOUT_MS;
    rd_kafka_event_t *ev;

    while (it_now_ms() < deadline) {
        ev = rd_kafka_queue_poll(q, 1000);
        if (ev == NULL) continue;
        if (rd_kafka_event_type(ev) == type) return ev;
        rd_kafka_event_destroy(ev);
    }
    return NULL;
}

/* the first topic result's error code, or -1 with errstr on a request failure */
static int
topic_result_code(rd_kafka_event_t *ev, const rd_kafka_topic_result_t **res,
                  size_t res_count, char *errstr, size_t errstr_size)
{
    const char *msg;

    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "%s", rd_kafka_event_error_string(ev));
        return -1;
    }
    if (res_count != 1) {
        snprintf(errstr, errstr_size, "%zu topic results, wanted 1", res_count);
        return -1;
    }
    msg = rd_kafka_topic_result_error_string(res[0]);
    snprintf(errstr, errstr_size, "%s", msg ? msg : "");
    return (int)rd_kafka_topic_result_error(res[0]);
}

int
it_topic_create(rd_kafka_t *rk, const char *topic, int partition_count,
                int replication_factor, int validate_only,
                char *errstr, size_t errstr_size)
{
    rd_kafka_NewTopic_t *nt = NULL;
    rd_kafka_AdminOptions_t *opt = NULL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **res;
    size_t res_count = 0;
    int rc = -1;

    nt = rd_kafka_NewTopic_new(topic, partition_count, replication_factor, errstr,
                               errstr_size);
    if (nt == NULL) goto done;
    opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, ADMIN_TIMEOUT_MS - 5000, NULL, 0);
    if (validate_only &&
        rd_kafka_AdminOptions_set_validate_only(opt, 1, errstr, errstr_size))
        goto done;
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    ev = admin_result_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    if (ev == NULL) {
        snprintf(errstr, errstr_size, "no CreateTopics result in time");
        goto done;
    }
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev),
                                              &res_count);
    rc = topic_result_code(ev, res, res_count, errstr, errstr_size);
done:
    if (ev) rd_kafka_event_destroy(ev);
    if (opt) rd_kafka_AdminOptions_destroy(opt);
    if (nt) rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

int
it_topic_delete(rd_kafka_t *rk, const char *topic, char *errstr, size_t errstr_size)
{
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_AdminOptions_t *opt;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev;
    const rd_kafka_topic_result_t **res;
    size_t res_count = 0;
    int rc = -1;

    opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, ADMIN_TIMEOUT_MS - 5000, NULL, 0);
    rd_kafka_DeleteTopics(rk, &dt, 1, opt, q);
    ev = admin_result_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    if (ev == NULL) {
        snprintf(errstr, errstr_size, "no DeleteTopics result in time");
    } else {
        res = rd_kafka_DeleteTopics_result_topics(
            rd_kafka_event_DeleteTopics_result(ev), &res_count);
        rc = topic_result_code(ev, res, res_count, errstr, errstr_size);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_queue_destroy(q);
    return rc;
}

int
it_topic_partitions(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = 0, i, p;

    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    for (i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];

        if (strcmp(t->topic, topic) != 0) continue;
        if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rc = t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? 0 : -1;
            break;
        }
        rc = t->partition_cnt;
        for (p = 0; p < t->partition_cnt; p++)
            if (t->partitions[p].leader < 0 || t->partitions[p].err) rc = -1;
        break;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

int
it_topic_wait(rd_kafka_t *rk, const char *topic, int want, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    int got;

    for (;;) {
        got = it_topic_partitions(rk, topic);
        if (got == want || it_now_ms() >= deadline) return got;
        usleep(200 * 1000);
    }
}
