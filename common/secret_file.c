/*
 * secret_file.c - refuse secrets others can read; read short secrets.
 */
#include "common/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks the open file: fstat, not stat, so the file checked is the one
 * read (no swap between the two). */
static int
check_fd(int fd, const char *path, const char *what, char *errbuf, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(errbuf, errlen, "could not stat %s file \"%s\": %s", what, path,
		    strerror(errno));
		return PGF_ECONFIG;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%s file \"%s\" is not a regular file", what, path);
		return PGF_ECONFIG;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		snprintf(errbuf, errlen,
		    "%s file \"%s\" has permissions %04o: others can %s it; run chmod o-rw on it",
		    what, path, (unsigned) (st.st_mode & 07777),
		    (st.st_mode & S_IROTH) != 0 ? "read" : "write");
		return PGF_ECONFIG;
	}
	return PGF_OK;
}

int
pgf_secret_file_check(const char *path, const char *what, char *errbuf, size_t errlen)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errbuf, errlen, "could not open %s file \"%s\": %s", what, path,
		    strerror(errno));
		return PGF_ECONFIG;
	}
	rc = check_fd(fd, path, what, errbuf, errlen);
	close(fd);
	return rc;
}

int
pgf_secret_file_read(const char *path, const char *what, char **out, char *errbuf,
    size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errbuf, errlen, "could not open %s file \"%s\": %s", what, path,
		    strerror(errno));
		return PGF_ECONFIG;
	}
	rc = check_fd(fd, path, what, errbuf, errlen);
	if (rc != PGF_OK)
		goto done;
	buf = malloc(PGF_SECRET_MAX_BYTES + 2);
	if (buf == NULL) {
		rc = PGF_ENOMEM;
		snprintf(errbuf, errlen, "out of memory reading %s file \"%s\"", what, path);
		goto done;
	}
	/* read one byte past the limit to tell "exactly the limit" from "more" */
	while (len <= PGF_SECRET_MAX_BYTES) {
		ssize_t n = read(fd, buf + len, PGF_SECRET_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(errbuf, errlen, "could not read %s file \"%s\": %s", what, path,
			    strerror(errno));
			rc = PGF_ECONFIG;
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t) n;
	}
	if (len > PGF_SECRET_MAX_BYTES) {
		snprintf(errbuf, errlen, "%s file \"%s\" is larger than %d bytes", what, path,
		    PGF_SECRET_MAX_BYTES);
		rc = PGF_ECONFIG;
		goto done;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0 || strlen(buf) != len) {
		snprintf(errbuf, errlen, "%s file \"%s\" is %s", what, path,
		    len == 0 ? "empty" : "not text (it holds a NUL byte)");
		rc = PGF_ECONFIG;
		goto done;
	}
	*out = buf;
	buf = NULL;
done:
	free(buf);
	close(fd);
	return rc;
}
