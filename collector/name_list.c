/*
 * name_list.c - comma-separated name lists in one defined order (see
 * name_list.h).
 */
#include "collector/name_list.h"

#include <stdlib.h>
#include <string.h>

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

char *
name_list_sorted(const char *list)
{
	size_t n = 1, used = 0;
	char *copy, *out, *save = NULL;
	char **names;

	if (list == NULL)
		return NULL;
	for (const char *c = list; *c != '\0'; c++)
		n += *c == ',';
	copy = strdup(list);
	out = malloc(strlen(list) + 1);
	names = calloc(n, sizeof(names[0]));
	if (copy == NULL || out == NULL || names == NULL) {
		free(copy);
		free(out);
		free(names);
		return NULL;
	}
	n = 0;
	for (char *name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save))
		names[n++] = name;
	qsort(names, n, sizeof(names[0]), compare_names);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (i > 0)
			out[used++] = ',';
		memcpy(out + used, names[i], len + 1);
		used += len;
	}
	free(names);
	free(copy);
	return out;
}
