/* srv-session: see srv-session.h. */
#include "srv-session-int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv-log.h"

static void push(struct sess *s, struct srv_out *o)
{
	if (!o) {
		srv_log("conn=%u error what=out-of-memory", s->id);
		return;
	}
	srv_outq_push(&s->out, o);
}

/* What a dialect function queued (rc < 0: it ran out of memory). */
void sess_push_dialect(struct sess *s, struct srv_outq *q, int rc)
{
	if (rc < 0)
		srv_log("conn=%u error what=out-of-memory", s->id);
	srv_outq_move(&s->out, q);
}

void sess_close(struct sess *s, int code)
{
	struct srv_out *o = srv_out_new(SRV_OUT_CLOSE, NULL, 0);

	if (o)
		o->code = code;
	push(s, o);
	s->state = ST_DONE;
}

void sess_push(struct sess *s, struct srv_out *o)
{
	if (o && (o->kind == SRV_OUT_RST || o->kind == SRV_OUT_FIN || o->kind == SRV_OUT_CLOSE ||
		  o->kind == SRV_OUT_RAW_CLOSE))
		s->state = ST_DONE;
	push(s, o);
}

/* The dialect frames the error and its close (Deepgram and vosk: a close
 * code and reason only). */
void sess_send_error(struct sess *s, const struct srv_error *e)
{
	struct srv_outq q = { 0 };
	char logmsg[SRV_ERROR_MSG_MAX];
	size_t i;
	int rc;

	if (s->state == ST_DONE)
		return;
	rc = s->p->dialect->error(e, &s->dst, &q);
	if (!q.tail || q.tail->kind != SRV_OUT_CLOSE)
		rc = -1;	/* out of memory before the close */
	sess_push_dialect(s, &q, rc);
	for (i = 0; e->message[i] && i < sizeof(logmsg) - 1; i++)
		logmsg[i] = e->message[i] == '"' ? '\'' : e->message[i];
	logmsg[i] = '\0';
	srv_log("conn=%u error code=%d type=%s close=%d msg=\"%s\"", s->id, e->code, e->type,
		e->close, logmsg);
	if (rc < 0)
		sess_close(s, e->close);
	s->state = ST_DONE;
}

void sess_fail(struct sess *s, int code, const char *type, int close, const char *msg)
{
	struct srv_error e;

	srv_error_set(&e, code, type, close, "%s", msg);
	sess_send_error(s, &e);
}

static int add_final(struct sess *s, const struct srv_word *w);

static uint64_t rec_total(const struct sess *s)
{
	return s->rec ? s->rc->total_ms(s->rec) : 0;
}

static void refresh_partial(struct sess *s)
{
	s->n_partial = s->rc->partial(s->rec, s->partial, MAX_PARTIAL_WORDS);
}

/* New finals (and markers), then the words in progress (unless finished). */
static void respond(struct sess *s, bool fin_mark, bool finished)
{
	struct srv_outq q = { 0 };
	struct srv_result r;
	uint64_t total = rec_total(s);
	struct srv_word fin = { .kind = SRV_MARK_FIN, .start_ms = total, .end_ms = total,
				.confidence = -1 };

	if (s->muted) {
		s->n_finals = 0;
		return;
	}
	if (s->rec && !finished && !s->p->pacing.partial_on_change)
		refresh_partial(s);
	memset(&r, 0, sizeof(r));
	r.total_ms = total;
	r.final_ms = finished ? total : s->rec ? s->rc->final_ms(s->rec) : 0;
	r.finished = finished;
	r.prev_final_ms = s->sent_final_ms;
	r.per_audio = s->p->dialect->reply_per_audio;
	for (size_t i = 0; i < s->n_finals; i++)
		if (s->finals[i].kind == SRV_WORD && s->finals[i].start_ms < s->sent_final_ms)
			srv_log("conn=%u warning what=final-token-before-final-audio start_ms=%" PRIu64
				" final_audio_proc_ms=%" PRIu64, s->id, s->finals[i].start_ms,
				s->sent_final_ms);
	if (fin_mark)
		add_final(s, &fin);
	r.finals = s->finals;
	r.n_finals = s->n_finals;
	r.partials = s->partial;
	r.n_partials = finished ? 0 : s->n_partial;
	sess_push_dialect(s, &q, s->p->dialect->result(&r, &s->cfg, &s->dst, &q));
	s->n_finals = 0;
	s->last_resp_ms = total;
	if (!s->p->pacing.partial_on_change && r.n_partials > 0)
		s->last_partial_ms = total;
	s->sent_final_ms = r.final_ms;
	s->dirty = false;
}

static int add_final(struct sess *s, const struct srv_word *w)
{
	if (s->n_finals == s->cap_finals) {
		size_t cap = s->cap_finals ? s->cap_finals * 2 : 32;
		struct srv_word *v = realloc(s->finals, cap * sizeof(*v));
		if (!v) {
			srv_log("conn=%u error what=out-of-memory", s->id);
			return -1;
		}
		s->finals = v;
		s->cap_finals = cap;
	}
	s->finals[s->n_finals++] = *w;
	return 0;
}

