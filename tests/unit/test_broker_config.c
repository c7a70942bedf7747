/* tests/unit/test_broker_config.c: skiffd's configuration. Checks the built-in defaults
 * against Kafka's documented ones, typed parsing and range errors for every value type,
 * the Java-properties syntax (separators, comments, continuations, escapes, CRLF),
 * precedence (file < --override, log.dirs > log.dir, retention ms > minutes > hours),
 * alias keys, listener parsing (IPv6, errors, derived advertised listeners) and the
 * command line (--help, --version, bad syntax and values give the right exit codes).
 * Files are written to a temporary directory; no sockets, no threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>

#include "broker/config.h"

static char tmp_dir[] = "/tmp/sk_cfg_test_XXXXXX";
static int file_seq;

static int
setup_dir(void **state)
{
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int
teardown_dir(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write text to a new file in tmp_dir; returns its path (static, overwritten per call). */
static const char *
write_file(const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/f%d.properties", tmp_dir, file_seq++);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return path;
}

static int
set(sk_config_t *c, const char *key, const char *value)
{
    char err[512];
    return sk_config_set(c, key, value, err, sizeof(err));
}

static void
get(const sk_config_t *c, const char *key, char *out, size_t len)
{
    assert_int_equal(sk_config_get_string(c, key, out, len), SK_OK);
}

