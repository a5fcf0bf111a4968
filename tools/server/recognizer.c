/* recognizer: see recognizer.h. */
#include "recognizer.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>

#include "srv-log.h"

#define FRAME_MS		10		/* pocketsphinx's frame shift */
#define STEP_MS			20		/* VAD state checked this often */
#define WINDOW_S		0.025625	/* pocketsphinx's analysis window (-wlen) */
#define PS_LOG_LINE_MAX		512

struct decoder {
	ps_decoder_t *ps;
	cmd_ln_t *config;
	mfcc_t *cmn_init;	/* live CMN mean right after ps_init() */
	struct decoder *next;	/* pool's idle list */
};

struct rec_pool {
	char *hmm, *lm, *dict;
	unsigned rate, spm;		/* Hz, samples per ms */
	char samprate[16], nfft[16];	/* their pocketsphinx arguments */
	unsigned spare;
	pthread_mutex_t lock;		/* guards idle, n_idle */
	pthread_mutex_t init_lock;	/* serializes ps_init/ps_free */
	struct decoder *idle;
	unsigned n_idle;
};

/* one thread at a time (the connection's decoder thread) */
struct rec {
	struct rec_pool *pool;
	struct decoder *d;
	unsigned conn_id;
	uint64_t fed;		/* samples fed since the connection started */
	uint64_t stream_base;	/* samples fed before the current ps stream */
	uint64_t speech_at;	/* samples fed when the utterance's speech was detected */
	uint64_t final_ms;
	bool in_speech;		/* the current utterance has seen speech */
	bool utt_open;		/* ps_start_utt without ps_end_utt */
	bool broken;
	bool forced;		/* the utterance ends because of rec_finalize */
	struct srv_word *words;	/* scratch for one utterance */
	size_t words_cap;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* pocketsphinx's own messages: warnings and errors go to our log, limited
 * (what a client sends can make it warn over and over). */
static struct srv_ratelimit rl_ps = SRV_RATELIMIT_INIT(50, 60);

static void ps_log_cb(void *data, err_lvl_t lvl, const char *fmt, ...)
{
	char msg[PS_LOG_LINE_MAX];
	va_list ap;
	size_t n;

	(void)data;
	if (lvl < ERR_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	srv_log_limited(&rl_ps, "pocketsphinx level=%s msg=\"%s\"", lvl == ERR_WARN ? "warn" : "error",
			msg);
}

static void decoder_free(struct rec_pool *p, struct decoder *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&p->init_lock);
	if (d->ps)
		ps_free(d->ps);
	if (d->config)
		cmd_ln_free_r(d->config);
	pthread_mutex_unlock(&p->init_lock);
	free(d->cmn_init);
	free(d);
}

static cmn_t *cmn_of(struct decoder *d)
{
	feat_t *feat = ps_get_feat(d->ps);

	return feat ? feat->cmn_struct : NULL;
}

/* Live CMN adapts to the audio and survives ps_start_stream(): every stream
 * starts from the model's initial mean, so a reused decoder gives the same
 * words as a new one. */
static void cmn_reset(struct decoder *d)
{
	cmn_t *cmn = cmn_of(d);

	if (cmn && d->cmn_init)
		cmn_live_set(cmn, d->cmn_init);
}

static struct decoder *decoder_new(struct rec_pool *p)
{
	struct decoder *d = calloc(1, sizeof(*d));
	cmn_t *cmn;

	if (!d)
		return NULL;
	pthread_mutex_lock(&p->init_lock);
	d->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", p->hmm, "-lm", p->lm,
				"-dict", p->dict, "-samprate", p->samprate, "-nfft", p->nfft, NULL);
	if (d->config)
		d->ps = ps_init(d->config);
	pthread_mutex_unlock(&p->init_lock);
	if (!d->ps) {
		decoder_free(p, d);
		return NULL;
	}
	cmn = cmn_of(d);
	if (cmn) {
		d->cmn_init = calloc((size_t)cmn->veclen, sizeof(mfcc_t));
		if (!d->cmn_init) {
			decoder_free(p, d);
			return NULL;
		}
		cmn_live_get(cmn, d->cmn_init);
	}
	return d;
}

