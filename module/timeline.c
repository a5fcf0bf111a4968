/* One timeline across connections (see timeline.h). */
#include "timeline.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void timeline_init(struct timeline *t)
{
	memset(t, 0, sizeof(*t));
	t->last_final_end_ms = -1;
}

void timeline_begin(struct timeline *t, uint64_t conn, int64_t base_ms)
{
	t->conn = conn;
	t->base_ms = base_ms;
	t->n_voices = 0;
	t->history_before = t->n_history;
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

static const char *word_of(const char *text)
{
	return text + strspn(text, " ");
}

static void remember(struct timeline *t, const struct transcript_token *k)
{
	struct timeline_word *w = &t->history[t->n_history++ % TIMELINE_HISTORY];

	w->start_ms = k->start_ms;
	w->end_ms = k->end_ms;
	snprintf(w->text, sizeof(w->text), "%s", word_of(k->text));
	snprintf(w->speaker, sizeof(w->speaker), "%s", k->speaker);
}

static int voice_index(const struct timeline *t, const char *from)
{
	for (uint32_t i = 0; i < t->n_voices; i++)
		if (strcmp(t->voice_from[i], from) == 0)
			return (int)i;
	return -1;
}

/* A repeat of an emitted final: the same word at the same time tells what
 * this session calls the voice the earlier one named. */
static void learn(struct timeline *t, const struct transcript_token *k)
{
	uint32_t n = t->n_history < TIMELINE_HISTORY ? t->n_history : TIMELINE_HISTORY;

	if (k->speaker[0] == '\0' || voice_index(t, k->speaker) >= 0 ||
	    t->n_voices == TIMELINE_MAX_VOICES)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const struct timeline_word *w = &t->history[i];
		int64_t d = w->start_ms - k->start_ms;
		if (w->speaker[0] == '\0' || strcmp(w->text, word_of(k->text)) != 0 ||
		    d > TIMELINE_MATCH_MS || d < -TIMELINE_MATCH_MS)
			continue;
		memcpy(t->voice_from[t->n_voices], k->speaker, TOKEN_LABEL_MAX);
		memcpy(t->voice_to[t->n_voices], w->speaker, TOKEN_LABEL_MAX);
		t->n_voices++;
		return;
	}
}

static bool is_target(const struct timeline *t, const char *label)
{
	for (uint32_t i = 0; i < t->n_voices; i++)
		if (strcmp(t->voice_to[i], label) == 0)
			return true;
	return false;
}

/* A voice the overlap did not have: it gets an earlier label nobody else
 * has taken (the earlier session's voices in the order they spoke), else
 * its own, else a new one, and keeps it for the rest of the session. */
static int assign(struct timeline *t, const char *from)
{
	/* the earlier sessions' words still in the ring */
	uint32_t n = t->history_before < TIMELINE_HISTORY ? t->history_before : TIMELINE_HISTORY;
	uint32_t first = t->history_before - n;
	const char *to = NULL;
	char fresh[TOKEN_LABEL_MAX];

	if (t->n_voices == TIMELINE_MAX_VOICES)
		return -1;
	for (uint32_t i = 0; i < n && to == NULL; i++) {
		const char *old = t->history[(first + i) % TIMELINE_HISTORY].speaker;
		if (old[0] != '\0' && !is_target(t, old))
			to = old;
	}
	if (to == NULL && !is_target(t, from))
		to = from;
	if (to == NULL) {
		snprintf(fresh, sizeof(fresh), "%s+", from);
		to = fresh;
	}
	snprintf(t->voice_from[t->n_voices], TOKEN_LABEL_MAX, "%s", from);
	snprintf(t->voice_to[t->n_voices], TOKEN_LABEL_MAX, "%s", to);
	return (int)t->n_voices++;
}

static void map_voice(struct timeline *t, struct transcript_token *k)
{
	int i;

	if (k->speaker[0] == '\0' || t->history_before == 0)
		return;		/* the first session's labels are the labels */
	if ((i = voice_index(t, k->speaker)) < 0)
		i = assign(t, k->speaker);
	if (i >= 0)
		snprintf(k->speaker, sizeof(k->speaker), "%s", t->voice_to[i]);
}

/* The word a finalize cut short, heard whole by the next connection: the
 * same text as one of the last words an earlier connection made final,
 * starting where that one did or just after its end. */
static bool cut_word(const struct timeline *t, const struct transcript_token *k)
{
	uint32_t n = t->history_before < TIMELINE_SEAM_WORDS ? t->history_before : TIMELINE_SEAM_WORDS;

	for (uint32_t i = 1; i <= n; i++) {
		const struct timeline_word *w = &t->history[(t->history_before - i) % TIMELINE_HISTORY];
		if (strcmp(w->text, word_of(k->text)) == 0 &&
		    k->start_ms >= w->start_ms - TIMELINE_MATCH_MS &&
		    k->start_ms <= w->end_ms + TIMELINE_MATCH_MS)
			return true;
	}
	return false;
}

/* Already said (DESIGN.md §6): a word whose midpoint lies before the end
 * of the last final (a replay, its overlap, or times shifted a little by
 * another session), or the cut word of a finalize said again. */
static bool repeated(const struct timeline *t, const struct transcript_token *k)
{
	if (k->end_ms < 0 || t->last_final_end_ms < 0)
		return false;
	if (k->end_ms <= t->last_final_end_ms)
		return true;
	if (k->start_ms >= 0 && k->start_ms + (k->end_ms - k->start_ms) / 2 < t->last_final_end_ms)
		return true;
	return k->start_ms >= 0 && cut_word(t, k);
}

uint32_t timeline_map_tokens(struct timeline *t, struct transcript_token *tok, uint32_t n)
{
	uint32_t out = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct transcript_token *k = &tok[i];
		map_time(t, &k->start_ms);
		map_time(t, &k->end_ms);
		if (repeated(t, k)) {
			if (k->is_final)
				learn(t, k);
			continue;
		}
		map_voice(t, k);
		if (k->is_final) {
			t->last_final_end_ms = k->end_ms > t->last_final_end_ms ?
				k->end_ms : t->last_final_end_ms;
			remember(t, k);
		}
		if (out != i)
			tok[out] = *k;
		out++;
	}
	return out;
}