/* Run sk_cli_parse on a NULL-terminated list of arguments, stdout silenced. */
static int
cli(sk_config_t *c, int *exit_code, ...)
{
    char *argv[32] = {"skiffd"};
    int argc = 1, saved, devnull, rc;
    va_list ap;
    va_start(ap, exit_code);
    for (char *a; (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    fflush(stdout);
    saved = dup(1);
    devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    rc = sk_cli_parse(argc, argv, c, exit_code);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    return rc;
}

/* ---- defaults ---- */

static void
test_defaults(void **state)
{
    sk_config_t c;
    char err[512], v[256];
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.listener_count, 1);
    assert_string_equal(c.listeners[0].name, "PLAINTEXT");
    assert_string_equal(c.listeners[0].host, "127.0.0.1");
    assert_int_equal(c.listeners[0].port, 9092);
    assert_int_equal(c.advertised_listener_count, 1);
    assert_string_equal(c.advertised_listeners[0].host, "127.0.0.1");
    assert_int_equal(c.advertised_listeners[0].port, 9092);
    assert_int_equal(c.node_id, 1);
    assert_true(c.process_roles_broker && c.process_roles_controller);
    assert_int_equal(c.log_dir_count, 1);
    assert_string_equal(c.log_dirs[0], "./skiff-data");
    assert_int_equal(c.num_partitions, 1);
    assert_true(c.auto_create_topics_enable);
    assert_true(c.delete_topic_enable);
    assert_int_equal(c.default_replication_factor, 1);
    assert_int_equal(c.log_segment_bytes, 1073741824);
    assert_int_equal(c.log_roll_ms, 7LL * 24 * 3600 * 1000);
    assert_int_equal(c.log_retention_ms, 7LL * 24 * 3600 * 1000);
    assert_int_equal(c.log_retention_bytes, -1);
    assert_int_equal(c.log_index_interval_bytes, 4096);
    assert_int_equal(c.log_index_size_max_bytes, 10 * 1024 * 1024);
    assert_int_equal(c.message_max_bytes, 1048588);
    assert_int_equal(c.socket_request_max_bytes, 104857600);
    assert_true(c.log_flush_interval_messages == INT64_MAX);
    assert_int_equal(c.log_flush_interval_ms, -1); /* never */
    assert_false(c.log_message_timestamp_type_append);
    assert_int_equal(c.compression_type, SK_CONFIG_COMPRESSION_PRODUCER);
    assert_int_equal(c.queued_max_requests, 500);
    assert_int_equal(c.max_connections, INT32_MAX);
    assert_int_equal(c.connections_max_idle_ms, 600000);
    assert_int_equal(c.offsets_topic_num_partitions, 50);
    assert_int_equal(c.group_initial_rebalance_delay_ms, 3000);
    assert_true(c.request_arena_max_bytes > 0 && c.connection_write_queue_max_bytes > 0);
    /* keys whose default is null read back empty even though a resolved value exists */
    get(&c, "log.retention.ms", v, sizeof(v));
    assert_string_equal(v, "");
    get(&c, "log.retention.hours", v, sizeof(v));
    assert_string_equal(v, "168");
    get(&c, "auto.create.topics.enable", v, sizeof(v));
    assert_string_equal(v, "true");
    get(&c, "log.message.timestamp.type", v, sizeof(v));
    assert_string_equal(v, "CreateTime");
    assert_int_equal(sk_config_source(&c, "num.partitions"), SK_CONFIG_SRC_DEFAULT);
    sk_config_deinit(&c);
}

/* ---- typed values ---- */

static void
test_int_long_values(void **state)
{
    sk_config_t c;
    char err[512], v[64];
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(sk_config_set(&c, "num.partitions", "  42 ", err, sizeof(err)), SK_OK);
    assert_int_equal(c.num_partitions, 42);
    assert_int_equal(sk_config_source(&c, "num.partitions"), SK_CONFIG_SRC_OVERRIDE);
    get(&c, "num.partitions", v, sizeof(v));
    assert_string_equal(v, "42");
    assert_int_equal(set(&c, "num.partitions", "+7"), SK_OK);
    assert_int_equal(c.num_partitions, 7);

    const char *bad_int[] = {"", "  ", "4x", "0x10", "1.5", "2147483648", "0", "-5", "1 2"};
    for (size_t i = 0; i < SK_ARRAY_LEN(bad_int); i++) {
        assert_int_equal(sk_config_set(&c, "num.partitions", bad_int[i], err, sizeof(err)), SK_EINVAL);
        assert_non_null(strstr(err, "num.partitions"));
        assert_non_null(strstr(err, "1..2147483647"));
    }
    assert_int_equal(c.num_partitions, 7); /* a rejected value changes nothing */

    assert_int_equal(set(&c, "log.segment.bytes", "1048575"), SK_EINVAL);
    assert_int_equal(set(&c, "log.segment.bytes", "1048576"), SK_OK);
    assert_int_equal(c.log_segment_bytes, 1048576);
    assert_int_equal(set(&c, "log.segment.bytes", "2147483647"), SK_OK);

    assert_int_equal(set(&c, "log.retention.bytes", "9223372036854775807"), SK_OK);
    assert_true(c.log_retention_bytes == INT64_MAX);
    assert_int_equal(set(&c, "log.retention.bytes", "9223372036854775808"), SK_EINVAL);
    assert_int_equal(set(&c, "log.retention.bytes", "-2"), SK_EINVAL);
    assert_int_equal(set(&c, "log.retention.bytes", "-1"), SK_OK);
    assert_int_equal(set(&c, "socket.send.buffer.bytes", "-1"), SK_OK);
    assert_int_equal(c.socket_send_buffer_bytes, -1);
    assert_int_equal(set(&c, "skiff.request.arena.max.bytes", "1024"), SK_EINVAL);
    sk_config_deinit(&c);
}

static void
test_bool_double_enum_values(void **state)
{
    sk_config_t c;
    char err[512], v[64];
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(set(&c, "auto.create.topics.enable", "FALSE"), SK_OK);
    assert_false(c.auto_create_topics_enable);
    assert_int_equal(set(&c, "auto.create.topics.enable", " True "), SK_OK);
    assert_true(c.auto_create_topics_enable);
    assert_int_equal(sk_config_set(&c, "delete.topic.enable", "yes", err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, "true or false"));
    assert_int_equal(set(&c, "delete.topic.enable", "1"), SK_EINVAL);

    assert_int_equal(set(&c, "log.cleaner.min.cleanable.ratio", "0.25"), SK_OK);
    assert_true(c.log_cleaner_min_cleanable_ratio == 0.25);
    const char *bad_dbl[] = {"1.5", "-0.1", "nan", "inf", "abc", "", "0.5x"};
    for (size_t i = 0; i < SK_ARRAY_LEN(bad_dbl); i++)
        assert_int_equal(set(&c, "log.cleaner.min.cleanable.ratio", bad_dbl[i]), SK_EINVAL);
    assert_true(c.log_cleaner_min_cleanable_ratio == 0.25);

    assert_int_equal(set(&c, "log.message.timestamp.type", "LogAppendTime"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_true(c.log_message_timestamp_type_append);
    assert_int_equal(sk_config_set(&c, "log.message.timestamp.type", "logappendtime", err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, "CreateTime, LogAppendTime"));
    assert_int_equal(set(&c, "compression.type", "zstd"), SK_OK);
    assert_int_equal(c.compression_type, SK_CONFIG_COMPRESSION_ZSTD);
    get(&c, "compression.type", v, sizeof(v));
    assert_string_equal(v, "zstd");
    assert_int_equal(set(&c, "compression.type", "brotli"), SK_EINVAL);
    sk_config_deinit(&c);
}

static void
test_string_list_values(void **state)
{
    sk_config_t c;
    char err[512], v[256];
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(set(&c, "process.roles", " broker , controller "), SK_OK);
    assert_int_equal(set(&c, "process.roles", "broker,broker"), SK_EINVAL);
    assert_int_equal(set(&c, "process.roles", "admin"), SK_EINVAL);
    assert_int_equal(set(&c, "process.roles", ""), SK_EINVAL);
    assert_int_equal(set(&c, "process.roles", "broker"), SK_OK);
    assert_int_equal(set(&c, "log.cleanup.policy", "compact,delete"), SK_OK);
    assert_int_equal(set(&c, "log.cleanup.policy", "compact,shred"), SK_EINVAL);
    assert_int_equal(set(&c, "controller.quorum.voters", "1@h1:9093, 2@[::1]:9093"), SK_OK);
    assert_int_equal(set(&c, "controller.quorum.voters", "x@h1:9093"), SK_EINVAL);
    assert_int_equal(set(&c, "controller.quorum.voters", "1@h1"), SK_EINVAL);
    assert_int_equal(set(&c, "listener.security.protocol.map", "A:PLAINTEXT,B:sasl_ssl"), SK_OK);
    assert_int_equal(set(&c, "listener.security.protocol.map", "A:PLAINTEXT,a:SSL"), SK_EINVAL);
    assert_int_equal(set(&c, "listener.security.protocol.map", "A:TLS"), SK_EINVAL);
    assert_int_equal(set(&c, "log.dirs", "/a,/b,/a"), SK_EINVAL);
    assert_int_equal(set(&c, "log.dirs", "/a,,/b"), SK_EINVAL);

    get(&c, "inter.broker.listener.name", v, sizeof(v)); /* null by default */
    assert_string_equal(v, "");
    assert_int_equal(set(&c, "inter.broker.listener.name", "  PLAINTEXT  "), SK_OK);
    get(&c, "inter.broker.listener.name", v, sizeof(v));
    assert_string_equal(v, "PLAINTEXT");
    assert_int_equal(sk_config_get_string(&c, "inter.broker.listener.name", v, 4), SK_ELIMIT);

    assert_int_equal(sk_config_set(&c, "no.such.key", "1", err, sizeof(err)), SK_ENOENT);
    assert_non_null(strstr(err, "no.such.key"));
    assert_int_equal(sk_config_get_string(&c, "no.such.key", v, sizeof(v)), SK_ENOENT);
    assert_int_equal(sk_config_source(&c, "no.such.key"), SK_ENOENT);
    assert_int_equal(set(&c, "Num.Partitions", "3"), SK_ENOENT); /* keys are case-sensitive */
    sk_config_deinit(&c);
}

/* ---- properties files ---- */

static void
test_file_syntax(void **state)
{
    sk_config_t c;
    char err[512];
    const char *path;
    (void)state;
    sk_config_defaults(&c);
    path = write_file("# a comment\n"
                      "! another comment\n"
                      "   # an indented comment\n"
                      "\n"
                      "   \t\n"
                      "num.partitions=3\n"
                      "default.replication.factor : 2   \n"
                      "node.id\t\t7\n"
                      "message.max.bytes=\\\n"
                      "      2000000\n"
                      "# a comment ending in a backslash does not continue \\\n"
                      "queued.max.requests 17\n"
                      "auto.create.topics.enable=false\r\n"
                      "delete.topic.enable = false\r"
                      "log.dirs = /d1,\\\n"
                      "           /d2\n"
                      "log.dir=C:\\\\\n"
                      "controller.listener.names\n"
                      "num.network.threads=4\n"
                      "num.network.threads=5");
    assert_int_equal(sk_config_load_file(&c, path, err, sizeof(err)), SK_OK);
    assert_int_equal(c.num_partitions, 3);
    assert_int_equal(c.default_replication_factor, 2);
    assert_int_equal(c.node_id, 7);
    assert_int_equal(c.message_max_bytes, 2000000);
    assert_int_equal(c.queued_max_requests, 17);
    assert_false(c.auto_create_topics_enable);
    assert_false(c.delete_topic_enable);
    assert_string_equal(c.log_dirs_str, "/d1,/d2");
    assert_string_equal(c.log_dir_str, "C:\\"); /* even backslashes: no continuation */
    assert_string_equal(c.controller_listener_names, ""); /* a key alone sets an empty value */
    assert_int_equal(c.num_network_threads, 5); /* the last occurrence wins */
    assert_int_equal(sk_config_source(&c, "num.partitions"), SK_CONFIG_SRC_FILE);
    assert_int_equal(sk_config_source(&c, "num.io.threads"), SK_CONFIG_SRC_DEFAULT);
    sk_config_deinit(&c);
}

/* Escapes are checked on log.dir, a key that takes any text. */
static void
test_file_escapes(void **state)
{
    sk_config_t c;
    char err[512];
    const char *path;
    (void)state;
    sk_config_defaults(&c);
    path = write_file("log.dir=a\\tb\\u00e9\\uD83D\\uDE00\\:\\=\\\\x\\n\\q\n"
                      "log\\ dir\\=x = 1\n");
    /* the second line's key is "log dir=x": unknown, reported, not fatal */
    assert_int_equal(sk_config_load_file(&c, path, err, sizeof(err)), SK_ENOENT);
    assert_non_null(strstr(err, "log dir=x"));
    assert_non_null(strstr(err, ":2:"));
    assert_string_equal(c.log_dir_str, "a\tb\xc3\xa9\xf0\x9f\x98\x80:=\\x\nq");

    path = write_file("num.partitions=2\nlog.dir=\\u12\n");
    assert_int_equal(sk_config_load_file(&c, path, err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, ":2:"));
    assert_int_equal(c.num_partitions, 2);
    path = write_file("log.dir=\\uDE00\n"); /* lone low surrogate */
    assert_int_equal(sk_config_load_file(&c, path, err, sizeof(err)), SK_EINVAL);
    sk_config_deinit(&c);
}

static void
test_file_errors(void **state)
{
    sk_config_t c;
    char err[512], missing[300];
    const char *path;
    (void)state;
    sk_config_defaults(&c);
    path = write_file("num.partitions=4\n\n\nlog.segment.bytes=big\nnum.io.threads=9\n");
    assert_int_equal(sk_config_load_file(&c, path, err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, ":4:"));
    assert_non_null(strstr(err, "log.segment.bytes"));
    assert_non_null(strstr(err, "'big'"));
    assert_int_equal(c.num_partitions, 4);
    assert_int_equal(c.num_io_threads, 8); /* loading stops at the bad line */

    path = write_file("bogus.one=1\nnum.partitions=6\nbogus.two=2\n");
    assert_int_equal(sk_config_load_file(&c, path, err, sizeof(err)), SK_ENOENT);
    assert_non_null(strstr(err, "bogus.one"));
    assert_int_equal(c.num_partitions, 6); /* known keys still apply */

    snprintf(missing, sizeof(missing), "%s/does-not-exist.properties", tmp_dir);
    assert_int_equal(sk_config_load_file(&c, missing, err, sizeof(err)), SK_EIO);
    assert_non_null(strstr(err, "does-not-exist"));
    path = write_file("");
    assert_int_equal(sk_config_load_file(&c, path, err, sizeof(err)), SK_OK);
    sk_config_deinit(&c);
}

/* ---- listeners ---- */

static void
test_listeners(void **state)
{
    sk_config_t c;
    char err[512];
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(set(&c, "listeners", "plaintext://127.0.0.1:9092, CONTROLLER://:9093,IN://[fe80::1%eth0]:0"),
                     SK_OK);
    assert_int_equal(set(&c, "controller.listener.names", "CONTROLLER"), SK_OK);
    assert_int_equal(set(&c, "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,IN:PLAINTEXT"),
                     SK_OK);
    assert_int_equal(set(&c, "advertised.listeners", "PLAINTEXT://[::1]:9092,IN://in.example:19092"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.listener_count, 3);
    assert_string_equal(c.listeners[0].name, "PLAINTEXT");
    assert_string_equal(c.listeners[1].name, "CONTROLLER");
    assert_string_equal(c.listeners[1].host, ""); /* all interfaces */
    assert_int_equal(c.listeners[1].port, 9093);
    assert_string_equal(c.listeners[2].host, "fe80::1%eth0");
    assert_int_equal(c.listeners[2].port, 0);
    assert_int_equal(c.advertised_listener_count, 2);
    assert_string_equal(c.advertised_listeners[0].host, "::1");
    assert_string_equal(c.advertised_listeners[1].host, "in.example");
    assert_int_equal(c.advertised_listeners[1].port, 19092);

    /* derived advertised listeners leave the controller listener out and fill the host */
    sk_config_deinit(&c);
    sk_config_defaults(&c);
    assert_int_equal(set(&c, "listeners", "CONTROLLER://127.0.0.1:9093,PLAINTEXT://:9092"), SK_OK);
    assert_int_equal(set(&c, "controller.listener.names", "CONTROLLER"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK); /* controller maps to PLAINTEXT */
    assert_int_equal(c.advertised_listener_count, 1);
    assert_string_equal(c.advertised_listeners[0].name, "PLAINTEXT");
    assert_true(c.advertised_listeners[0].host[0] != '\0');
    assert_int_equal(c.advertised_listeners[0].port, 9092);
    sk_config_deinit(&c);
}

static void
test_listener_errors(void **state)
{
    sk_config_t c;
    char err[512];
    (void)state;
    sk_config_defaults(&c);
    const char *bad[] = {
        "PLAINTEXT://::1:9092",         /* IPv6 without brackets */
        "PLAINTEXT://[::1:9092",        /* unclosed bracket */
        "PLAINTEXT://[]:9092",          /* empty brackets */
        "PLAINTEXT://[host]:9092",      /* brackets around a name */
        "PLAINTEXT://h:70000",          /* port range */
        "PLAINTEXT://h:-1",
        "PLAINTEXT://h:",
        "PLAINTEXT://h",
        "PLAINTEXT//h:1",
        "://h:1",
        "PLAIN TEXT://h:1",
        "PLAINTEXT://h h:1",
        "A://h:1,a://h:2",              /* names are case-insensitive */
        "A://h:1,B://g:1",              /* shared port */
        "A://h:1,,B://h:2",
        "",
        "A://:1,B://:2,C://:3,D://:4,E://:5,F://:6,G://:7,H://:8,I://:9",
    };
    for (size_t i = 0; i < SK_ARRAY_LEN(bad); i++) {
        assert_int_equal(sk_config_set(&c, "listeners", bad[i], err, sizeof(err)), SK_EINVAL);
        assert_non_null(strstr(err, "listeners"));
    }
    assert_int_equal(set(&c, "listeners", "A://:0,B://:0"), SK_OK); /* port 0 may repeat */
    assert_int_equal(set(&c, "advertised.listeners", "A://h:1,B://g:1"), SK_OK); /* may share ports */

    /* cross-checks at finish */
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL); /* A, B not mapped */
    assert_non_null(strstr(err, "listener.security.protocol.map"));
    assert_int_equal(set(&c, "listener.security.protocol.map", "A:PLAINTEXT,B:SSL"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, "SSL"));
    assert_int_equal(set(&c, "listener.security.protocol.map", "A:PLAINTEXT,B:PLAINTEXT"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(set(&c, "advertised.listeners", "A://0.0.0.0:1"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, "0.0.0.0"));
    assert_int_equal(set(&c, "advertised.listeners", "C://h:1"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL); /* not a listener */
    assert_int_equal(set(&c, "advertised.listeners", "A://h:1"), SK_OK);
    assert_int_equal(set(&c, "controller.listener.names", "A,B"), SK_OK);
    assert_int_equal(set(&c, "inter.broker.listener.name", "A"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL); /* A is a controller listener */
    assert_int_equal(set(&c, "inter.broker.listener.name", "Z"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL);
    assert_int_equal(set(&c, "controller.listener.names", "B"), SK_OK);
    assert_int_equal(set(&c, "inter.broker.listener.name", "A"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(set(&c, "controller.listener.names", "B,Q"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL); /* Q is no listener */
    sk_config_deinit(&c);
}

/* ---- aliases, precedence, derived times ---- */

static void
test_aliases(void **state)
{
    sk_config_t c;
    char err[512], v[32];
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(set(&c, "broker.id", "5"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.node_id, 5);
    assert_int_equal(set(&c, "node.id", "4"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL);
    assert_non_null(strstr(err, "broker.id"));
    assert_int_equal(set(&c, "node.id", "5"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    get(&c, "broker.id", v, sizeof(v));
    assert_string_equal(v, "5");

    assert_int_equal(set(&c, "log.dir", "/only/dir"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_dir_count, 1);
    assert_string_equal(c.log_dirs[0], "/only/dir");
    assert_int_equal(set(&c, "log.dirs", " /x , /y "), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_dir_count, 2);
    assert_string_equal(c.log_dirs[0], "/x");
    assert_string_equal(c.log_dirs[1], "/y");

    assert_int_equal(set(&c, "process.roles", "controller"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL); /* broker role required for now */
    assert_int_equal(set(&c, "process.roles", "broker"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_true(c.process_roles_broker && !c.process_roles_controller);
    sk_config_deinit(&c);
}

static void
test_derived_times(void **state)
{
    sk_config_t c;
    char err[512];
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(set(&c, "log.retention.hours", "1"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_retention_ms, 3600000);
    assert_int_equal(set(&c, "log.retention.minutes", "2"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_retention_ms, 120000);
    assert_int_equal(set(&c, "log.retention.ms", "5"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_retention_ms, 5);
    assert_int_equal(set(&c, "log.retention.ms", "-1"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_retention_ms, -1);
    assert_int_equal(set(&c, "log.retention.ms", "-2"), SK_EINVAL);

    assert_int_equal(set(&c, "log.roll.hours", "2"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_roll_ms, 7200000);
    assert_int_equal(set(&c, "log.roll.ms", "1234"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_roll_ms, 1234);
    assert_int_equal(set(&c, "log.roll.ms", "0"), SK_EINVAL);

    assert_int_equal(set(&c, "log.flush.scheduler.interval.ms", "1000"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_flush_interval_ms, 1000);
    assert_int_equal(set(&c, "log.flush.interval.ms", "50"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_OK);
    assert_int_equal(c.log_flush_interval_ms, 50);

    assert_int_equal(set(&c, "group.min.session.timeout.ms", "90000"), SK_OK);
    assert_int_equal(set(&c, "group.max.session.timeout.ms", "60000"), SK_OK);
    assert_int_equal(sk_config_finish(&c, err, sizeof(err)), SK_EINVAL);
    sk_config_deinit(&c);
}

/* ---- command line ---- */

static void
test_cli_help_version(void **state)
{
    sk_config_t c;
    int code = -1;
    (void)state;
    sk_config_defaults(&c);
    assert_int_equal(cli(&c, &code, "--help", NULL), SK_AGAIN);
    assert_int_equal(code, 0);
    code = -1;
    assert_int_equal(cli(&c, &code, "-h", NULL), SK_AGAIN);
    assert_int_equal(code, 0);
    code = -1;
    assert_int_equal(cli(&c, &code, "--version", NULL), SK_AGAIN);
    assert_int_equal(code, 0);
    sk_config_deinit(&c);

    /* the usage text lists every key with its default */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    sk_cli_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "--override"));
    assert_non_null(strstr(text, "log.segment.bytes (int, 1048576..2147483647, default 1073741824)"));
    assert_non_null(strstr(text, "skiff.request.arena.max.bytes"));
    free(text);
}

static void
test_cli_errors(void **state)
{
    sk_config_t c;
    int code;
    char missing[300];
    (void)state;
    snprintf(missing, sizeof(missing), "%s/missing.properties", tmp_dir);
    char *bad[][3] = {
        {"--override", NULL, NULL},                      /* no key=value */
        {"--override", "novalue", NULL},                 /* no '=' */
        {"--override=novalue", NULL, NULL},
        {"--override", "=1", NULL},                      /* no key */
        {"--override", "num.partitions=zero", NULL},     /* bad value */
        {"--override=log.segment.bytes=1", NULL, NULL},  /* out of range */
        {"--frobnicate", NULL, NULL},                    /* unknown option */
        {"a.properties", "b.properties", NULL},          /* two files */
        {missing, NULL, NULL},                           /* unreadable file */
        {"--override", "broker.id=3", "--override=node.id=4"}, /* finish cross-check */
    };
    for (size_t i = 0; i < SK_ARRAY_LEN(bad); i++) {
        sk_config_defaults(&c);
        code = -1;
        assert_int_equal(cli(&c, &code, bad[i][0], bad[i][1], bad[i][2], NULL), SK_AGAIN);
        assert_int_equal(code, 2);
        sk_config_deinit(&c);
    }
}

static void
test_cli_overrides_beat_file(void **state)
{
    sk_config_t c;
    int code = -1;
    const char *path;
    char p[256];
    (void)state;
    path = write_file("num.partitions=3\nnode.id=2\nunknown.in.file=1\nlog.dirs=/from/file\n");
    snprintf(p, sizeof(p), "%s", path);
    sk_config_defaults(&c);
    assert_int_equal(cli(&c, &code, "--override", "num.partitions=9", p, "--override=log.dirs= /from/cli ",
                         "--override", "unknown.override=1", "--override", "num.partitions=10", NULL),
                     SK_OK);
    assert_int_equal(code, 0);
    assert_int_equal(c.num_partitions, 10); /* overrides in order, all after the file */
    assert_int_equal(c.node_id, 2);
    assert_int_equal(c.log_dir_count, 1);
    assert_string_equal(c.log_dirs[0], "/from/cli");
    assert_int_equal(sk_config_source(&c, "num.partitions"), SK_CONFIG_SRC_OVERRIDE);
    assert_int_equal(sk_config_source(&c, "node.id"), SK_CONFIG_SRC_FILE);
    assert_int_equal(c.listener_count, 1); /* finished */
    sk_config_deinit(&c);

    /* no arguments at all: the single-node defaults, finished */
    sk_config_defaults(&c);
    assert_int_equal(cli(&c, &code, NULL), SK_OK);
    assert_int_equal(code, 0);
    assert_int_equal(c.advertised_listener_count, 1);
    sk_config_deinit(&c);

    /* after "--" an argument that looks like an option is the file name */
    sk_config_defaults(&c);
    assert_int_equal(cli(&c, &code, "--", "--override", NULL), SK_AGAIN);
    assert_int_equal(code, 2); /* no file called --override */
    sk_config_deinit(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_int_long_values),
        cmocka_unit_test(test_bool_double_enum_values),
        cmocka_unit_test(test_string_list_values),
        cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_file_escapes),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_listeners),
        cmocka_unit_test(test_listener_errors),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_derived_times),
        cmocka_unit_test(test_cli_help_version),
        cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_cli_overrides_beat_file),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
