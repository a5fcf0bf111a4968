/* One timeline across connections (see timeline.h). */
#include "timeline.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

enum verdict {
	TOKEN_KEEP,		/* times mapped onto the stream */
	TOKEN_TIMELESS,		/* no times: to be placed */
	TOKEN_DROP,		/* the service's error */
};

void timeline_init(struct timeline *t)
{
	memset(t, 0, sizeof(*t));
	t->last_final_end_ms = -1;
	t->sent_ms = -1;
}

void timeline_begin(struct timeline *t, uint64_t conn, int64_t base_ms)
{
	t->conn = conn;
	t->base_ms = base_ms;
	t->n_voices = 0;
	t->history_before = t->n_history;
	if (t->sent_ms >= 0)
		t->sent_ms = 0;
	t->conn_anomalies = 0;
	t->anomaly_pending = false;
}

void timeline_sent(struct timeline *t, int64_t sent_ms)
{
	t->sent_ms = sent_ms > 0 ? sent_ms : 0;
}

__attribute__((format(printf, 2, 3)))
static void anomaly(struct timeline *t, const char *fmt, ...)
{
	va_list ap;

	t->n_anomalies++;
	if (t->conn_anomalies++ > 0)
		return;
	va_start(ap, fmt);
	vsnprintf(t->anomaly, sizeof(t->anomaly), fmt, ap);
	va_end(ap);
	t->anomaly_pending = true;
}

const char *timeline_take_anomaly(struct timeline *t)
{
	if (!t->anomaly_pending)
		return NULL;
	t->anomaly_pending = false;
	return t->anomaly;
}

/* Whether a connection-time value can be on this connection's audio. */
static bool beyond_audio(struct timeline *t, int64_t ms)
{
	return t->sent_ms >= 0 ? ms > t->sent_ms + TIMELINE_SLACK_MS : ms > TIMELINE_MS_MAX;
}

int64_t timeline_commit(struct timeline *t, int64_t final_ms)
{
	int64_t at, moved;

	if (t->conn == 0 || final_ms < 0)
		return 0;
	if (beyond_audio(t, final_ms)) {
		anomaly(t, "the service said %" PRIi64 " ms of audio were final, but was sent %"
				PRIi64 " ms: ignored", final_ms, t->sent_ms);
		return 0;
	}
	if (t->sent_ms >= 0 && final_ms > t->sent_ms)
		final_ms = t->sent_ms;
	at = t->base_ms + final_ms;
	if (at <= t->committed_ms)
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

/* Checks a token's times (the connection's clock) and maps them onto the
 * stream. One time missing: the token is a point at the other. */
static enum verdict map_times(struct timeline *t, struct transcript_token *k)
{
	int64_t s = k->start_ms, e = k->end_ms;

	if (s < 0 && e < 0)
		return TOKEN_TIMELESS;
	s = s < 0 ? e : s;
	e = e < 0 ? s : e;
	if (beyond_audio(t, s)) {
		anomaly(t, "the service placed a token at %" PRIi64 " ms, but was sent %" PRIi64
				" ms of audio: dropped", s, t->sent_ms);
		return TOKEN_DROP;
	}
	if (e < s) {
		anomaly(t, "the service sent a token ending at %" PRIi64 " ms, before its start at %"
				PRIi64 " ms: it ends where it starts", e, s);
		e = s;
	}
	if (t->sent_ms >= 0) {
		if (beyond_audio(t, e))
			anomaly(t, "the service sent a token ending at %" PRIi64 " ms, but was sent %"
					PRIi64 " ms of audio: it ends there", e, t->sent_ms);
		/* Within the slack: clamped to what was sent, silently. */
		e = min64(e, t->sent_ms);
		s = min64(s, e);
	} else if (e > TIMELINE_MS_MAX) {
		e = TIMELINE_MS_MAX;
	}
	k->start_ms = t->base_ms + s;
	k->end_ms = t->base_ms + e;
	return TOKEN_KEEP;
}

static const char *word_of(const char *text)
{
	return text + strspn(text, " ");
}

static void remember(struct timeline *t, const struct transcript_token *k, bool timeless)
{
	struct timeline_word *w = &t->history[t->n_history++ % TIMELINE_HISTORY];

	w->start_ms = k->start_ms;
	w->end_ms = k->end_ms;
	w->timeless = timeless;
	w->matched_conn = 0;
	snprintf(w->text, sizeof(w->text), "%s", word_of(k->text));
	snprintf(w->speaker, sizeof(w->speaker), "%s", k->speaker);
}

/* A final without times that an earlier connection already gave, placed
 * where this connection's audio (a replay) covers it again: a repeat. Each
 * earlier word matches once per connection. */
static bool repeats_timeless(struct timeline *t, const struct transcript_token *k)
{
	uint32_t n = t->history_before < TIMELINE_HISTORY ? t->history_before : TIMELINE_HISTORY;
	uint32_t first = t->history_before - n;
	char text[sizeof(t->history[0].text)];

	snprintf(text, sizeof(text), "%s", word_of(k->text));
	for (uint32_t i = 0; i < n; i++) {
		struct timeline_word *w = &t->history[(first + i) % TIMELINE_HISTORY];
		if (w->timeless && w->matched_conn != t->conn && w->start_ms >= t->base_ms &&
		    strcmp(w->text, text) == 0) {
			w->matched_conn = t->conn;
			return true;
		}
	}
	return false;
}

/* A token without times: partials stay unplaced; a final goes at the last
 * final's end (or the connection's start), unless it is a replayed repeat. */
static bool place_timeless(struct timeline *t, struct transcript_token *k)
{
	int64_t at = max64(t->last_final_end_ms, t->base_ms);

	if (!k->is_final)
		return true;
	if (repeats_timeless(t, k))
		return false;
	k->start_ms = k->end_ms = at;
	return true;
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
		if (w->timeless || w->speaker[0] == '\0' || strcmp(w->text, word_of(k->text)) != 0 ||
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
		enum verdict v = map_times(t, k);

		if (v == TOKEN_DROP || (v == TOKEN_TIMELESS && !place_timeless(t, k)))
			continue;
		/* Already said: the seam of a replay (or its overlap). */
		if (v == TOKEN_KEEP && repeated(t, k)) {
			if (k->is_final)
				learn(t, k);
			continue;
		}
		map_voice(t, k);
		if (k->is_final) {
			if (v == TOKEN_KEEP)
				t->last_final_end_ms = max64(k->end_ms, t->last_final_end_ms);
			remember(t, k, v == TOKEN_TIMELESS);
		}
		if (out != i)
			tok[out] = *k;
		out++;
	}
	return out;
}
