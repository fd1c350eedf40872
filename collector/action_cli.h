/*
 * action_cli.h - the pgfleet CLI's action subcommands: explain, cancel,
 * terminate (parsing into a Request, and printing an Explain for people).
 */
#ifndef PGFLEET_COLLECTOR_ACTION_CLI_H
#define PGFLEET_COLLECTOR_ACTION_CLI_H

#include <stdbool.h>

#include "pgfleet/v1/api.pb-c.h"

/*
 * action_cli_parse parses argv (argv[0] is "explain", "cancel" or
 * "terminate") into request. The question is malloc'd into *owned (the
 * caller frees it with free(); its strings point into argv). Returns 0, or
 * 2 after printing one line on stderr.
 */
int action_cli_parse(int argc, char **argv, Pgfleet__V1__Request *request,
    ProtobufCMessage **owned, bool *json);

/* action_cli_print prints an action's answer and returns true (with the
 * exit status in *status) when response is one; false leaves it to the
 * generic printer. An Explain prints as the plan text and its red flags, or
 * with json as one JSON object (the generic printer would print only the
 * flags, Explain's one repeated field). */
bool action_cli_print(const Pgfleet__V1__Response *response, bool json, int *status);

#endif