static void on_final(void *data, const struct srv_word *words, size_t n, bool utterance_end)
{
	struct sess *s = data;

	for (size_t i = 0; i < n; i++)
		add_final(s, &words[i]);
	s->n_final_words += (unsigned)n;
	if (s->cfg.endpoint && utterance_end && n > 0) {
		struct srv_word w = { .kind = SRV_MARK_END, .start_ms = words[n - 1].end_ms,
				      .end_ms = words[n - 1].end_ms, .confidence = -1 };
		add_final(s, &w);
	}
	if (s->n_partial > 0)
		s->dirty = true;	/* the words in progress go away */
	s->n_partial = 0;
	s->partial_hash = 0;
}

static uint64_t hash_words(const struct srv_word *w, size_t n)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		for (const char *c = w[i].text; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h = (h ^ ' ') * 1099511628211ull;
		h = (h ^ w[i].end_ms) * 1099511628211ull;
	}
	return n ? h : 0;
}

/* Finals go out at once; the words in progress at most every partial_ms;
 * something at least every progress_ms. */
static void maybe_respond(struct sess *s)
{
	const struct sess_pacing *pc = &s->p->pacing;
	uint64_t total = rec_total(s), h;

	if (pc->partial_on_change) {
		if ((!s->rc->in_utterance || s->rc->in_utterance(s->rec)) &&
		    total - s->last_partial_ms >= pc->partial_ms) {
			refresh_partial(s);
			s->last_partial_ms = total;
			h = hash_words(s->partial, s->n_partial);
			if (h != s->partial_hash)
				s->dirty = true;
			s->partial_hash = h;
		}
	} else {
		refresh_partial(s);
		if (s->n_partial > 0 && total - s->last_partial_ms >= pc->partial_ms)
			s->dirty = true;
	}
	if (s->n_finals > 0 || s->dirty || total - s->last_resp_ms >= pc->progress_ms)
		respond(s, false, false);
}

static void recognizer_failed(struct sess *s)
{
	sess_fail(s, 500, "internal_error", CLOSE_INTERNAL,
	     "The speech recognizer failed; please restart the request.");
}

/* Mono samples into the recognizer, in blocks so responses keep their pace. */
static void feed_rec(struct sess *s, const int16_t *pcm, size_t n)
{
	size_t block = (size_t)s->p->pacing.block_ms * s->cfg.rate / 1000;

	while (n > 0 && s->state == ST_STREAMING) {
		size_t k = block && n > block ? block : n;

		if (s->rc->feed(s->rec, pcm, k, on_final, s) < 0) {
			recognizer_failed(s);
			return;
		}
		pcm += k;
		n -= k;
		if (block && !s->p->dialect->reply_per_audio)
			maybe_respond(s);
	}
}

static int16_t sample_at(const unsigned char *b)
{
	return (int16_t)(uint16_t)(b[0] | (b[1] << 8));
}

/* n whole interleaved S16LE frames: to mono (channels averaged), to the recognizer. */
static void feed_frames(struct sess *s, const unsigned char *b, size_t n)
{
	if (n > s->mono_cap) {
		int16_t *m = realloc(s->mono, n * sizeof(*m));
		if (!m) {
			srv_log("conn=%u error what=out-of-memory", s->id);
			return;
		}
		s->mono = m;
		s->mono_cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		if (s->cfg.channels == 2)
			s->mono[i] = (int16_t)(((int)sample_at(b + 4 * i) + sample_at(b + 4 * i + 2)) / 2);
		else
			s->mono[i] = sample_at(b + 2 * i);
	}
	s->in_frames += n;
	feed_rec(s, s->mono, n);
}

/* Any number of bytes: a frame split between messages is carried over. */
static void feed_audio(struct sess *s, const unsigned char *b, size_t len)
{
	size_t fb = 2 * s->cfg.channels;

	if (s->carry_len) {
		while (s->carry_len < fb && len) {
			s->carry[s->carry_len++] = *b++;
			len--;
		}
		if (s->carry_len < fb)
			return;
		feed_frames(s, s->carry, 1);
		s->carry_len = 0;
	}
	if (len / fb)
		feed_frames(s, b, len / fb);
	b += len / fb * fb;
	len %= fb;
	memcpy(s->carry, b, len);
	s->carry_len = len;
}

static void end_of_stream(struct sess *s)
{
	srv_log("conn=%u end-of-stream audio_ms=%" PRIu64, s->id, sess_audio_ms(s));
	if (s->state == ST_STREAMING && s->rc->finalize(s->rec, on_final, s) < 0) {
		recognizer_failed(s);
		return;
	}
	if (s->muted) {
		s->state = ST_DONE;	/* not even a goodbye: the client has to give up */
		return;
	}
	respond(s, false, true);
	srv_log("conn=%u finished audio_ms=%" PRIu64 " final_words=%u", s->id, sess_audio_ms(s),
		s->n_final_words);
	sess_close(s, CLOSE_NORMAL);
}

