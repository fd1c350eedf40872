/*
 * tls_link.c - TLS configuration of pgfleet's nng links (see tls_link.h).
 *
 * The files are read once, at start, so that a missing or unreadable file
 * is a start-up error naming its key rather than a handshake that fails
 * later; each listener and dialer then gets an nng_tls_config of its own
 * built from the texts in memory (a dialer's carries the server name it
 * checks, and nng freezes a config once used). nng keeps a reference to
 * the config it is given; ours is dropped right after.
 */
#include "common/tls_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/supplemental/tls/tls.h>

#include "common/secret_file.h"

struct pgf_tls_link {
	bool server;
	char *ca_pem;
	char *cert_pem;
	char *key_pem;
	char *server_name;
};

static bool
is_set(const char *value)
{
	return value != NULL && value[0] != '\0';
}

static const char *
name_or(const char *name, const char *fallback)
{
	return name != NULL ? name : fallback;
}

/* Reads a PEM file whole into *out (malloc'd, NUL-terminated). */
static int
read_pem(const char *path, const char *key, char **out, char *errbuf, size_t errlen)
{
	FILE *file;
	char *text = NULL;
	size_t len = 0;
	int rc = PGF_ECONFIG;

	*out = NULL;
	if ((file = fopen(path, "rb")) == NULL) {
		snprintf(errbuf, errlen, "could not open %s file \"%s\": %s", key, path,
		    strerror(errno));
		return PGF_ECONFIG;
	}
	/* one byte past the limit tells "at the limit" from "more" */
	if ((text = malloc(PGF_TLS_MAX_FILE_BYTES + 2)) == NULL) {
		snprintf(
		    errbuf, errlen, "out of memory reading %s file \"%s\"", key, path);
		rc = PGF_ENOMEM;
		goto done;
	}
	len = fread(text, 1, PGF_TLS_MAX_FILE_BYTES + 1, file);
	if (ferror(file)) {
		snprintf(errbuf, errlen, "could not read %s file \"%s\": %s", key, path,
		    strerror(errno));
		goto done;
	}
	if (len > PGF_TLS_MAX_FILE_BYTES) {
		snprintf(errbuf, errlen, "%s file \"%s\" is larger than %d bytes", key,
		    path, PGF_TLS_MAX_FILE_BYTES);
		goto done;
	}
	text[len] = '\0';
	if (strlen(text) != len || strstr(text, "-----BEGIN ") == NULL) {
		snprintf(errbuf, errlen,
		    "%s file \"%s\" is not PEM (no \"-----BEGIN\" line)", key, path);
		goto done;
	}
	*out = text;
	text = NULL;
	rc = PGF_OK;
done:
	free(text);
	fclose(file);
	return rc;
}