static int check_readable(const char *what, const char *path, bool dir, char *err, size_t errlen)
{
	if (access(path, dir ? (R_OK | X_OK) : R_OK) == 0)
		return 0;
	snprintf(err, errlen, "%s %s is not readable (%s); install pocketsphinx-en-us or pass --%s",
		 what, path, strerror(errno), what);
	return -ENOENT;
}

/* The FFT must hold the analysis window: 512 at 16 kHz, 1024 at 24 kHz. */
static void set_rate(struct rec_pool *p, unsigned rate)
{
	unsigned nfft = 512;

	while (nfft < WINDOW_S * rate)
		nfft *= 2;
	p->rate = rate;
	p->spm = rate / 1000;
	snprintf(p->samprate, sizeof(p->samprate), "%u", rate);
	snprintf(p->nfft, sizeof(p->nfft), "%u", nfft);
}

unsigned rec_pool_rate(const struct rec_pool *p)
{
	return p->rate;
}

int rec_pool_new(const struct rec_model *m, unsigned spare, struct rec_pool **out,
		 char *err, size_t errlen)
{
	struct rec_pool *p;
	struct decoder *d;
	uint64_t t0;
	int rc;

	if ((rc = check_readable("hmm", m->hmm, true, err, errlen)) ||
	    (rc = check_readable("lm", m->lm, false, err, errlen)) ||
	    (rc = check_readable("dict", m->dict, false, err, errlen)))
		return rc;
	/* no config dumps (they bypass the callback), warnings and errors to our log */
	err_set_logfp(NULL);
	err_set_callback(ps_log_cb, NULL);
	p = calloc(1, sizeof(*p));
	if (!p)
		goto oom;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->init_lock, NULL);
	p->spare = spare;
	set_rate(p, m->rate ? m->rate : REC_RATE);
	p->hmm = strdup(m->hmm);
	p->lm = strdup(m->lm);
	p->dict = strdup(m->dict);
	if (!p->hmm || !p->lm || !p->dict)
		goto oom;
	t0 = mono_ms();
	d = decoder_new(p);
	if (!d) {
		snprintf(err, errlen, "pocketsphinx could not load the model (hmm=%s lm=%s dict=%s); "
			 "see the pocketsphinx lines above", m->hmm, m->lm, m->dict);
		rec_pool_free(p);
		return -EINVAL;
	}
	srv_log("model loaded init_ms=%u hmm=%s lm=%s dict=%s spare=%u rate=%u",
		(unsigned)(mono_ms() - t0), m->hmm, m->lm, m->dict, spare, p->rate);
	if (spare > 0) {
		p->idle = d;
		p->n_idle = 1;
	} else {
		decoder_free(p, d);
	}
	*out = p;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	rec_pool_free(p);
	return -ENOMEM;
}

void rec_pool_free(struct rec_pool *p)
{
	if (!p)
		return;
	while (p->idle) {
		struct decoder *d = p->idle;
		p->idle = d->next;
		decoder_free(p, d);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->init_lock);
	free(p->hmm);
	free(p->lm);
	free(p->dict);
	free(p);
}

/* Starts a ps stream (frame numbers from 0) at the current position. */
static int stream_restart(struct rec *r)
{
	r->stream_base = r->fed;
	r->in_speech = false;
	if (ps_start_stream(r->d->ps) < 0 || ps_start_utt(r->d->ps) < 0) {
		r->broken = true;
		return -EIO;
	}
	r->utt_open = true;
	return 0;
}

static int end_utt(struct rec *r)
{
	r->utt_open = false;
	return ps_end_utt(r->d->ps);
}

static void rec_close(void *rv);

