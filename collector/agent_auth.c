/*
 * agent_auth.c - the agent tokens table (see agent_auth.h).
 *
 * Entries are sorted by instance name and found by binary search: a fleet
 * of thousands of agents costs a dozen string compares per report. The
 * lookup by name may take time that depends on the name (names are not
 * secret); only the token comparison is constant-time.
 */
#include "collector/agent_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct agent_auth_entry {
	char *instance;
	char *token;
	size_t line; /* where it was listed, for errors */
};

struct agent_auth {
	struct agent_auth_entry *entries;
	size_t count;
};

bool
agent_auth_token_equal(const char *given, const char *expected)
{
	size_t given_len, expected_len;
	volatile unsigned char differ;

	if (given == NULL)
		given = "";
	if (expected == NULL)
		expected = "";
	given_len = strlen(given);
	expected_len = strlen(expected);
	differ = (unsigned char) (given_len != expected_len);
	/* every byte of expected is looked at, whatever differs where; a
	 * shorter guess is compared against NULs */
	for (size_t i = 0; i < expected_len; i++)
		differ |= (unsigned char) ((unsigned char) expected[i] ^
		    (unsigned char) (i < given_len ? given[i] : 0));
	return differ == 0;
}

void
agent_auth_free(struct agent_auth *auth)
{
	if (auth == NULL)
		return;
	for (size_t i = 0; i < auth->count; i++) {
		free(auth->entries[i].instance);
		/* tokens are secrets: do not leave them in freed memory */
		if (auth->entries[i].token != NULL) {
			volatile char *p = auth->entries[i].token;
			while (*p != '\0')
				*p++ = '\0';
		}
		free(auth->entries[i].token);
	}
	free(auth->entries);
	free(auth);
}

size_t
agent_auth_count(const struct agent_auth *auth)
{
	return auth != NULL ? auth->count : 0;
}

static int
compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct agent_auth_entry *) a)->instance,
	    ((const struct agent_auth_entry *) b)->instance);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Splits one line (without its newline) into at most three fields;
 * returns how many it found (3 means "too many"). */
