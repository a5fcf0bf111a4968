/* fs-recognizer: energy-gated words named by zero-crossing frequency.
 * See fs-recognizer.h for the rules. */
#include "fs-recognizer.h"

#include <math.h>
#include <stdlib.h>

#define FRAME_MS	10
#define CROSS_HYSTERESIS	64	/* about -54 dBFS */
#define MAX_RATE	192000

struct rec {
	unsigned rate;
	size_t frame_len;		/* samples per 10 ms frame */
	double threshold_rms;		/* linear, in sample units */
	uint64_t hangover;		/* samples */
	uint64_t min_word;		/* samples */

	int16_t *frame;			/* partial frame carried between feeds */
	size_t fill;
	uint64_t pos;			/* samples processed */

	bool open;			/* a word is in progress */
	uint64_t w_start, w_end;	/* samples: first voiced .. end of last voiced frame */
	uint64_t w_voiced;		/* voiced samples in the word */
	uint64_t w_cross;		/* zero crossings inside voiced frames */
	uint64_t w_halves;		/* half periods measured: crossing to crossing */
	uint64_t w_span;		/* samples those half periods cover */
	uint64_t last_cross;		/* sample position of the last crossing */
	bool have_last;			/* last_cross is in the current voiced run */
	uint64_t w_silence;		/* unvoiced samples since w_end */
	bool prev_voiced;		/* last frame was voiced (crossing continuity) */
	int prev_sign;
	uint64_t final_pos;		/* samples: rec_final_ms() floor, monotonic */
};

static uint64_t samples_to_ms(const struct rec *r, uint64_t n)
{
	return (n * 1000 + r->rate / 2) / r->rate;
}

struct rec *rec_new(unsigned rate, const struct rec_params *p)
{
	struct rec *r;

	if (rate == 0 || rate > MAX_RATE || !p)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->rate = rate;
	r->frame_len = rate * FRAME_MS / 1000;
	if (r->frame_len == 0)
		r->frame_len = 1;
	r->frame = calloc(r->frame_len, sizeof(int16_t));
	if (!r->frame) {
		free(r);
		return NULL;
	}
	r->threshold_rms = 32768.0 * pow(10.0, p->threshold_db / 20.0);
	r->hangover = (uint64_t)p->hangover_ms * rate / 1000;
	r->min_word = (uint64_t)p->min_word_ms * rate / 1000;
	return r;
}

void rec_free(struct rec *r)
{
	if (!r)
		return;
	free(r->frame);
	free(r);
}

static bool word_reportable(const struct rec *r)
{
	return r->open && r->w_end - r->w_start >= r->min_word && r->w_end > r->w_start;
}

static void word_fill(const struct rec *r, struct rec_word *w)
{
	double hz = 0.0;

	/* Crossing to crossing, not crossings per voiced frame: a burst
	 * starting or ending inside a frame leaves part of it silent. */
	if (r->w_span > 0)
		hz = (double)r->w_halves * r->rate / (2.0 * (double)r->w_span);
	else if (r->w_voiced > 0)
		hz = (double)r->w_cross * r->rate / (2.0 * (double)r->w_voiced);
	w->freq_hz = (unsigned)((hz + 50.0) / 100.0) * 100;
	w->start_ms = samples_to_ms(r, r->w_start);
	w->end_ms = samples_to_ms(r, r->w_end);
}

static void word_close(struct rec *r, rec_final_fn fn, void *data)
{
	struct rec_word w;

	if (word_reportable(r)) {
		word_fill(r, &w);
		fn(data, &w);
	}
	r->open = false;
	r->prev_voiced = false;
}

static void frame_process(struct rec *r, const int16_t *s, size_t n,
			  rec_final_fn fn, void *data)
{
	double sum = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += (double)s[i] * s[i];

	if (n > 0 && sqrt(sum / (double)n) > r->threshold_rms) {
		if (!r->open) {
			r->open = true;
			r->w_start = r->pos;
			r->w_voiced = 0;
			r->w_cross = 0;
			r->w_halves = 0;
			r->w_span = 0;
		}
		/* A crossing needs a swing past ±CROSS_HYSTERESIS: the quiet
		 * part of a frame where a burst starts carries resampler noise
		 * around zero, whose sign flips are not the tone's. */
		for (i = 0; i < n; i++) {
			int sign = s[i] > CROSS_HYSTERESIS ? 1 : s[i] < -CROSS_HYSTERESIS ? -1 : 0;
			if (sign == 0)
				continue;
			if (!r->prev_voiced)
				r->have_last = false;	/* a new voiced run */
			if (r->prev_voiced && r->prev_sign != 0 && sign != r->prev_sign) {
				if (r->have_last) {
					r->w_halves++;
					r->w_span += r->pos + i - r->last_cross;
				}
				r->w_cross++;
				r->last_cross = r->pos + i;
				r->have_last = true;
			}
			r->prev_sign = sign;
			r->prev_voiced = true;
		}
		r->prev_voiced = true;
		r->w_voiced += n;
		r->w_end = r->pos + n;
		r->w_silence = 0;
	} else {
		r->prev_voiced = false;
		if (r->open) {
			r->w_silence += n;
			if (r->w_silence >= r->hangover)
				word_close(r, fn, data);
		}
	}
	r->pos += n;
	r->final_pos = r->open ? r->w_start : r->pos;
}

void rec_feed(struct rec *r, const int16_t *s, size_t n, rec_final_fn fn, void *data)
{
	while (n > 0) {
		size_t take = r->frame_len - r->fill;

		if (take > n)
			take = n;
		if (r->fill == 0 && take == r->frame_len) {
			frame_process(r, s, take, fn, data);
		} else {
			for (size_t i = 0; i < take; i++)
				r->frame[r->fill + i] = s[i];
			r->fill += take;
			if (r->fill == r->frame_len) {
				frame_process(r, r->frame, r->fill, fn, data);
				r->fill = 0;
			}
		}
		s += take;
		n -= take;
	}
}

void rec_flush(struct rec *r, rec_final_fn fn, void *data)
{
	if (r->fill > 0) {
		frame_process(r, r->frame, r->fill, fn, data);
		r->fill = 0;
	}
	if (r->open)
		word_close(r, fn, data);
	r->final_pos = r->pos;
}

bool rec_partial(const struct rec *r, struct rec_word *w)
{
	if (!word_reportable(r))
		return false;
	word_fill(r, w);
	return true;
}

uint64_t rec_total_ms(const struct rec *r)
{
	return samples_to_ms(r, r->pos);
}

uint64_t rec_final_ms(const struct rec *r)
{
	return samples_to_ms(r, r->final_pos);
}
