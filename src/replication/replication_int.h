/* replication/replication_int.h: private to src/replication. */
#ifndef SK_REPLICATION_INT_H
#define SK_REPLICATION_INT_H

#include "replication.h"

struct sk_meta {
    sk_meta_options_t opt; /* data_dir copied below; logs and log_defaults borrowed */
    char *data_dir;        /* owned */
    char cluster_id[23];
    sk_map_t by_name;      /* name -> sk_topic_t* (owned here) */
    sk_map_t by_id;        /* 16 raw id bytes -> sk_topic_t* (borrowed from by_name) */
};

void meta_topic_log_config(const sk_meta_t *m, sk_topic_t *t);

#endif
