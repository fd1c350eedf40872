/*
 * name_list.h - comma-separated name lists in answers ("replica,primary"
 * for a statement grouped over a cluster), in one defined order.
 *
 * SQLite's group_concat(DISTINCT) lists names in the order its plan meets
 * the rows and PostgreSQL's string_agg(DISTINCT) sorts them: both stores
 * pass their lists through here so their answers are the same.
 */
#ifndef PGFLEET_COLLECTOR_NAME_LIST_H
#define PGFLEET_COLLECTOR_NAME_LIST_H

/*
 * name_list_sorted returns a malloc'd copy of the comma-separated names of
 * list in byte order (empty names dropped, as strtok does); NULL when out
 * of memory or list is NULL.
 */
char *name_list_sorted(const char *list);

#endif
