/*
 * state_file.c - the agent's id and state files (see state_file.h).
 *
 * File layout: "PGFS" magic, u32 format version, u32 payload length,
 * u32 CRC-32 of the payload (all little-endian), then the AgentState.
 */
#include "agent/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "PGFS"
#define STATE_FORMAT 1
#define STATE_HEADER 16

static uint32_t
crc32_of(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
	    (uint32_t) p[3] << 24;
}

static int
ensure_dir(const char *dir, char *errbuf, size_t errlen)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "could not create state directory \"%s\": %s",
		    dir, strerror(errno));
		return PGF_EIO;
	}
	return PGF_OK;
}

/* Writes data to path through path.tmp, fsync and rename. */
static int
write_atomically(const char *path, const uint8_t *data, size_t len, char *errbuf,
    size_t errlen)
{
	char tmp[4096];
	int fd = -1;
	int saved_errno;
	size_t done = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp)) {
		snprintf(errbuf, errlen, "state path \"%s\" is too long", path);
		return PGF_EIO;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		done += (size_t) n;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	return PGF_OK;
fail:
	/* close and unlink below may change errno (unlink of a tmp that open
	 * never made sets ENOENT): keep the one that failed the write */
	saved_errno = errno;
	snprintf(errbuf, errlen, "could not write state file \"%s\": %s", path,
	    strerror(saved_errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return saved_errno == ENOSPC ? PGF_EFULL : PGF_EIO;
}

/* Reads the whole file at path, at most max bytes. */
static int
read_file(const char *path, size_t max, uint8_t **out, size_t *out_len,
    char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0;
	size_t cap = 0;

	*out = NULL;
	if (f == NULL) {
		if (errno == ENOENT)
			return PGF_ENOTFOUND;
		snprintf(errbuf, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return PGF_EIO;
	}
	for (;;) {
		size_t n;
		if (len == cap) {
			uint8_t *bigger;
			cap = cap == 0 ? 4096 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;
			if (len == cap) {
				snprintf(errbuf, errlen, "\"%s\" is larger than %zu bytes", path, max);
				free(data);
				fclose(f);
				return PGF_EDECODE;
			}
			bigger = realloc(data, cap);
			if (bigger == NULL) {
				free(data);
				fclose(f);
				return PGF_ENOMEM;
			}
			data = bigger;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(errbuf, errlen, "could not read \"%s\": %s", path, strerror(errno));
		free(data);
		fclose(f);
		return PGF_EIO;
	}
	fclose(f);
	*out = data;
	*out_len = len;
	return PGF_OK;
}

int
state_file_random_id(char id[33])
{
	uint8_t bytes[16];
	size_t got = 0;
	while (got < sizeof(bytes)) {
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PGF_EIO;
		}
		got += (size_t) n;
	}
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(id + i * 2, 3, "%02x", bytes[i]);
	return PGF_OK;
}

int
state_file_agent_id(const char *state_dir, char id[33], char *errbuf, size_t errlen)
{
	char path[4096];
	uint8_t *data = NULL;
	size_t len = 0;
	int rv;

	if ((rv = ensure_dir(state_dir, errbuf, errlen)) != PGF_OK)
		return rv;
	snprintf(path, sizeof(path), "%s/agent_id", state_dir);
	rv = read_file(path, 256, &data, &len, errbuf, errlen);
	if (rv == PGF_OK) {
		bool valid = len >= 32;
		for (size_t i = 0; valid && i < 32; i++)
			valid = strchr("0123456789abcdef", data[i]) != NULL && data[i] != '\0';
		if (valid) {
			memcpy(id, data, 32);
			id[32] = '\0';
			free(data);
			return PGF_OK;
		}
		free(data);
		snprintf(errbuf, errlen, "agent id file \"%s\" is not 32 hex digits", path);
		return PGF_EIO;
	}
	if (rv != PGF_ENOTFOUND)
		return rv == PGF_EDECODE ? PGF_EIO : rv;
	if (state_file_random_id(id) != PGF_OK) {
		snprintf(errbuf, errlen, "could not get random bytes: %s", strerror(errno));
		return PGF_EIO;
	}
	{
		char line[34];
		snprintf(line, sizeof(line), "%s\n", id);
		return write_atomically(path, (const uint8_t *) line, 33, errbuf, errlen);
	}
}

int
state_file_load(const char *state_dir, Pgfleet__V1__AgentState **out, char *errbuf,
    size_t errlen)
{
	char path[4096];
	uint8_t *data = NULL;
	size_t len = 0;
	uint32_t payload_len;
	int rv;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/agent.state", state_dir);
	rv = read_file(path, STATE_FILE_MAX_BYTES, &data, &len, errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	rv = PGF_EDECODE;
	if (len < STATE_HEADER || memcmp(data, STATE_MAGIC, 4) != 0) {
		snprintf(errbuf, errlen, "state file \"%s\" has no valid header", path);
		goto done;
	}
	if (get_u32(data + 4) != STATE_FORMAT) {
		snprintf(errbuf, errlen, "state file \"%s\" has unknown format %u", path,
		    get_u32(data + 4));
		goto done;
	}
	payload_len = get_u32(data + 8);
	if (payload_len != len - STATE_HEADER) {
		snprintf(errbuf, errlen, "state file \"%s\" is truncated", path);
		goto done;
	}
	if (crc32_of(data + STATE_HEADER, payload_len) != get_u32(data + 12)) {
		snprintf(errbuf, errlen, "state file \"%s\" has a bad checksum", path);
		goto done;
	}
	*out = pgfleet__v1__agent_state__unpack(NULL, payload_len, data + STATE_HEADER);
	if (*out == NULL) {
		snprintf(errbuf, errlen, "state file \"%s\" does not decode", path);
		goto done;
	}
	rv = PGF_OK;
done:
	free(data);
	return rv;
}

int
state_file_save(const char *state_dir, const Pgfleet__V1__AgentState *state,
    char *errbuf, size_t errlen)
{
	char path[4096];
	size_t payload_len = pgfleet__v1__agent_state__get_packed_size(state);
	uint8_t *data;
	int rv;

	if ((rv = ensure_dir(state_dir, errbuf, errlen)) != PGF_OK)
		return rv;
	data = malloc(STATE_HEADER + payload_len);
	if (data == NULL)
		return PGF_ENOMEM;
	pgfleet__v1__agent_state__pack(state, data + STATE_HEADER);
	memcpy(data, STATE_MAGIC, 4);
	put_u32(data + 4, STATE_FORMAT);
	put_u32(data + 8, (uint32_t) payload_len);
	put_u32(data + 12, crc32_of(data + STATE_HEADER, payload_len));
	snprintf(path, sizeof(path), "%s/agent.state", state_dir);
	rv = write_atomically(path, data, STATE_HEADER + payload_len, errbuf, errlen);
	free(data);
	return rv;
}
