/*
 * render.h - one generic renderer for every answer pgfleet gives.
 *
 * Works from protobuf-c descriptors, so no answer needs its own printer:
 * the CLI's --json, the CLI's tables and (later) the HTTP API all come from
 * here. JSON field names are the proto field names (the user's guide's
 * names); enums render as their value names; int64/uint64 stay exact
 * integers (jansson json_int_t); bytes render as text made valid UTF-8
 * (invalid sequences become U+FFFD), because they carry query texts in the
 * server's encoding.
 */
#ifndef PGFLEET_COMMON_RENDER_H
#define PGFLEET_COMMON_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* pgf_render_json returns a new JSON object with every field of message
 * (proto3 scalars always, zero values included; unset submessages as null;
 * only the set member of a oneof). The caller owns the result (json_decref).
 * Keys follow the proto's field order. A uint64 above INT64_MAX renders as
 * a decimal string; a NaN or infinite float/double as null; an enum number
 * without a name as the number.
 * Returns NULL only when out of memory. */
json_t *pgf_render_json(const ProtobufCMessage *message);

/* pgf_render_rows_field returns the descriptor of message's only repeated
 * message field (the "rows" of an answer), or NULL when it has none or more
 * than one. */
const ProtobufCFieldDescriptor *pgf_render_rows_field(
    const ProtobufCMessage *message);

/* pgf_render_answer_json renders an answer: the array of its rows when it
 * has a rows field (the guide's endpoints return arrays), else the object.
 * The caller owns the result. */
json_t *pgf_render_answer_json(const ProtobufCMessage *message);

/* pgf_render_json_print writes json to out, indented, with a trailing
 * newline, reals with 15 significant digits (45.67 prints as 45.67), then
 * flushes out. Returns 0 or -1 on a write error. */
int pgf_render_json_print(const json_t *json, FILE *out);

/* pgf_render_table prints the rows of message's rows field as a table
 * (libsmartcols), one column per scalar field of the row message, numbers
 * right-aligned, text truncated to fit the terminal; a message without a
 * rows field prints as a two-column field/value table. Returns 0, or -1 on
 * an allocation or write error.
 *
 * Details: headers are the field names. Text cells are cleaned like bytes
 * and every run of white space or control characters becomes one space
 * (query texts span lines). Doubles print with at most three decimals,
 * trailing zeros dropped (45.67, 0.037, 2), %g below 0.001; bools as
 * yes/no; enums as their value name in lower case without the prefix all
 * the enum's names share (ROLE_PRIMARY -> primary). Only when out itself
 * is a terminal is the table fitted to its width (text columns cut, no
 * ellipsis); otherwise nothing is cut. No rows prints the line "(0 rows)"
 * instead of a table. The field/value table flattens submessages to dotted
 * paths (instance.name, statements.statements[0].queryid); an unset
 * submessage is one line with an empty value; repeated scalars are joined
 * by ", ". For non-ASCII text to show rather than \x escapes, the program
 * must have set a UTF-8 LC_CTYPE (setlocale(LC_ALL, "")). */
int pgf_render_table(const ProtobufCMessage *message, FILE *out);

/* pgf_text_clean returns a malloc'd NUL-terminated copy of data[0..len)
 * that is valid UTF-8: invalid sequences (overlongs and surrogates
 * included; one U+FFFD per maximal invalid subpart, as Unicode recommends)
 * and NUL bytes become U+FFFD.
 * Returns NULL only when out of memory. */
char *pgf_text_clean(const uint8_t *data, size_t len);

#endif
