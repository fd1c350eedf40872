/* error.c - text for pgfleet's error codes (see error.h). */
#include "common/error.h"

static const char *const error_texts[] = {
#define PGF_ERROR_TEXT(code, text) [code] = text,
	PGF_ERROR_LIST(PGF_ERROR_TEXT)
#undef PGF_ERROR_TEXT
};

const char *
pgf_error_text(int code)
{
	if (code < 0 || code >= PGF_ERROR_COUNT)
		return "unknown error";
	return error_texts[code];
}
