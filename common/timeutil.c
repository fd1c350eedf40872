/* timeutil.c - clocks and durations (see timeutil.h). */
#include "common/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
pgf_time_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
pgf_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
pgf_sleep_ms(int64_t ms)
{
	struct timespec ts;
	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

bool
pgf_duration_parse(const char *text, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
		/* "ms" before "m" so the longer unit wins */
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
		{"d", 86400000}, {"w", 604800000},
	};
	const char *p = text;
	int64_t total = 0;
	bool any = false;

	if (text == NULL)
		return false;
	while (isspace((unsigned char) *p))
		p++;
	while (*p != '\0' && !isspace((unsigned char) *p)) {
		int64_t value = 0;
		int64_t scale = 0;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p)) {
			if (value > (INT64_MAX - 9) / 10)
				return false;
			value = value * 10 + (*p - '0');
			p++;
		}
		if (*p == '\0' || isspace((unsigned char) *p)) {
			/* a bare number: seconds, only on its own */
			if (any)
				return false;
			scale = 1000;
		} else {
			for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
				size_t len = strlen(units[i].unit);
				if (strncmp(p, units[i].unit, len) == 0 &&
				    !isalpha((unsigned char) p[len])) {
					scale = units[i].ms;
					p += len;
					break;
				}
			}
			if (scale == 0)
				return false;
		}
		if (value > (INT64_MAX - total) / scale)
			return false;
		total += value * scale;
		any = true;
	}
	while (isspace((unsigned char) *p))
		p++;
	if (!any || *p != '\0')
		return false;
	*ms = total;
	return true;
}

bool
pgf_time_parse(const char *text, int64_t now_us, int64_t *us)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d %H:%M", "%Y-%m-%d",
	};
	int64_t ms;

	if (text == NULL)
		return false;
	if (strcmp(text, "now") == 0) {
		*us = now_us;
		return true;
	}
	if (pgf_duration_parse(text, &ms)) {
		*us = now_us - ms * 1000;
		return true;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm;
		const char *end;
		memset(&tm, 0, sizeof(tm));
		end = strptime(text, formats[i], &tm);
		if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
			continue;
		*us = (int64_t) timegm(&tm) * 1000000;
		return true;
	}
	return false;
}

char *
pgf_duration_format(int64_t ms, char *buf, size_t size)
{
	const char *sign = "";
	if (ms < 0) {
		sign = "-";
		ms = -ms;
	}
	if (ms < 1000)
		snprintf(buf, size, "%s%lldms", sign, (long long) ms);
	else if (ms < 60000)
		snprintf(buf, size, "%s%.3gs", sign, (double) ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, size, "%s%lldm%02llds", sign, (long long) (ms / 60000),
		    (long long) (ms % 60000 / 1000));
	else if (ms < 86400000)
		snprintf(buf, size, "%s%lldh%02lldm", sign, (long long) (ms / 3600000),
		    (long long) (ms % 3600000 / 60000));
	else
		snprintf(buf, size, "%s%lldd%02lldh", sign, (long long) (ms / 86400000),
		    (long long) (ms % 86400000 / 3600000));
	return buf;
}
