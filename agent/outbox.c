/*
 * outbox.c - unacknowledged reports in memory and in an optional spool
 * directory of append-only checksummed segments (see outbox.h).
 */
#include "agent/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/* A segment is closed and a new one started past this size, so retired
 * segments can be deleted while the backlog drains. */
#define SEGMENT_MIN_BYTES (64 * 1024)
#define SEGMENT_MAX_BYTES (4 * 1024 * 1024)

struct outbox_item {
	uint64_t number;
	int64_t made_at_us;
	uint8_t *data;
	size_t len;
};

struct segment {
	uint64_t first; /* number of the first report written to it */
};

struct outbox {
	struct outbox_limits limits;
	/* queued reports: items[start .. start + count) */
	struct outbox_item *items;
	size_t start, count, capacity;
	size_t bytes;
	uint64_t next_number;
	uint64_t retired_through;
	uint64_t dropped, corrupt, spool_failures;
	/* spool: NULL when memory only (configured so, or fallen back) */
	char *dir;
	struct segment *segments;
	size_t n_segments;
	int fd; /* the newest segment, open for appending; -1 when none */
	int64_t segment_bytes;
};

uint32_t
outbox_crc32c(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

size_t
outbox_encode_size(size_t len)
{
	return OUTBOX_HEADER + OUTBOX_PAYLOAD_HEADER + len;
}

void
outbox_encode(uint8_t *out, enum outbox_kind kind, uint64_t number, int64_t made_at_us,
    const uint8_t *data, size_t len)
{
	uint8_t *payload = out + OUTBOX_HEADER;

	payload[0] = (uint8_t) kind;
	put_u64(payload + 1, number);
	put_u64(payload + 9, (uint64_t) made_at_us);
	if (len > 0)
		memcpy(payload + OUTBOX_PAYLOAD_HEADER, data, len);
	put_u32(out, OUTBOX_MAGIC);
	put_u32(out + 4, (uint32_t) (OUTBOX_PAYLOAD_HEADER + len));
	put_u32(out + 8, outbox_crc32c(payload, OUTBOX_PAYLOAD_HEADER + len));
}

/* The next offset after at where a record magic starts, or len. */
static size_t
next_magic(const uint8_t *buf, size_t len, size_t at)
{
	for (size_t i = at; i + 4 <= len; i++) {
		if (get_u32(buf + i) == OUTBOX_MAGIC)
			return i;
	}
	return len;
}

void
outbox_scan(const uint8_t *buf, size_t len,
    bool (*visit)(const struct outbox_record_view *record, void *arg), void *arg,
    uint64_t *corrupt)
{
	size_t at = 0;

	while (at < len) {
		struct outbox_record_view record;
		const uint8_t *payload;
		uint32_t payload_len;
		bool valid = len - at >= OUTBOX_HEADER && get_u32(buf + at) == OUTBOX_MAGIC;

		if (valid) {
			payload_len = get_u32(buf + at + 4);
			valid = payload_len >= OUTBOX_PAYLOAD_HEADER &&
			    payload_len <= OUTBOX_MAX_RECORD &&
			    payload_len <= len - at - OUTBOX_HEADER &&
			    outbox_crc32c(buf + at + OUTBOX_HEADER, payload_len) ==
				get_u32(buf + at + 8);
		}
		if (valid) {
			payload = buf + at + OUTBOX_HEADER;
			valid = payload[0] == OUTBOX_REPORT ||
			    (payload[0] == OUTBOX_RETIRED &&
				payload_len == OUTBOX_PAYLOAD_HEADER + 8);
		}
		if (!valid) {
			/* one bad stretch, up to the next record that may be good */
			(*corrupt)++;
			at = next_magic(buf, len, at + 1);
			continue;
		}
		record.kind = (enum outbox_kind) payload[0];
		record.number = get_u64(payload + 1);
		record.made_at_us = (int64_t) get_u64(payload + 9);
		record.data = payload + OUTBOX_PAYLOAD_HEADER;
		record.len = payload_len - OUTBOX_PAYLOAD_HEADER;
		at += OUTBOX_HEADER + payload_len;
		if (!visit(&record, arg))
			return;
	}
}

/* ---- the queue in memory ---- */

static int
queue_push(struct outbox *box, uint64_t number, int64_t made_at_us, uint8_t *data,
    size_t len)
{
	if (box->start > 0 && box->start + box->count == box->capacity) {
		memmove(box->items, box->items + box->start, box->count * sizeof(box->items[0]));
		box->start = 0;
	}
	if (box->start + box->count == box->capacity) {
		size_t capacity = box->capacity == 0 ? 64 : box->capacity * 2;
		struct outbox_item *items = realloc(box->items, capacity * sizeof(items[0]));
		if (items == NULL)
			return PGF_ENOMEM;
		box->items = items;
		box->capacity = capacity;
	}
	box->items[box->start + box->count] = (struct outbox_item){
	    .number = number, .made_at_us = made_at_us, .data = data, .len = len};
	box->count++;
	box->bytes += len;
	return PGF_OK;
}

static void
queue_pop(struct outbox *box)
{
	struct outbox_item *item = &box->items[box->start];

	box->retired_through = item->number;
	box->bytes -= item->len;
	free(item->data);
	box->start++;
	box->count--;
	if (box->count == 0)
		box->start = 0;
}

/* Drops the oldest reports while a bound is exceeded, counting on top of
 * room for one more report of incoming bytes. Returns how many went. */
static size_t
queue_enforce(struct outbox *box, size_t incoming, int64_t now_us)
{
	size_t dropped = 0;
	size_t room = incoming > 0 ? 1 : 0;

	while (box->count > 0) {
		const struct outbox_item *oldest = &box->items[box->start];
		bool over = box->count + room > (size_t) box->limits.max_reports ||
		    (box->limits.max_bytes > 0 &&
			(int64_t) (box->bytes + incoming) > box->limits.max_bytes) ||
		    (box->limits.max_age_ms > 0 &&
			now_us - oldest->made_at_us > box->limits.max_age_ms * 1000);
		if (!over)
			break;
		queue_pop(box);
		box->dropped++;
		dropped++;
	}
	return dropped;
}

/* ---- the spool ---- */

static void
segment_path(const struct outbox *box, uint64_t first, const char *suffix, char *path,
    size_t size)
{
	snprintf(path, size, "%s/seg-%016" PRIx64 "%s", box->dir, first, suffix);
}

/* The spool cannot be used any more: memory only from now on. */
static void
spool_fail(struct outbox *box, const char *what, int error)
{
	pgf_warning("report spool \"%s\" unusable (%s: %s): keeping unacknowledged reports in memory only",
	    box->dir, what, strerror(error));
	box->spool_failures++;
	if (box->fd >= 0)
		close(box->fd);
	box->fd = -1;
	free(box->dir);
	box->dir = NULL;
	free(box->segments);
	box->segments = NULL;
	box->n_segments = 0;
}

static int
write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO;
		buf += n;
		len -= (size_t) n;
	}
	return 0;
}