static int
split_fields(char *line, char **fields)
{
	int n = 0;
	char *p = line;

	while (n < 3) {
		while (is_space(*p))
			p++;
		if (*p == '\0')
			break;
		fields[n++] = p;
		while (*p != '\0' && !is_space(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

int
agent_auth_parse(const char *text, size_t len, const char *where, struct agent_auth **out,
    char *errbuf, size_t errlen)
{
	struct agent_auth *auth = calloc(1, sizeof(*auth));
	size_t capacity = 0;
	size_t line_number = 0;
	size_t start = 0;
	char line[AGENT_AUTH_MAX_LINE + 1];

	*out = NULL;
	if (auth == NULL)
		goto nomem;
	if (memchr(text, '\0', len) != NULL) {
		snprintf(errbuf, errlen, "agent tokens file \"%s\" is not text (it holds a NUL byte)",
		    where);
		goto fail;
	}
	while (start < len) {
		const char *newline = memchr(text + start, '\n', len - start);
		size_t line_len = (newline != NULL ? (size_t) (newline - text) : len) - start;
		char *fields[3];
		int n;

		line_number++;
		if (line_len > AGENT_AUTH_MAX_LINE) {
			snprintf(errbuf, errlen, "%s:%zu: line is longer than %d bytes", where,
			    line_number, AGENT_AUTH_MAX_LINE);
			goto fail;
		}
		memcpy(line, text + start, line_len);
		line[line_len] = '\0';
		start += line_len + 1;
		n = split_fields(line, fields);
		if (n == 0 || fields[0][0] == '#')
			continue;
		if (n != 2) {
			snprintf(errbuf, errlen,
			    "%s:%zu: expected \"INSTANCE_NAME TOKEN\" (%s)", where, line_number,
			    n == 1 ? "no token" : "more than two fields");
			goto fail;
		}
		if (strlen(fields[1]) < AGENT_AUTH_MIN_TOKEN) {
			snprintf(errbuf, errlen,
			    "%s:%zu: the token of instance \"%s\" is shorter than %d characters"
			    " (make one with: openssl rand -hex 32)",
			    where, line_number, fields[0], AGENT_AUTH_MIN_TOKEN);
			goto fail;
		}
		if (auth->count == capacity) {
			size_t grown = capacity == 0 ? 16 : capacity * 2;
			struct agent_auth_entry *entries =
			    realloc(auth->entries, grown * sizeof(*entries));
			if (entries == NULL)
				goto nomem;
			auth->entries = entries;
			capacity = grown;
		}
		auth->entries[auth->count].instance = strdup(fields[0]);
		auth->entries[auth->count].token = strdup(fields[1]);
		auth->entries[auth->count].line = line_number;
		auth->count++;
		if (auth->entries[auth->count - 1].instance == NULL ||
		    auth->entries[auth->count - 1].token == NULL)
			goto nomem;
	}
	if (auth->count > 1)
		qsort(auth->entries, auth->count, sizeof(*auth->entries), compare_entries);
	/* sorted: a name listed twice sits next to itself */
	for (size_t i = 1; i < auth->count; i++) {
		const struct agent_auth_entry *a = &auth->entries[i - 1], *b = &auth->entries[i];
		if (strcmp(a->instance, b->instance) == 0) {
			snprintf(errbuf, errlen, "%s:%zu: instance \"%s\" is listed twice (first on line %zu)",
			    where, a->line > b->line ? a->line : b->line, a->instance,
			    a->line < b->line ? a->line : b->line);
			goto fail;
		}
	}
	/* scrub the copy of the last line read */
	memset(line, 0, sizeof(line));
	*out = auth;
	return PGF_OK;
nomem:
	snprintf(errbuf, errlen, "out of memory reading agent tokens file \"%s\"", where);
	agent_auth_free(auth);
	return PGF_ENOMEM;
fail:
	memset(line, 0, sizeof(line));
	agent_auth_free(auth);
	return PGF_ECONFIG;
}

int
agent_auth_load(const char *path, struct agent_auth **out, char *errbuf, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errbuf, errlen, "could not open agent tokens file \"%s\": %s", path,
		    strerror(errno));
		return PGF_ECONFIG;
	}
	/* fstat the file read, not the path: no swap between check and read */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "agent tokens file \"%s\" is not a regular file", path);
		rc = PGF_ECONFIG;
		goto done;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		snprintf(errbuf, errlen,
		    "agent tokens file \"%s\" has permissions %04o: others can %s it; run chmod o-rw on it",
		    path, (unsigned) (st.st_mode & 07777),
		    (st.st_mode & S_IROTH) != 0 ? "read" : "write");
		rc = PGF_ECONFIG;
		goto done;
	}
	if (st.st_size > AGENT_AUTH_MAX_FILE) {
		snprintf(errbuf, errlen, "agent tokens file \"%s\" is larger than %d bytes", path,
		    AGENT_AUTH_MAX_FILE);
		rc = PGF_ECONFIG;
		goto done;
	}
	text = malloc((size_t) st.st_size + 1);
	if (text == NULL) {
		snprintf(errbuf, errlen, "out of memory reading agent tokens file \"%s\"", path);
		rc = PGF_ENOMEM;
		goto done;
	}
	while (len < (size_t) st.st_size) {
		ssize_t n = read(fd, text + len, (size_t) st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(errbuf, errlen, "could not read agent tokens file \"%s\": %s", path,
			    strerror(errno));
			rc = PGF_ECONFIG;
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t) n;
	}
	rc = agent_auth_parse(text, len, path, out, errbuf, errlen);
done:
	if (text != NULL) {
		memset(text, 0, len);
		free(text);
	}
	close(fd);
	return rc;
}

enum agent_auth_result
agent_auth_check(const struct agent_auth *auth, const char *instance, const char *token)
{
	struct agent_auth_entry key;
	const struct agent_auth_entry *found;

	if (auth == NULL || instance == NULL)
		return AGENT_AUTH_UNKNOWN_INSTANCE;
	key.instance = (char *) instance;
	key.token = NULL;
	found = auth->count > 0
	    ? bsearch(&key, auth->entries, auth->count, sizeof(*auth->entries), compare_entries)
	    : NULL;
	if (found == NULL)
		return AGENT_AUTH_UNKNOWN_INSTANCE;
	return agent_auth_token_equal(token, found->token) ? AGENT_AUTH_OK
							    : AGENT_AUTH_WRONG_TOKEN;
}
