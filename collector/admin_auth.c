/*
 * admin_auth.c - loopback detection and the CLI's admin token (see
 * admin_auth.h).
 */
#include "collector/admin_auth.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector/agent_auth.h"
#include "collector/api.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

bool
admin_auth_host_is_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &v6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&v6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
	}
	return false;
}

/* Copies the host of "HOST:PORT..." or "[HOST]:PORT..." into host;
 * false when there is none. */
static bool
split_host(const char *text, char *host, size_t len)
{
	const char *end;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL)
			return false;
		text++;
	} else {
		/* the port's colon is the last one before any path */
		const char *slash = strchr(text, '/');
		end = NULL;
		for (const char *p = text; *p != '\0' && (slash == NULL || p < slash); p++) {
			if (*p == ':')
				end = p;
		}
		if (end == NULL)
			end = slash != NULL ? slash : text + strlen(text);
	}
	if ((size_t) (end - text) >= len)
		return false;
	memcpy(host, text, (size_t) (end - text));
	host[end - text] = '\0';
	return true;
}

bool
admin_auth_nng_address_is_local(const char *address)
{
	const char *rest = strstr(address, "://");
	char host[256];

	while (*address == ' ')
		address++;
	if (strncmp(address, "ipc://", 6) == 0 || strncmp(address, "inproc://", 9) == 0 ||
	    strncmp(address, "abstract://", 11) == 0)
		return true;
	if (rest == NULL)
		return false;
	rest += 3;
	/* a dialer's "tcp://SOURCE;HOST:PORT": the listening side is HOST */
	if (strchr(rest, ';') != NULL)
		rest = strchr(rest, ';') + 1;
	if (!split_host(rest, host, sizeof(host)) || host[0] == '\0' || strcmp(host, "*") == 0)
		return false;
	return admin_auth_host_is_loopback(host);
}

bool
admin_auth_nng_list_is_local(const char *addresses, char *remote, size_t len)
{
	const char *p = addresses;

	if (len > 0)
		remote[0] = '\0';
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t) (comma - p) : strlen(p);
		char one[512];

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		if (n > 0) {
			if (n >= sizeof(one) || (memcpy(one, p, n), one[n] = '\0',
						    !admin_auth_nng_address_is_local(one))) {
				if (len > 0)
					snprintf(remote, len, "%.*s", (int) n, p);
				return false;
			}
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return true;
}

bool
admin_auth_http_is_local(const char *listen)
{
	char host[256];

	if (listen[0] == '\0')
		return true;
	if (!split_host(listen, host, sizeof(host)) || host[0] == '\0')
		return false;
	return admin_auth_host_is_loopback(host);
}

/* Logs a refused request at most every 10 s: a guesser must not flood
 * the log. */
static void
log_refused(void)
{
	static atomic_llong logged_ms;
	static atomic_ullong refused;
	int64_t now = pgf_monotonic_ms();
	unsigned long long count = atomic_fetch_add(&refused, 1) + 1;
	long long last = atomic_load(&logged_ms);

	if (last != 0 && now - last < 10000)
		return;
	if (!atomic_compare_exchange_strong(&logged_ms, &last, now))
		return;
	pgf_warning("refused an API request: missing or wrong admin token (%llu so far)", count);
}

void
admin_auth_answer_bytes(struct store *store, const char *admin_token, const uint8_t *data,
    size_t len, Pgfleet__V1__Response *response)
{
	ProtobufCMessage *message = NULL;
	Pgfleet__V1__Request *request;
	Pgfleet__V1__Error *error;

	if (admin_token == NULL || admin_token[0] == '\0') {
		api_answer_bytes(store, data, len, response);
		return;
	}
	if (pgf_wire_unpack(&pgfleet__v1__request__descriptor, data, len, API_MAX_REQUEST_BYTES,
		&message) != PGF_OK) {
		/* api_answer_bytes words the decoding error */
		api_answer_bytes(store, data, len, response);
		return;
	}
	request = (Pgfleet__V1__Request *) message;
	if (agent_auth_token_equal(request->admin_token, admin_token)) {
		api_answer(store, request, response);
		protobuf_c_message_free_unpacked(message, NULL);
		return;
	}
	protobuf_c_message_free_unpacked(message, NULL);
	log_refused();
	error = malloc(sizeof(*error));
	if (error == NULL)
		return;
	pgfleet__v1__error__init(error);
	error->code = PGFLEET__V1__ERROR__CODE__CODE_UNAUTHORIZED;
	error->message = strdup("unauthorized: missing or wrong admin token (pgfleet --token-file)");
	if (error->message == NULL)
		error->message = (char *) protobuf_c_empty_string;
	response->error = error;
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_ERROR;
}
