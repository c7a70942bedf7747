/* broker/h_logdirs.c: DescribeLogDirs (v1-4, what kafka-log-dirs --describe sends).
 * One result per data dir (one today): its absolute path, KAFKA_STORAGE_ERROR and no
 * topics once the dir went offline, else every requested partition this broker holds
 * (null topics = all, internal ones included; unknown topics and partitions are left
 * out, as Kafka does) with its size in bytes, offset lag 0 (the leader's LEO is its
 * high watermark's reference: Kafka answers max(HW - LEO, 0)) and is_future false (no
 * AlterReplicaLogDirs moves). v4 adds the file system's total and usable bytes
 * (statvfs). Everything is built in the request arena and answered at once. */
#include "broker_int.h"

#include <limits.h>
#include <stdlib.h>

typedef sk_DescribeLogDirsResponse_DescribeLogDirsTopic_t ld_topic_t;
typedef sk_DescribeLogDirsResponse_DescribeLogDirsPartition_t ld_part_t;

static void
logdirs_part(const sk_partition_t *p, ld_part_t *out)
{
    sk_DescribeLogDirsResponse_DescribeLogDirsPartition_init(out);
    out->partition_index = p->index;
    out->partition_size = sk_log_size_bytes(p->log);
    int64_t lag = sk_log_high_watermark(p->log) - sk_log_end_offset(p->log);
    out->offset_lag = lag > 0 ? lag : 0;
    out->is_future_key = false;
}

/* Fill one topic's answer: every partition (all) or those of want[] that exist. */
static int
logdirs_topic(sk_req_t *r, const sk_topic_t *t, bool all, const int32_t *want, int32_t want_count, ld_topic_t *out)
{
    int32_t n = all ? t->partition_count : want_count;

    sk_DescribeLogDirsResponse_DescribeLogDirsTopic_init(out);
    out->name = sk_str_c(t->name);
    out->partitions_count = 0;
    if (n <= 0) return SK_OK;
    out->partitions = sk_req_array(r, (size_t)n, sizeof(*out->partitions));
    if (!out->partitions) return SK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        int32_t idx = all ? i : want[i];
        if (idx < 0 || idx >= t->partition_count || !t->partitions[idx].log) continue;
        logdirs_part(&t->partitions[idx], &out->partitions[out->partitions_count++]);
    }
    return SK_OK;
}

static int
logdirs_topics(sk_req_t *r, const sk_DescribeLogDirsRequest_t *req, sk_DescribeLogDirsResponse_DescribeLogDirsResult_t *res)
{
    sk_server_t *srv = sk_req_server(r);
    int32_t cap = req->topics_count >= 0 ? req->topics_count : sk_meta_topic_count(srv->meta);
    sk_topic_t *t;
    int rc;

    res->topics_count = 0;
    if (cap <= 0) return SK_OK;
    res->topics = sk_req_array(r, (size_t)cap, sizeof(*res->topics));
    if (!res->topics) return SK_ENOMEM;
    if (req->topics_count < 0) {
        for (size_t it = 0; res->topics_count < cap && (t = sk_meta_next(srv->meta, &it));) {
            rc = logdirs_topic(r, t, true, NULL, 0, &res->topics[res->topics_count++]);
            if (rc != SK_OK) return rc;
        }
        return SK_OK;
    }
    for (int32_t i = 0; i < req->topics_count; i++) {
        const sk_DescribeLogDirsRequest_DescribableLogDirTopic_t *rt = &req->topics[i];
        t = rt->topic.len > 0 ? sk_meta_topic(srv->meta, rt->topic.ptr, (size_t)rt->topic.len) : NULL;
        if (!t) continue;
        rc = logdirs_topic(r, t, false, rt->partitions, SK_MAX(rt->partitions_count, 0), &res->topics[res->topics_count]);
        if (rc != SK_OK) return rc;
        if (res->topics[res->topics_count].partitions_count > 0) res->topics_count++;
    }
    return SK_OK;
}

int
sk_h_describe_log_dirs(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_DescribeLogDirsRequest_t *req = sk_req_decode(r);
    sk_DescribeLogDirsResponse_t resp;
    sk_DescribeLogDirsResponse_DescribeLogDirsResult_t *res;
    char abs[PATH_MAX];
    int rc;

    if (!req) return SK_ECORRUPT;
    sk_DescribeLogDirsResponse_init(&resp);
    res = sk_req_array(r, 1, sizeof(*res));
    if (!res) return SK_ENOMEM;
    sk_DescribeLogDirsResponse_DescribeLogDirsResult_init(res);
    resp.results = res;
    resp.results_count = 1;
    const char *dir = sk_logmgr_dir(srv->logs);
    res->log_dir = sk_str_c(sk_req_strdup(r, sk_str_c(realpath(dir, abs) ? abs : dir)));
    if (sk_logmgr_offline(srv->logs)) {
        res->error_code = SK_KERR_KAFKA_STORAGE_ERROR;
        res->topics_count = 0;
    } else {
        rc = logdirs_topics(r, req, res);
        if (rc != SK_OK) return rc;
        if (sk_logmgr_disk_space(srv->logs, &res->total_bytes, &res->usable_bytes) != SK_OK)
            res->total_bytes = res->usable_bytes = -1;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
