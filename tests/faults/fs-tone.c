/* fs-tone: see fs-tone.h. */
#include "fs-tone.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-recognizer.h"
#include "srv-log.h"

#define CONFIDENCE	0.99
#define LOW_VOICE_HZ	1500

struct tone {
	struct rec *r;
	unsigned conn_id;
	bool diarize;
	unsigned voice_label[2];	/* 0: not heard yet */
	unsigned n_voices;
	srv_final_fn fn;		/* of the feed/finalize call in progress */
	void *data;
};

static unsigned voice_of(struct tone *t, const struct rec_word *w)
{
	unsigned v = w->freq_hz < LOW_VOICE_HZ ? 0 : 1;

	if (t->voice_label[v] == 0)
		t->voice_label[v] = ++t->n_voices;
	return t->voice_label[v];
}

static void to_word(struct tone *t, const struct rec_word *w, struct srv_word *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = SRV_WORD;
	snprintf(out->text, sizeof(out->text), "w%u", w->freq_hz);
	out->start_ms = w->start_ms;
	out->end_ms = w->end_ms;
	out->confidence = CONFIDENCE;
	if (t->diarize)
		snprintf(out->speaker, sizeof(out->speaker), "%u", voice_of(t, w));
}

static void on_word(void *data, const struct rec_word *w)
{
	struct tone *t = data;
	struct srv_word sw;

	to_word(t, w, &sw);
	if (t->diarize)
		srv_log("conn=%u final text=w%u start_ms=%" PRIu64 " end_ms=%" PRIu64 " speaker=%s",
			t->conn_id, w->freq_hz, w->start_ms, w->end_ms, sw.speaker);
	else
		srv_log("conn=%u final text=w%u start_ms=%" PRIu64 " end_ms=%" PRIu64,
			t->conn_id, w->freq_hz, w->start_ms, w->end_ms);
	t->fn(t->data, &sw, 1, false);
}

static void *tone_open(void *ctx, struct srv_stream_params *p)
{
	struct tone *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->r = rec_new(p->rate, ctx);
	if (!t->r) {
		free(t);
		return NULL;
	}
	t->conn_id = p->conn_id;
	t->diarize = p->diarize;
	return t;
}

static void tone_close(void *tv)
{
	struct tone *t = tv;

	rec_free(t->r);
	free(t);
}

static int tone_feed(void *tv, const int16_t *pcm, size_t n, srv_final_fn fn, void *data)
{
	struct tone *t = tv;

	t->fn = fn;
	t->data = data;
	rec_feed(t->r, pcm, n, on_word, t);
	return 0;
}

static int tone_finalize(void *tv, srv_final_fn fn, void *data)
{
	struct tone *t = tv;

	t->fn = fn;
	t->data = data;
	rec_flush(t->r, on_word, t);
	return 0;
}

static size_t tone_partial(void *tv, struct srv_word *out, size_t max)
{
	struct tone *t = tv;
	struct rec_word w;

	if (max == 0 || !rec_partial(t->r, &w))
		return 0;
	to_word(t, &w, out);
	return 1;
}

static uint64_t tone_total_ms(void *t)
{
	return rec_total_ms(((struct tone *)t)->r);
}

static uint64_t tone_final_ms(void *t)
{
	return rec_final_ms(((struct tone *)t)->r);
}

const struct srv_recognizer fs_tone_recognizer = {
	.name = "tone",
	.rate = 0,
	.open = tone_open,
	.close = tone_close,
	.feed = tone_feed,
	.finalize = tone_finalize,
	.partial = tone_partial,
	.in_utterance = NULL,
	.total_ms = tone_total_ms,
	.final_ms = tone_final_ms,
};
