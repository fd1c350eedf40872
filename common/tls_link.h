/*
 * tls_link.h - TLS for pgfleet's nng links (tls+tcp://) and the PEM files
 * behind them.
 *
 * One link = the certificate material of one side of a connection, read
 * and checked once at start: a CA to verify the peer, our own certificate
 * and private key (the key refused when others can read it), and for a
 * client the name the server's certificate must carry. A listener with a
 * CA demands a client certificate signed by it (mutual TLS); a client
 * always verifies the server against its CA.
 *
 * The address decides whether a link is used: tls+tcp:// (and wss://)
 * needs one, and a link configured beside a plain tcp:// address is a
 * configuration error, so that a typo in a scheme never sends a fleet's
 * data in clear while its owner believes it is encrypted. A listener may
 * keep a plain address on loopback (the local CLI's socket).
 *
 * nng 1.5.2 (mbedTLS) offers no hook between the handshake and the pipe:
 * a failed handshake never becomes a pipe, so pipe callbacks never see it;
 * nng's listener statistics count it ("auth"), which
 * pgf_tls_listener_failures reads.
 */
#ifndef PGFLEET_COMMON_TLS_LINK_H
#define PGFLEET_COMMON_TLS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "common/error.h"

/* Largest certificate or key file read, bytes (a CA bundle fits). */
#define PGF_TLS_MAX_FILE_BYTES (1024 * 1024)

struct pgf_tls_link;

/* What one side configured; "" or NULL = not set. The *_name fields are
 * the keys the values came from, for error messages (NULL: "tls_ca",
 * "tls_cert", "tls_key", "tls_server_name"). */
struct pgf_tls_options {
	/* true: this side listens (collector); false: it dials */
	bool server;
	/* server: CA of client certificates (set = mutual TLS required);
	 * client: CA that signed the server's certificate */
	const char *ca;
	const char *cert;
	const char *key;
	/* client only: name the server's certificate must carry; "" = the
	 * host of the address dialed */
	const char *server_name;
	const char *ca_name;
	const char *cert_name;
	const char *key_name;
	const char *server_name_name;
};

/*
 * pgf_tls_link_open checks options and reads the files. Nothing set gives
 * PGF_OK with *out = NULL (no TLS). Otherwise: a server needs cert and key;
 * a client needs ca (cert and key only when the server asks for them);
 * cert and key come together; the key is refused when others can read it
 * (pgf_secret_file_check); each file must parse. PGF_ECONFIG (or
 * PGF_ENOMEM) with one line naming the key and file in errbuf. The caller
 * owns *out (pgf_tls_link_free).
 */
PGF_MUST_CHECK int pgf_tls_link_open(const struct pgf_tls_options *options,
    struct pgf_tls_link **out, char *errbuf, size_t errlen);

/* pgf_tls_link_free frees a link; NULL is a no-op. Listeners and dialers
 * keep their own reference to what they were given. */
void pgf_tls_link_free(struct pgf_tls_link *link);

/* pgf_tls_address_is_tls: does address ask for TLS (tls+...:// or wss://)? */
bool pgf_tls_address_is_tls(const char *address);

/*
 * pgf_tls_check_addresses checks each address of the comma-separated list
 * against link (NULL = no TLS configured): a TLS address without a link,
 * or a link beside a plain tcp:// address (for a server: one not on
 * loopback), is PGF_ECONFIG with one line naming key (the address's config
 * key) in errbuf. ipc:// and inproc:// never need TLS. *uses_tls (may be
 * NULL) becomes true when an address of the list is a TLS one. Pure.
 */
PGF_MUST_CHECK int pgf_tls_check_addresses(const struct pgf_tls_link *link,
    const char *addresses, const char *key, bool *uses_tls, char *errbuf, size_t errlen);

/*
 * pgf_tls_listen listens on address like nng_listen, first giving a TLS
 * address the link's configuration (before the listener starts: no peer
 * ever meets a listener without it). *listener (may be NULL) receives the
 * listener. Returns an nng error code (0 = ok), with errbuf filled with
 * "\"ADDRESS\": reason".
 */
int pgf_tls_listen(nng_socket socket, const char *address,
    const struct pgf_tls_link *link, nng_listener *listener, char *errbuf, size_t errlen);

/*
 * pgf_tls_dial dials address like nng_dial (flags as there, e.g.
 * NNG_FLAG_NONBLOCK), first giving a TLS address the link's configuration
 * with the server name to check (tls_server_name, or the address's host).
 * *dialer (may be NULL) receives the dialer.
 * Returns an nng error code (0 = ok), with errbuf filled with
 * "\"ADDRESS\": reason".
 */
int pgf_tls_dial(nng_socket socket, const char *address, const struct pgf_tls_link *link,
    int flags, nng_dialer *dialer, char *errbuf, size_t errlen);

/*
 * pgf_tls_link_pem gives the link's PEM texts (NUL-terminated, borrowed
 * until pgf_tls_link_free; NULL when not set): for servers that are not
 * nng (the HTTP server's TLS).
 */
void pgf_tls_link_pem(const struct pgf_tls_link *link, const char **ca, const char **cert,
    const char **key);

/*
 * pgf_tls_listener_failures is how many connections the listener refused
 * at the TLS handshake (bad, missing or expired certificate, or no TLS at
 * all), from nng's statistics; 0 when they are not available.
 */
uint64_t pgf_tls_listener_failures(nng_listener listener);

/*
 * pgf_tls_dialer_failures is how many of the dialer's connections failed
 * at the TLS handshake (the server's certificate not trusted or not
 * carrying the name checked, or ours refused: nng sees the last as the
 * connection shut mid-handshake), from nng's statistics; 0
 * when they are not available. A dialer retries by itself: this is how a
 * client tells "refused" from "nobody answers".
 */
uint64_t pgf_tls_dialer_failures(nng_dialer dialer);

#endif