/* Builds an nng config from the link; server_name only for clients. */
static int
build_config(const struct pgf_tls_link *link, const char *server_name,
    nng_tls_config **out, const char **failed)
{
	nng_tls_config *config = NULL;
	int rv;

	*out = NULL;
	*failed = "configuration";
	rv = nng_tls_config_alloc(
	    &config, link->server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
	if (rv != 0)
		return rv;
	if (link->ca_pem != NULL) {
		*failed = "ca";
		if ((rv = nng_tls_config_ca_chain(config, link->ca_pem, NULL)) != 0)
			goto fail;
	}
	if (link->cert_pem != NULL) {
		*failed = "cert";
		if ((rv = nng_tls_config_own_cert(
			 config, link->cert_pem, link->key_pem, NULL))
		    != 0)
			goto fail;
	}
	*failed = "configuration";
	/* a server with a CA demands a client certificate signed by it; a
	 * client always verifies the server */
	rv = nng_tls_config_auth_mode(config,
	    link->server && link->ca_pem == NULL ? NNG_TLS_AUTH_MODE_NONE
						 : NNG_TLS_AUTH_MODE_REQUIRED);
	if (rv != 0)
		goto fail;
	if (!link->server && is_set(server_name)
	    && (rv = nng_tls_config_server_name(config, server_name)) != 0)
		goto fail;
	*out = config;
	return 0;
fail:
	nng_tls_config_free(config);
	return rv;
}

int
pgf_tls_link_open(const struct pgf_tls_options *options, struct pgf_tls_link **out,
    char *errbuf, size_t errlen)
{
	const char *ca_name = name_or(options->ca_name, "tls_ca");
	const char *cert_name = name_or(options->cert_name, "tls_cert");
	const char *key_name = name_or(options->key_name, "tls_key");
	const char *server_name_name
	    = name_or(options->server_name_name, "tls_server_name");
	struct pgf_tls_link *link = NULL;
	nng_tls_config *probe = NULL;
	const char *failed = NULL;
	int rc, rv;

	*out = NULL;
	if (!is_set(options->ca) && !is_set(options->cert) && !is_set(options->key)) {
		if (!options->server && is_set(options->server_name)) {
			snprintf(errbuf, errlen, "%s is set but %s is not",
			    server_name_name, ca_name);
			return PGF_ECONFIG;
		}
		return PGF_OK;
	}
	if (is_set(options->cert) != is_set(options->key)) {
		snprintf(errbuf, errlen, "%s is set but %s is not: set both or neither",
		    is_set(options->cert) ? cert_name : key_name,
		    is_set(options->cert) ? key_name : cert_name);
		return PGF_ECONFIG;
	}
	if (options->server && !is_set(options->cert)) {
		snprintf(errbuf, errlen,
		    "%s is set but %s and %s are not (a TLS listener needs its own "
		    "certificate)",
		    ca_name, cert_name, key_name);
		return PGF_ECONFIG;
	}
	if (!options->server && !is_set(options->ca)) {
		snprintf(errbuf, errlen,
		    "%s is set but %s is not (the CA that signed the collector's "
		    "certificate)",
		    cert_name, ca_name);
		return PGF_ECONFIG;
	}
	if ((link = calloc(1, sizeof(*link))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	link->server = options->server;
	if (!options->server && is_set(options->server_name)
	    && (link->server_name = strdup(options->server_name)) == NULL) {
		rc = PGF_ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	/* the key first: a readable key is refused before anything is read */
	if (is_set(options->key)
	    && ((rc = pgf_secret_file_check(options->key, key_name, errbuf, errlen))
		    != PGF_OK
		|| (rc = read_pem(options->key, key_name, &link->key_pem, errbuf, errlen))
		    != PGF_OK))
		goto fail;
	if (is_set(options->cert)
	    && (rc = read_pem(options->cert, cert_name, &link->cert_pem, errbuf, errlen))
		!= PGF_OK)
		goto fail;
	if (is_set(options->ca)
	    && (rc = read_pem(options->ca, ca_name, &link->ca_pem, errbuf, errlen))
		!= PGF_OK)
		goto fail;
	/* parse everything now: a bad file is a start-up error naming it */
	if ((rv = build_config(link, link->server_name, &probe, &failed)) != 0) {
		if (strcmp(failed, "ca") == 0)
			snprintf(errbuf, errlen, "could not load %s \"%s\": %s", ca_name,
			    options->ca, nng_strerror(rv));
		else if (strcmp(failed, "cert") == 0)
			snprintf(errbuf, errlen,
			    "could not load %s \"%s\" with %s \"%s\": %s (not a "
			    "certificate and its unencrypted key?)",
			    cert_name, options->cert, key_name, options->key,
			    nng_strerror(rv));
		else
			snprintf(
			    errbuf, errlen, "could not set up TLS: %s", nng_strerror(rv));
		rc = rv == NNG_ENOMEM ? PGF_ENOMEM : PGF_ECONFIG;
		goto fail;
	}
	nng_tls_config_free(probe);
	*out = link;
	return PGF_OK;
fail:
	pgf_tls_link_free(link);
	return rc;
}

void
pgf_tls_link_free(struct pgf_tls_link *link)
{
	if (link == NULL)
		return;
	free(link->ca_pem);
	free(link->cert_pem);
	if (link->key_pem != NULL) {
		/* do not leave the key in freed memory */
		memset(link->key_pem, 0, strlen(link->key_pem));
		free(link->key_pem);
	}
	free(link->server_name);
	free(link);
}

bool
pgf_tls_address_is_tls(const char *address)
{
	return strncmp(address, "tls+", 4) == 0 || strncmp(address, "wss", 3) == 0;
}

/* Is the host of a plain tcp address (len bytes from address) on loopback?
 * Only literal addresses and "localhost": a name that merely starts with
 * "127." is no proof. */
static bool
is_loopback(const char *address, size_t len)
{
	const char *host = strstr(address, "://");
	char name[64];
	struct in_addr ipv4;
	size_t host_len;

	if (host == NULL || (size_t) (host - address) + 3 > len)
		return false;
	host += 3;
	host_len = len - (size_t) (host - address);
	/* strip ":port" */
	for (size_t i = host_len; i > 0; i--) {
		if (host[i - 1] == ':') {
			host_len = i - 1;
			break;
		}
		if (host[i - 1] == ']')
			break;
	}
	if (host_len == 0 || host_len >= sizeof(name))
		return false;
	memcpy(name, host, host_len);
	name[host_len] = '\0';
	if (strcmp(name, "localhost") == 0 || strcmp(name, "[::1]") == 0)
		return true;
	return inet_pton(AF_INET, name, &ipv4) == 1 && (ntohl(ipv4.s_addr) >> 24) == 127;
}

int
pgf_tls_check_addresses(const struct pgf_tls_link *link, const char *addresses,
    const char *key, bool *uses_tls, char *errbuf, size_t errlen)
{
	const char *p = addresses;

	while (*p != '\0') {
		const char *start, *end;
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && end[-1] == ' ')
			end--;
		len = (size_t) (end - start);
		if (len == 0)
			continue;
		if (pgf_tls_address_is_tls(start)) {
			if (link == NULL) {
				snprintf(errbuf, errlen,
				    "%s \"%.*s\" asks for TLS but no TLS certificates "
				    "are configured",
				    key, (int) len, start);
				return PGF_ECONFIG;
			}
			if (uses_tls != NULL)
				*uses_tls = true;
		} else if (link != NULL && strncmp(start, "tcp", 3) == 0
		    && (!link->server || !is_loopback(start, len))) {
			snprintf(errbuf, errlen,
			    "%s \"%.*s\" is plain tcp:// but TLS certificates are "
			    "configured: use tls+tcp://",
			    key, (int) len, start);
			return PGF_ECONFIG;
		}
	}
	return PGF_OK;
}

int
pgf_tls_listen(nng_socket socket, const char *address, const struct pgf_tls_link *link,
    nng_listener *out, char *errbuf, size_t errlen)
{
	nng_listener listener;
	nng_tls_config *config = NULL;
	const char *failed = NULL;
	int rv;

	if ((rv = nng_listener_create(&listener, socket, address)) != 0) {
		snprintf(errbuf, errlen, "\"%s\": %s", address, nng_strerror(rv));
		return rv;
	}
	if (pgf_tls_address_is_tls(address)) {
		if (link == NULL) {
			snprintf(errbuf, errlen,
			    "\"%s\": asks for TLS but no certificates are configured",
			    address);
			nng_listener_close(listener);
			return NNG_EINVAL;
		}
		/* before the start: no peer meets this listener without it */
		if ((rv = build_config(link, NULL, &config, &failed)) != 0
		    || (rv = nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, config))
			!= 0) {
			snprintf(errbuf, errlen, "\"%s\": could not set up TLS: %s",
			    address, nng_strerror(rv));
			if (config != NULL)
				nng_tls_config_free(config);
			nng_listener_close(listener);
			return rv;
		}
		/* the listener holds its own reference */
		nng_tls_config_free(config);
	}
	if ((rv = nng_listener_start(listener, 0)) != 0) {
		snprintf(errbuf, errlen, "\"%s\": %s", address, nng_strerror(rv));
		nng_listener_close(listener);
		return rv;
	}
	if (out != NULL)
		*out = listener;
	return 0;
}

/* The host of a URL into out ("" when it has none). */
static void
url_host(const char *address, char *out, size_t size)
{
	nng_url *url = NULL;

	out[0] = '\0';
	if (nng_url_parse(&url, address) != 0)
		return;
	if (url->u_hostname != NULL)
		snprintf(out, size, "%s", url->u_hostname);
	nng_url_free(url);
}

int
pgf_tls_dial(nng_socket socket, const char *address, const struct pgf_tls_link *link,
    int flags, nng_dialer *out, char *errbuf, size_t errlen)
{
	nng_dialer dialer;
	nng_tls_config *config = NULL;
	const char *failed = NULL;
	char host[256];
	int rv;

	if ((rv = nng_dialer_create(&dialer, socket, address)) != 0) {
		snprintf(errbuf, errlen, "\"%s\": %s", address, nng_strerror(rv));
		return rv;
	}
	if (pgf_tls_address_is_tls(address)) {
		if (link == NULL) {
			snprintf(errbuf, errlen,
			    "\"%s\": asks for TLS but no CA is configured", address);
			nng_dialer_close(dialer);
			return NNG_EINVAL;
		}
		/* the name checked in the server's certificate: the one
		 * configured, else the host dialed (what nng would check) */
		if (link->server_name != NULL)
			snprintf(host, sizeof(host), "%s", link->server_name);
		else
			url_host(address, host, sizeof(host));
		if ((rv = build_config(link, host, &config, &failed)) != 0
		    || (rv = nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, config))
			!= 0) {
			snprintf(errbuf, errlen, "\"%s\": could not set up TLS: %s",
			    address, nng_strerror(rv));
			if (config != NULL)
				nng_tls_config_free(config);
			nng_dialer_close(dialer);
			return rv;
		}
		nng_tls_config_free(config);
	}
	if ((rv = nng_dialer_start(dialer, flags)) != 0) {
		snprintf(errbuf, errlen, "\"%s\": %s", address, nng_strerror(rv));
		nng_dialer_close(dialer);
		return rv;
	}
	if (out != NULL)
		*out = dialer;
	return 0;
}

void
pgf_tls_link_pem(
    const struct pgf_tls_link *link, const char **ca, const char **cert, const char **key)
{
	*ca = link != NULL ? link->ca_pem : NULL;
	*cert = link != NULL ? link->cert_pem : NULL;
	*key = link != NULL ? link->key_pem : NULL;
}

/* The statistics scope of the listener or dialer ("listener"/"dialer")
 * with this id: nng 1.5.2's nng_stat_find_listener/_dialer return the
 * first one's whatever the id (they recurse without it), so the tree is
 * walked here, matching each scope's "id". */
static nng_stat *
find_scope(nng_stat *stat, const char *kind, int id)
{
	for (; stat != NULL; stat = nng_stat_next(stat)) {
		nng_stat *found;
		if (nng_stat_type(stat) != NNG_STAT_SCOPE)
			continue;
		if (strcmp(nng_stat_name(stat), kind) == 0) {
			nng_stat *child_id = nng_stat_find(stat, "id");
			if (child_id != NULL && nng_stat_value(child_id) == (uint64_t) id)
				return stat;
			continue;
		}
		if ((found = find_scope(nng_stat_child(stat), kind, id)) != NULL)
			return found;
	}
	return NULL;
}

/* Sums the counters a failed handshake bumps in the scope: "auth" (a
 * certificate refused, NNG_EPEERAUTH / NNG_ECRYPTO), "proto" (not TLS at
 * all) and, for a dialer, "other": a client whose certificate the server
 * refuses (or who has none) sees the connection shut mid-handshake. */
static uint64_t
handshake_failures(const char *kind, int id)
{
	static const char *const counters[] = { "auth", "proto", "other" };
	nng_stat *all = NULL;
	nng_stat *mine;
	uint64_t total = 0;

	if (nng_stats_get(&all) != 0)
		return 0;
	if ((mine = find_scope(all, kind, id)) != NULL) {
		size_t count = sizeof(counters) / sizeof(counters[0]);
		/* a listener's "other" is its own trouble (accept errors) */
		if (strcmp(kind, "listener") == 0)
			count--;
		for (size_t i = 0; i < count; i++) {
			nng_stat *counter = nng_stat_find(mine, counters[i]);
			if (counter != NULL)
				total += nng_stat_value(counter);
		}
	}
	nng_stats_free(all);
	return total;
}

uint64_t
pgf_tls_listener_failures(nng_listener listener)
{
	return handshake_failures("listener", nng_listener_id(listener));
}

uint64_t
pgf_tls_dialer_failures(nng_dialer dialer)
{
	return handshake_failures("dialer", nng_dialer_id(dialer));
}