static void finalize(struct sess *s)
{
	if (s->rc->finalize(s->rec, on_final, s) < 0) {
		recognizer_failed(s);
		return;
	}
	respond(s, true, false);
}

uint64_t sess_thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct sess *sess_new(unsigned id, const struct sess_params *p, enum srv_auth auth, void *priv)
{
	struct sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->p = p;
	s->rc = p->rec;
	s->auth = auth;
	s->priv = priv;
	return s;
}

void sess_free(struct sess *s)
{
	if (!s)
		return;
	srv_outq_clear(&s->out);
	if (s->rec)
		s->rc->close(s->rec);
	if (s->has_slot) {
		pthread_mutex_lock(&s->p->slots->lock);
		s->p->slots->used--;
		pthread_mutex_unlock(&s->p->slots->lock);
	}
	srv_stream_cfg_clear(&s->cfg);
	free(s->mono);
	free(s->finals);
	free(s);
}

static void control(struct sess *s, enum srv_ctl ctl)
{
	if (s->p->hooks && s->p->hooks->control)
		s->p->hooks->control(s->priv, s, ctl);
}

static void after_audio(struct sess *s)
{
	if (s->state != ST_STREAMING)
		return;
	if (s->p->dialect->reply_per_audio)
		respond(s, false, false);
	else if (!s->p->pacing.block_ms)
		maybe_respond(s);
	if (s->p->hooks && s->p->hooks->audio)
		s->p->hooks->audio(s->priv, s);
}

void sess_on_text(struct sess *s, const char *msg, size_t len)
{
	const struct srv_dialect *d = s->p->dialect;
	struct srv_audio a = { 0 };
	struct srv_outq q = { 0 };
	struct srv_error e;
	enum srv_ctl ctl;

	if (s->state == ST_DONE || s->paused)
		return;
	ctl = d->parse_control(msg, len, &a, &e);
	if (ctl == SRV_CTL_END) {
		end_of_stream(s);
	} else if (sess_config_first(s, ctl, msg, len)) {
		/* taken as the config */
	} else if (ctl == SRV_CTL_AUDIO) {
		if (sess_ready_for_audio(s)) {
			feed_audio(s, a.data, a.len);
			after_audio(s);
		}
	} else if (ctl == SRV_CTL_KEEPALIVE) {
		control(s, ctl);	/* its arrival is all that matters (idle timer) */
	} else if (ctl == SRV_CTL_FINALIZE) {
		control(s, ctl);
		if (s->state == ST_STREAMING)
			finalize(s);
	} else if (ctl == SRV_CTL_CONFIG) {
		if (d->configured)	/* a new config while streaming: acked, not applied */
			sess_push_dialect(s, &q, d->configured(&s->cfg, &s->dst, &q));
	} else if (ctl == SRV_CTL_INVALID) {
		sess_send_error(s, &e);
	}
	free(a.data);
}

void sess_on_binary(struct sess *s, const void *data, size_t len)
{
	if (s->state == ST_DONE || s->paused)
		return;
	if (len == 0 && s->p->dialect->empty_binary_ends) {
		end_of_stream(s);
		return;
	}
	if (!s->p->dialect->binary_audio) {
		sess_fail(s, 400, "invalid_request", CLOSE_NORMAL,
		     "Binary messages are not part of this protocol: send audio in "
		     "input_audio_buffer.append events.");
		return;
	}
	if (!sess_ready_for_audio(s))
		return;
	feed_audio(s, data, len);
	after_audio(s);
}

void sess_pause(struct sess *s, bool paused)
{
	s->paused = paused;
}

bool sess_paused(const struct sess *s)
{
	return s->paused;
}

void sess_mute(struct sess *s)
{
	s->muted = true;
}

struct srv_out *sess_pop(struct sess *s)
{
	return srv_outq_pop(&s->out);
}

bool sess_has_out(const struct sess *s)
{
	return s->out.head != NULL;
}

size_t sess_out_bytes(const struct sess *s)
{
	return s->out.bytes;
}

bool sess_done(const struct sess *s)
{
	return s->state == ST_DONE;
}

unsigned sess_id(const struct sess *s)
{
	return s->id;
}

uint64_t sess_audio_ms(const struct sess *s)
{
	return s->cfg.rate ? s->in_frames * 1000 / s->cfg.rate : 0;
}

uint64_t sess_total_ms(const struct sess *s)
{
	return rec_total(s);
}

uint64_t sess_final_ms(const struct sess *s)
{
	return s->rec ? s->rc->final_ms(s->rec) : 0;
}

void sess_get_stats(const struct sess *s, struct sess_stats *st)
{
	st->audio_ms = sess_audio_ms(s);
	st->finals = s->n_final_words;
	st->init_ms = s->init_ms;
	st->ready_cpu_ms = s->ready_cpu_ms;
}
