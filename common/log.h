/*
 * log.h - leveled logging to stderr, one line per event.
 *
 * Lines look like "2026-11-27T02:39:17Z pgfleet-agent WARNING: could not ...".
 * When $JOURNAL_STREAM is set, each line starts with the journald priority
 * prefix ("<4>") instead of the timestamp. Program output goes to stdout;
 * logs never do. Thread-safe: each line is written with one write(2).
 */
#ifndef PGFLEET_COMMON_LOG_H
#define PGFLEET_COMMON_LOG_H

#include <stdbool.h>

enum pgf_log_level {
	PGF_LOG_DEBUG,
	PGF_LOG_INFO,
	PGF_LOG_WARNING,
	PGF_LOG_ERROR,
};

/* pgf_log_init sets the program name shown in every line and the level. */
void pgf_log_init(const char *program, enum pgf_log_level level);

/* pgf_log_set_level changes the minimum level shown (e.g. on reload). */
void pgf_log_set_level(enum pgf_log_level level);

/* pgf_log_level_parse turns "debug", "info", "warning" or "error" into a
 * level; returns false for anything else. */
bool pgf_log_level_parse(const char *text, enum pgf_log_level *level);

/* pgf_log writes one line if level is at or above the current level. */
void pgf_log(enum pgf_log_level level, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

#define pgf_debug(...) pgf_log(PGF_LOG_DEBUG, __VA_ARGS__)
#define pgf_info(...) pgf_log(PGF_LOG_INFO, __VA_ARGS__)
#define pgf_warning(...) pgf_log(PGF_LOG_WARNING, __VA_ARGS__)
#define pgf_error(...) pgf_log(PGF_LOG_ERROR, __VA_ARGS__)

#endif
