/*
 * api_actions.h - the API's action questions: explain and backend_signal
 * (cancel/terminate), forwarded to the instance's agent through the action
 * broker.
 *
 * Unlike the other handlers these wait for an agent: the calling thread
 * blocks up to the collector's action_timeout (other threads, and the
 * agents' polls, go on). Every action is logged here with who asked, what,
 * where and the outcome; the agent logs it too.
 */
#ifndef PGFLEET_COLLECTOR_API_ACTIONS_H
#define PGFLEET_COLLECTOR_API_ACTIONS_H

#include "collector/store.h"
#include "pgfleet/v1/api.pb-c.h"

/* Handlers of the api.c table: request->explain / request->backend_signal
 * in, an Explain / BackendSignal or an Error out (all malloc'd, freed by
 * api_response_fini). */
void api_actions_explain(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response);
void api_actions_backend_signal(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response);

#endif
