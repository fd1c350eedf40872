/* sparkline.c - series as block characters (see sparkline.h). */
#include "common/sparkline.h"

#include <string.h>

static const char *const blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

char *
pgf_sparkline(const double *values, const bool *present, size_t n, char *out, size_t size)
{
	double max = 0.0;
	size_t used = 0;

	if (size == 0)
		return out;
	for (size_t i = 0; i < n; i++) {
		if ((present == NULL || present[i]) && values[i] > max)
			max = values[i];
	}
	for (size_t i = 0; i < n; i++) {
		const char *glyph;
		size_t len;
		if (present != NULL && !present[i]) {
			glyph = " ";
		} else {
			/* the smallest block still shows that there was data */
			int level = max > 0.0 && values[i] > 0.0 ? (int) (values[i] / max * 7.0 + 0.5) : 0;
			glyph = blocks[level < 0 ? 0 : level > 7 ? 7 : level];
		}
		len = strlen(glyph);
		if (used + len + 1 > size)
			break;
		memcpy(out + used, glyph, len);
		used += len;
	}
	out[used] = '\0';
	return out;
}
