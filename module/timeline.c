/* One timeline across connections (see timeline.h). */
#include "timeline.h"

#include <string.h>

void timeline_init(struct timeline *t)
{
	memset(t, 0, sizeof(*t));
	t->last_final_end_ms = -1;
}

void timeline_begin(struct timeline *t, uint64_t conn)
{
	t->conn = conn;
	t->base_ms = t->committed_ms;
}

int64_t timeline_commit(struct timeline *t, int64_t final_ms)
{
	int64_t at = t->base_ms + final_ms, moved;

	if (t->conn == 0 || final_ms < 0 || at <= t->committed_ms)
		return 0;
	moved = at - t->committed_ms;
	t->committed_ms = at;
	return moved;
}

int64_t timeline_skip(struct timeline *t, int64_t at_ms)
{
	int64_t gap = at_ms - t->committed_ms;

	if (gap <= 0)
		return 0;
	t->committed_ms = at_ms;
	return gap;
}

static void map_time(const struct timeline *t, int64_t *ms)
{
	if (*ms >= 0)
		*ms += t->base_ms;
}

uint32_t timeline_map_tokens(struct timeline *t, struct transcript_token *tok, uint32_t n)
{
	uint32_t out = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct transcript_token *k = &tok[i];
		map_time(t, &k->start_ms);
		map_time(t, &k->end_ms);
		if (k->is_final) {
			/* A repeat of something already final: the seam of a replay. */
			if (k->end_ms >= 0 && k->end_ms <= t->last_final_end_ms)
				continue;
			if (k->end_ms > t->last_final_end_ms)
				t->last_final_end_ms = k->end_ms;
		}
		if (out != i)
			tok[out] = *k;
		out++;
	}
	return out;
}
