/* broker/main.c: skiffd's entry point: parse the command line and configuration, run
 * the server until SIGTERM/SIGINT, exit 0 after a clean stop, 1 when start-up fails and
 * 2 for a usage or configuration error. */
#include "broker/broker.h"

int
main(int argc, char **argv)
{
    sk_config_t cfg;
    sk_server_t *srv = NULL;
    int exit_code = 0;
    int rc;

    sk_config_defaults(&cfg);
    if (sk_cli_parse(argc, argv, &cfg, &exit_code) != SK_OK) {
        sk_config_deinit(&cfg);
        return exit_code;
    }
    rc = sk_server_new(&cfg, &srv);
    if (rc != SK_OK) {
        SK_ERROR("event=startup_failed rc=%s", sk_strerror(rc));
        sk_config_deinit(&cfg);
        return 1;
    }
    sk_server_run(srv);
    sk_server_free(srv);
    sk_config_deinit(&cfg);
    return 0;
}