static void
sync_dir(const struct outbox *box)
{
	int fd = open(box->dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		(void) fsync(fd);
		close(fd);
	}
}

static int64_t
segment_limit(const struct outbox *box)
{
	int64_t limit = box->limits.max_bytes / 4;
	if (limit < SEGMENT_MIN_BYTES)
		limit = SEGMENT_MIN_BYTES;
	if (limit > SEGMENT_MAX_BYTES)
		limit = SEGMENT_MAX_BYTES;
	return limit;
}

/* Opens a new newest segment starting at report number first. */
static bool
segment_start(struct outbox *box, uint64_t first)
{
	char path[4096];
	struct segment *grown;

	if (box->fd >= 0)
		close(box->fd);
	segment_path(box, first, ".log", path, sizeof(path));
	box->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (box->fd < 0) {
		spool_fail(box, "create a segment", errno);
		return false;
	}
	box->segment_bytes = 0;
	grown = realloc(box->segments, (box->n_segments + 1) * sizeof(grown[0]));
	if (grown == NULL) {
		spool_fail(box, "remember a segment", ENOMEM);
		return false;
	}
	box->segments = grown;
	box->segments[box->n_segments++].first = first;
	sync_dir(box);
	return true;
}

/* Deletes the segments none of whose reports is still queued. */
static void
segments_prune(struct outbox *box)
{
	size_t gone = 0;
	char path[4096];

	if (box->dir == NULL)
		return;
	while (gone < box->n_segments) {
		bool last = gone + 1 == box->n_segments;
		bool retired = last ? box->count == 0
				    : box->segments[gone + 1].first - 1 <= box->retired_through;
		if (!retired)
			break;
		segment_path(box, box->segments[gone].first, ".log", path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT)
			pgf_debug("could not delete spool segment \"%s\": %s", path, strerror(errno));
		if (last && box->fd >= 0) {
			close(box->fd);
			box->fd = -1;
		}
		gone++;
	}
	if (gone > 0) {
		memmove(box->segments, box->segments + gone,
		    (box->n_segments - gone) * sizeof(box->segments[0]));
		box->n_segments -= gone;
	}
}

