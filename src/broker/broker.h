/* broker/broker.h: the public surface of src/broker, used by main.c only: create the
 * server from a finished configuration, run its event loop until SIGTERM/SIGINT, and
 * free it (checkpoints written on the way out). */
#ifndef SK_BROKER_H
#define SK_BROKER_H

#include "broker/config.h"

typedef struct sk_server sk_server_t;

int sk_server_new(const sk_config_t *cfg, sk_server_t **out);
int sk_server_run(sk_server_t *srv); /* returns when stopped */
void sk_server_free(sk_server_t *srv);

#endif
