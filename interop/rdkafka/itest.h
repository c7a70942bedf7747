/* interop/rdkafka/itest.h: helpers shared by the librdkafka interop programs (compiled
 * into each program together with itest.c by interop/run.sh; not part of any module).
 * Every program takes the bootstrap servers from env BOOTSTRAP, checks behaviour of a
 * running broker (skiffd or the reference Apache Kafka) and ends with exactly one line
 * "PASS <test>: ..." or "FAIL <test>: ..." and exit status 0 or 1. Expected answers in
 * the programs are Apache Kafka's (checked against interop/kafka-ref.sh), so the same
 * binary tells whether skiffd behaves like Kafka.
 * Invariants: helpers never abort on what a broker answers; they report and return. */
#ifndef SK_INTEROP_ITEST_H
#define SK_INTEROP_ITEST_H

#include <stdarg.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

/* count of failed checks so far; a program passes only if it stays 0 */
extern int it_failures;

/* prints "  check: <msg>" on failure (and counts it); returns cond */
int it_check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void it_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* env BOOTSTRAP (exits with a FAIL line if missing) */
const char *it_bootstrap(void);
/* integer from env name, or dflt if unset; exits on garbage */
long long it_env_ll(const char *name, long long dflt);
int64_t it_now_ms(void);

/* new conf with bootstrap.servers set plus name=value pairs, NULL-terminated;
 * exits with a FAIL line on an invalid setting */
rd_kafka_conf_t *it_conf_new(const char *test, ...);
/* new producer/consumer handle; exits with a FAIL line if it cannot be created */
rd_kafka_t *it_handle_new(const char *test, rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* CreateTopics for one topic; returns the topic's Kafka error code (0 = created),
 * or -1 if the request itself failed (errstr filled). validate_only as in Kafka. */
int it_topic_create(rd_kafka_t *rk, const char *topic, int partition_count,
                    int replication_factor, int validate_only,
                    char *errstr, size_t errstr_size);
/* DeleteTopics for one topic; same return convention */
int it_topic_delete(rd_kafka_t *rk, const char *topic, char *errstr, size_t errstr_size);
/* partition count from a fresh Metadata request for the topic: >0 when the topic
 * exists with that many partitions each with a leader, 0 when the broker says it
 * does not exist, -1 on request failure or partitions without a leader. Does not
 * auto-create (asks about all topics). */
int it_topic_partitions(rd_kafka_t *rk, const char *topic);
/* polls it_topic_partitions until it returns want (or timeout); returns last answer */
int it_topic_wait(rd_kafka_t *rk, const char *topic, int want, int timeout_ms);

/* ends the program: PASS if no check failed, else FAIL; summary is printf-style */
int it_finish(const char *test, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void it_die(const char *test, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