/* Appends records to the newest segment (starting one if needed); sync
 * makes them durable before returning. */
static void
spool_write(struct outbox *box, const uint8_t *buf, size_t len, uint64_t first, bool sync)
{
	int error;

	if (box->dir == NULL)
		return;
	if ((box->fd < 0 || box->segment_bytes >= segment_limit(box)) &&
	    !segment_start(box, first))
		return;
	if ((error = write_all(box->fd, buf, len)) != 0) {
		spool_fail(box, "write", error);
		return;
	}
	box->segment_bytes += (int64_t) len;
	if (sync && fdatasync(box->fd) != 0)
		spool_fail(box, "fsync", errno);
}

/* A retired mark: every report up to retired_through is done. Not
 * fsync'd: losing one only means a harmless resend. */
static void
spool_mark_retired(struct outbox *box, uint64_t next_first, bool sync)
{
	uint8_t record[OUTBOX_HEADER + OUTBOX_PAYLOAD_HEADER + 8];
	uint8_t value[8];

	if (box->dir == NULL || box->fd < 0)
		return;
	put_u64(value, box->retired_through);
	outbox_encode(record, OUTBOX_RETIRED, 0, 0, value, sizeof(value));
	spool_write(box, record, sizeof(record), next_first, sync);
}

/* ---- recovery ---- */

struct recovery {
	struct outbox_item *items;
	size_t count, capacity;
	uint64_t retired_through;
	uint64_t max_number;
	bool failed;
};

static bool
recover_visit(const struct outbox_record_view *record, void *arg)
{
	struct recovery *r = arg;

	if (record->kind == OUTBOX_RETIRED) {
		uint64_t through = get_u64(record->data);
		if (through > r->retired_through)
			r->retired_through = through;
		return true;
	}
	if (record->number > r->max_number)
		r->max_number = record->number;
	if (r->count == r->capacity) {
		size_t capacity = r->capacity == 0 ? 64 : r->capacity * 2;
		struct outbox_item *items = realloc(r->items, capacity * sizeof(items[0]));
		if (items == NULL) {
			r->failed = true;
			return false;
		}
		r->items = items;
		r->capacity = capacity;
	}
	r->items[r->count].data = malloc(record->len > 0 ? record->len : 1);
	if (r->items[r->count].data == NULL) {
		r->failed = true;
		return false;
	}
	memcpy(r->items[r->count].data, record->data, record->len);
	r->items[r->count].len = record->len;
	r->items[r->count].number = record->number;
	r->items[r->count].made_at_us = record->made_at_us;
	r->count++;
	return true;
}

static int
compare_items(const void *a, const void *b)
{
	const struct outbox_item *x = a, *y = b;
	return x->number < y->number ? -1 : x->number > y->number;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Reads one segment file into r; a file that cannot be read is skipped
 * with a warning (its reports are lost, and counted as corrupt). */
static void
recover_file(struct outbox *box, const char *path, struct recovery *r)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 0 ||
	    (uint64_t) st.st_size > 4ull * OUTBOX_MAX_RECORD * 16u) {
		pgf_warning("report spool: could not read \"%s\": %s", path,
		    fd < 0 ? strerror(errno) : "unreadable or too large");
		box->corrupt++;
		if (fd >= 0)
			close(fd);
		return;
	}
	buf = malloc((size_t) st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		r->failed = true;
		return;
	}
	while (got < (size_t) st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t) n;
	}
	close(fd);
	outbox_scan(buf, got, recover_visit, r, &box->corrupt);
	free(buf);
}

