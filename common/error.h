/*
 * error.h - pgfleet's one error vocabulary.
 *
 * Fallible functions return an int from this list (0 = ok) and pass results
 * through out-parameters. The codes and their text come from one X-macro list.
 */
#ifndef PGFLEET_COMMON_ERROR_H
#define PGFLEET_COMMON_ERROR_H

#define PGF_MUST_CHECK __attribute__((warn_unused_result))

#define PGF_ERROR_LIST(X)                                               \
	X(PGF_OK, "ok")                                                 \
	X(PGF_ENOMEM, "out of memory")                                  \
	X(PGF_EINVAL, "invalid argument")                               \
	X(PGF_ECONFIG, "invalid configuration")                         \
	X(PGF_EIO, "input/output error")                                \
	X(PGF_ENOTFOUND, "not found")                                   \
	X(PGF_ETOOBIG, "too large")                                     \
	X(PGF_EDECODE, "malformed message")                             \
	X(PGF_ECONNECT, "could not connect")                            \
	X(PGF_ETIMEDOUT, "timed out")                                   \
	X(PGF_EPOSTGRES, "postgres error")                              \
	X(PGF_ESTORE, "store error")                                    \
	X(PGF_EFULL, "storage full")                                    \
	X(PGF_EUNAVAILABLE, "unavailable")

enum pgf_error {
#define PGF_ERROR_ENUM(code, text) code,
	PGF_ERROR_LIST(PGF_ERROR_ENUM)
#undef PGF_ERROR_ENUM
	PGF_ERROR_COUNT
};

/* pgf_error_text returns the static text of an error code; never NULL. */
const char *pgf_error_text(int code);

#endif