static void *rec_open(void *ctx, struct srv_stream_params *sp)
{
	struct rec_pool *p = ctx;
	struct rec *r = calloc(1, sizeof(*r));
	unsigned conn_id = sp->conn_id;
	uint64_t t0 = mono_ms();

	sp->init_ms = 0;
	if (!r)
		return NULL;
	r->pool = p;
	r->conn_id = conn_id;
	pthread_mutex_lock(&p->lock);
	if (p->idle) {
		r->d = p->idle;
		p->idle = r->d->next;
		p->n_idle--;
	}
	pthread_mutex_unlock(&p->lock);
	if (!r->d) {
		r->d = decoder_new(p);
		sp->init_ms = (unsigned)(mono_ms() - t0);
	}
	if (!r->d) {
		srv_log("conn=%u error what=decoder-init", conn_id);
		free(r);
		return NULL;
	}
	r->d->next = NULL;
	cmn_reset(r->d);
	if (stream_restart(r)) {
		srv_log("conn=%u error what=decoder-start", conn_id);
		rec_close(r);
		return NULL;
	}
	srv_log("conn=%u decoder ready init_ms=%u", conn_id, sp->init_ms);
	return r;
}

static void rec_close(void *rv)
{
	struct rec *r = rv;
	struct rec_pool *p;
	bool keep = false;

	if (!r)
		return;
	p = r->pool;
	if (r->utt_open && end_utt(r) < 0)
		r->broken = true;
	if (!r->broken) {
		pthread_mutex_lock(&p->lock);
		if (p->n_idle < p->spare) {
			r->d->next = p->idle;
			p->idle = r->d;
			p->n_idle++;
			keep = true;
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (!keep)
		decoder_free(p, r->d);
	free(r->words);
	free(r);
}

static uint64_t fed_ms(const struct rec *r)
{
	return r->fed / r->pool->spm;
}

/* Word text without "(2)"; false for fillers. */
static bool word_text(const char *w, char *out, size_t outlen)
{
	size_t n = strlen(w);

	if (w[0] == '<' || w[0] == '[' || (w[0] == '+' && w[1] == '+') || n == 0)
		return false;
	if (n > 3 && w[n - 1] == ')') {
		const char *open = strrchr(w, '(');
		if (open && open > w)
			n = (size_t)(open - w);
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, w, n);
	out[n] = '\0';
	return true;
}

/* Walks the decoder's current segmentation into out[0..max). With
 * with_conf, fills posteriors (valid after ps_end_utt). */
static size_t collect(struct rec *r, struct srv_word *out, size_t max, bool with_conf,
		      uint64_t *last_end_ms)
{
	uint64_t base_ms = r->stream_base / r->pool->spm, total = fed_ms(r);
	logmath_t *lmath = ps_get_logmath(r->d->ps);
	ps_seg_t *seg;
	size_t n = 0;

	for (seg = ps_seg_iter(r->d->ps); seg; seg = ps_seg_next(seg)) {
		int sf, ef;
		int32 ascr, lscr, lback, post;
		struct srv_word *w;

		ps_seg_frames(seg, &sf, &ef);
		if (last_end_ms)
			*last_end_ms = base_ms + (uint64_t)(ef + 1) * FRAME_MS;
		if (n == max)
			continue;
		w = &out[n];
		memset(w, 0, sizeof(*w));
		if (!word_text(ps_seg_word(seg), w->text, sizeof(w->text)))
			continue;
		w->start_ms = base_ms + (uint64_t)(sf > 0 ? sf : 0) * FRAME_MS;
		w->end_ms = base_ms + (uint64_t)(ef + 1) * FRAME_MS;
		if (w->end_ms > total)
			w->end_ms = total;
		if (w->start_ms > w->end_ms)
			w->start_ms = w->end_ms;
		w->confidence = -1.0;
		if (with_conf) {
			post = ps_seg_prob(seg, &ascr, &lscr, &lback);
			w->confidence = logmath_exp(lmath, post);
			if (w->confidence > 1.0)
				w->confidence = 1.0;
		}
		n++;
	}
	return n;
}

static size_t count_segments(struct rec *r)
{
	size_t n = 0;

	for (ps_seg_t *seg = ps_seg_iter(r->d->ps); seg; seg = ps_seg_next(seg))
		n++;
	return n;
}

/* ps_end_utt, report the words, ps_start_utt (restart the stream if asked). */
static int end_utterance(struct rec *r, bool restart, srv_final_fn fn, void *data)
{
	uint64_t last_end = 0;
	size_t n, cap;

	if (end_utt(r) < 0) {
		r->broken = true;
		return -EIO;
	}
	/* without speech there are no frames, and asking pocketsphinx for the
	 * segmentation only makes it complain ("Couldn't find <s>") */
	cap = r->in_speech ? count_segments(r) : 0;
	if (cap > r->words_cap) {
		struct srv_word *w = realloc(r->words, cap * sizeof(*w));
		if (!w) {
			srv_log("conn=%u error what=out-of-memory", r->conn_id);
			cap = r->words_cap;
		} else {
			r->words = w;
			r->words_cap = cap;
		}
	}
	n = cap ? collect(r, r->words, r->words_cap, true, &last_end) : 0;
	if (restart) {
		r->final_ms = fed_ms(r);
	} else if (last_end > r->final_ms) {
		r->final_ms = last_end < fed_ms(r) ? last_end : fed_ms(r);
	}
	fn(data, r->words, n, !r->forced);
	if (restart)
		return stream_restart(r);
	r->in_speech = false;
	if (ps_start_utt(r->d->ps) < 0) {
		r->broken = true;
		return -EIO;
	}
	r->utt_open = true;
	return 0;
}

static int rec_feed(void *rv, const int16_t *pcm, size_t n, srv_final_fn fn, void *data)
{
	struct rec *r = rv;

	while (n > 0 && !r->broken) {
		size_t step = (size_t)STEP_MS * r->pool->spm, k = n < step ? n : step;
		bool speech;

		if (ps_process_raw(r->d->ps, pcm, k, FALSE, FALSE) < 0) {
			r->broken = true;
			break;
		}
		r->fed += k;
		pcm += k;
		n -= k;
		speech = ps_get_in_speech(r->d->ps);
		if (speech && !r->in_speech) {
			r->in_speech = true;
			r->speech_at = r->fed;
		} else if (!speech && r->in_speech) {
			end_utterance(r, false, fn, data);
		} else if (speech && r->fed - r->speech_at >=
			   (uint64_t)REC_MAX_UTTERANCE_MS * r->pool->spm) {
			end_utterance(r, true, fn, data);
		}
		if (!r->in_speech && fed_ms(r) > REC_VAD_LOOKBACK_MS + r->final_ms)
			r->final_ms = fed_ms(r) - REC_VAD_LOOKBACK_MS;
	}
	return r->broken ? -EIO : 0;
}

static int rec_finalize(void *rv, srv_final_fn fn, void *data)
{
	struct rec *r = rv;
	int rc;

	if (r->broken)
		return -EIO;
	r->forced = true;
	rc = end_utterance(r, true, fn, data);
	r->forced = false;
	return rc;
}

static size_t rec_partial(void *rv, struct srv_word *out, size_t max)
{
	struct rec *r = rv;
	const char *hyp;
	size_t n;

	if (!r->in_speech || r->broken || max == 0)
		return 0;
	n = collect(r, out, max, false, NULL);
	if (n > 0)
		return n;
	/* no segmentation yet: the hypothesis as one token */
	hyp = ps_get_hyp(r->d->ps, NULL);
	if (!hyp || !*hyp)
		return 0;
	memset(&out[0], 0, sizeof(out[0]));
	snprintf(out[0].text, sizeof(out[0].text), "%s", hyp);
	out[0].start_ms = r->speech_at / r->pool->spm;
	out[0].end_ms = fed_ms(r);
	out[0].confidence = -1.0;
	return 1;
}

static bool rec_in_utterance(void *r)
{
	return ((struct rec *)r)->in_speech;
}

static uint64_t rec_total_ms(void *r)
{
	return fed_ms(r);
}

static uint64_t rec_final_ms(void *r)
{
	return ((struct rec *)r)->final_ms;
}

const struct srv_recognizer rec_pocketsphinx = {
	.name = "en-us",
	.rate = REC_RATE,
	.open = rec_open,
	.close = rec_close,
	.feed = rec_feed,
	.finalize = rec_finalize,
	.partial = rec_partial,
	.in_utterance = rec_in_utterance,
	.total_ms = rec_total_ms,
	.final_ms = rec_final_ms,
};