/* Lists spool_dir's segment files (and leftover temporary files), sorted. */
static char **
list_segments(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	char **names = NULL;
	size_t n = 0;

	*count = 0;
	if (d == NULL)
		return NULL;
	while ((entry = readdir(d)) != NULL) {
		char **grown;
		if (strncmp(entry->d_name, "seg-", 4) != 0)
			continue;
		grown = realloc(names, (n + 1) * sizeof(names[0]));
		if (grown == NULL)
			break;
		names = grown;
		if ((names[n] = strdup(entry->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(names[0]), compare_names);
	*count = n;
	return names;
}

/* Writes the recovered queue into one fresh segment, then deletes the old
 * files: corrupt stretches are not counted again at the next start, and a
 * crash half way leaves old and new files whose duplicates are merged. */
static void
spool_compact(struct outbox *box, char **old, size_t n_old)
{
	char path[4096], tmp[4096];
	uint64_t first = box->count > 0 ? box->items[box->start].number : box->next_number;
	bool kept_name = false;
	int fd, error = 0;

	if (box->count > 0) {
		segment_path(box, first, ".tmp", tmp, sizeof(tmp));
		segment_path(box, first, ".log", path, sizeof(path));
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			spool_fail(box, "rewrite the spool", errno);
			return;
		}
		for (size_t i = 0; i < box->count && error == 0; i++) {
			const struct outbox_item *item = &box->items[box->start + i];
			size_t size = outbox_encode_size(item->len);
			uint8_t *record = malloc(size);
			if (record == NULL) {
				error = ENOMEM;
				break;
			}
			outbox_encode(record, OUTBOX_REPORT, item->number, item->made_at_us,
			    item->data, item->len);
			error = write_all(fd, record, size);
			free(record);
			box->segment_bytes += (int64_t) size;
		}
		if (error == 0 && fdatasync(fd) != 0)
			error = errno;
		close(fd);
		if (error == 0 && rename(tmp, path) != 0)
			error = errno;
		if (error != 0) {
			unlink(tmp);
			spool_fail(box, "rewrite the spool", error);
			return;
		}
		sync_dir(box);
		box->segments = malloc(sizeof(box->segments[0]));
		if (box->segments == NULL) {
			spool_fail(box, "remember a segment", ENOMEM);
			return;
		}
		box->segments[0].first = first;
		box->n_segments = 1;
		box->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (box->fd < 0) {
			spool_fail(box, "open a segment", errno);
			return;
		}
		kept_name = true;
	}
	for (size_t i = 0; i < n_old; i++) {
		char name[64];
		snprintf(name, sizeof(name), "seg-%016" PRIx64 ".log", first);
		if (kept_name && strcmp(old[i], name) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", box->dir, old[i]);
		(void) unlink(path);
	}
	sync_dir(box);
}

int
outbox_open(const char *spool_dir, const struct outbox_limits *limits, outbox_keep_fn keep,
    void *keep_arg, struct outbox **out)
{
	struct outbox *box = calloc(1, sizeof(*box));
	struct recovery r;
	char **names;
	size_t n_names = 0;
	int64_t now_us;
	struct timespec ts;

	*out = NULL;
	if (box == NULL)
		return PGF_ENOMEM;
	box->limits = *limits;
	box->fd = -1;
	box->next_number = 1;
	if (spool_dir == NULL || spool_dir[0] == '\0') {
		*out = box;
		return PGF_OK;
	}
	if ((box->dir = strdup(spool_dir)) == NULL) {
		free(box);
		return PGF_ENOMEM;
	}
	if (mkdir(spool_dir, 0700) != 0 && errno != EEXIST) {
		spool_fail(box, "create the directory", errno);
		*out = box;
		return PGF_OK;
	}
	if (access(spool_dir, W_OK | X_OK) != 0) {
		spool_fail(box, "directory not writable", errno);
		*out = box;
		return PGF_OK;
	}
	memset(&r, 0, sizeof(r));
	names = list_segments(spool_dir, &n_names);
	for (size_t i = 0; i < n_names && !r.failed; i++) {
		char path[4096];
		size_t nl = strlen(names[i]);
		/* a .tmp is a compaction that did not finish: its .log
		 * sources are still there */
		if (nl < 4 || strcmp(names[i] + nl - 4, ".log") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", spool_dir, names[i]);
		recover_file(box, path, &r);
	}
	if (r.count > 0)
		qsort(r.items, r.count, sizeof(r.items[0]), compare_items);
	for (size_t i = 0; i < r.count; i++) {
		struct outbox_item *item = &r.items[i];
		bool duplicate = i > 0 && r.items[i - 1].number == item->number;
		if (r.failed || duplicate || item->number <= r.retired_through ||
		    (keep != NULL && !keep(item->data, item->len, keep_arg)) ||
		    queue_push(box, item->number, item->made_at_us, item->data, item->len) != PGF_OK) {
			free(item->data);
			continue;
		}
	}
	free(r.items);
	box->next_number = (r.max_number > r.retired_through ? r.max_number : r.retired_through) + 1;
	box->retired_through = box->next_number - 1;
	if (box->count > 0)
		box->retired_through = box->items[box->start].number - 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_us = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	(void) queue_enforce(box, 0, now_us);
	if (r.failed) {
		for (size_t i = 0; i < n_names; i++)
			free(names[i]);
		free(names);
		outbox_close(box);
		return PGF_ENOMEM;
	}
	if (box->corrupt > 0)
		pgf_warning("report spool \"%s\": %llu corrupt stretch(es) skipped", spool_dir,
		    (unsigned long long) box->corrupt);
	spool_compact(box, names, n_names);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	if (box->count > 0)
		pgf_info("report spool \"%s\": %zu unacknowledged report(s) recovered", spool_dir,
		    box->count);
	*out = box;
	return PGF_OK;
}

void
outbox_close(struct outbox *box)
{
	if (box == NULL)
		return;
	for (size_t i = 0; i < box->count; i++)
		free(box->items[box->start + i].data);
	free(box->items);
	if (box->fd >= 0)
		close(box->fd);
	free(box->segments);
	free(box->dir);
	free(box);
}

void
outbox_set_limits(struct outbox *box, const struct outbox_limits *limits)
{
	box->limits = *limits;
}

int
outbox_append(struct outbox *box, uint8_t *data, size_t len, int64_t now_us)
{
	uint64_t number = box->next_number;
	size_t dropped = queue_enforce(box, len, now_us);
	uint8_t *record;
	size_t size;

	if (box->dir != NULL && dropped > 0) {
		/* the reports dropped for room are done with, on disk too */
		spool_mark_retired(box, number, false);
		segments_prune(box);
	}
	if (queue_push(box, number, now_us, data, len) != PGF_OK)
		return PGF_ENOMEM;
	box->next_number++;
	if (box->dir == NULL)
		return PGF_OK;
	size = outbox_encode_size(len);
	record = malloc(size);
	if (record == NULL) {
		spool_fail(box, "encode", ENOMEM);
		return PGF_OK;
	}
	outbox_encode(record, OUTBOX_REPORT, number, now_us, data, len);
	spool_write(box, record, size, number, true);
	free(record);
	return PGF_OK;
}

size_t
outbox_count(const struct outbox *box)
{
	return box->count;
}

bool
outbox_head(const struct outbox *box, const uint8_t **data, size_t *len)
{
	if (box->count == 0)
		return false;
	*data = box->items[box->start].data;
	*len = box->items[box->start].len;
	return true;
}

void
outbox_retire(struct outbox *box)
{
	if (box->count == 0)
		return;
	queue_pop(box);
	if (box->dir == NULL)
		return;
	if (box->count > 0)
		spool_mark_retired(box, box->next_number, false);
	segments_prune(box);
}

uint64_t
outbox_dropped(const struct outbox *box)
{
	return box->dropped;
}

uint64_t
outbox_corrupt(const struct outbox *box)
{
	return box->corrupt;
}

uint64_t
outbox_spool_failures(const struct outbox *box)
{
	return box->spool_failures;
}

bool
outbox_spooling(const struct outbox *box)
{
	return box->dir != NULL;
}
