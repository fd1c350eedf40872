/*
 * log.c - leveled logging to stderr (see log.h).
 *
 * Each line is formatted into one buffer and written with one write(2), so
 * lines from several threads never interleave.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "pgfleet";
static enum pgf_log_level log_minimum = PGF_LOG_INFO;
static bool log_journal;

static const char *const level_names[] = {
	[PGF_LOG_DEBUG] = "DEBUG",
	[PGF_LOG_INFO] = "LOG",
	[PGF_LOG_WARNING] = "WARNING",
	[PGF_LOG_ERROR] = "ERROR",
};

/* syslog priorities, as journald reads them from "<N>" prefixes */
static const int level_priorities[] = {
	[PGF_LOG_DEBUG] = 7,
	[PGF_LOG_INFO] = 6,
	[PGF_LOG_WARNING] = 4,
	[PGF_LOG_ERROR] = 3,
};

void
pgf_log_init(const char *program, enum pgf_log_level level)
{
	log_program = program;
	log_minimum = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
pgf_log_set_level(enum pgf_log_level level)
{
	log_minimum = level;
}

bool
pgf_log_level_parse(const char *text, enum pgf_log_level *level)
{
	static const struct {
		const char *name;
		enum pgf_log_level level;
	} names[] = {
		{"debug", PGF_LOG_DEBUG},	{"info", PGF_LOG_INFO},
		{"warning", PGF_LOG_WARNING}, {"error", PGF_LOG_ERROR},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i].name) == 0) {
			*level = names[i].level;
			return true;
		}
	}
	return false;
}

void
pgf_log(enum pgf_log_level level, const char *format, ...)
{
	char line[2048];
	size_t used = 0;
	int n;
	va_list args;

	if (level < log_minimum)
		return;
	if (log_journal) {
		n = snprintf(line, sizeof(line), "<%d>%s: ",
		    level_priorities[level], level_names[level]);
	} else {
		char stamp[32];
		struct tm tm;
		time_t now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = snprintf(line, sizeof(line), "%s %s %s: ", stamp,
		    log_program, level_names[level]);
	}
	if (n > 0)
		used = (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1;
	va_start(args, format);
	n = vsnprintf(line + used, sizeof(line) - used, format, args);
	va_end(args);
	if (n > 0)
		used += (size_t) n < sizeof(line) - used ? (size_t) n
							 : sizeof(line) - used - 1;
	/* one line per event, and only text: a newline inside the message
	 * would break the line, and a message can carry a server's or a
	 * peer's strings (application names, query text), whose escape
	 * sequences must not reach an operator's terminal */
	for (size_t i = 0; i < used; i++) {
		unsigned char c = (unsigned char) line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = ' ';
	}
	if (used >= sizeof(line) - 1)
		used = sizeof(line) - 2;
	line[used++] = '\n';
	if (write(STDERR_FILENO, line, used) < 0) {
		/* nowhere left to report it */
	}
}
