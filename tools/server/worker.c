/* worker: see worker.h. */
#include "worker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define REJECT_TEXT_MAX	200

enum wev_kind { WEV_TEXT, WEV_AUDIO, WEV_OVERSIZED, WEV_IDLE, WEV_REJECT };

struct wev {
	struct wev *next;
	enum wev_kind kind;
	bool first, last;		/* AUDIO: message boundaries */
	int code;			/* REJECT */
	size_t n;			/* OVERSIZED bytes, IDLE seconds */
	char type[32];			/* REJECT */
	size_t len;
	unsigned char data[];		/* TEXT (NUL-terminated), AUDIO, REJECT message */
};

struct worker {
	/* set at creation, read-only afterwards */
	unsigned id;
	const struct sess_params *p;
	enum sess_auth auth;
	void (*wake)(void);
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* guarded by lock */
	struct wev *in_head, *in_tail;
	size_t in_bytes;
	struct sess_out *out_head, *out_tail;
	size_t resume_below;		/* 0 = no resume wanted */
	bool released, exited;
};

static void push(struct worker *w, struct wev *e)
{
	pthread_mutex_lock(&w->lock);
	if (w->released) {
		pthread_mutex_unlock(&w->lock);
		free(e);
		return;
	}
	if (w->in_tail)
		w->in_tail->next = e;
	else
		w->in_head = e;
	w->in_tail = e;
	w->in_bytes += e->len;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static struct wev *wev_new(enum wev_kind kind, const void *data, size_t len, bool nul)
{
	struct wev *e = calloc(1, sizeof(*e) + len + (nul ? 1 : 0));

	if (!e)
		return NULL;
	e->kind = kind;
	e->len = len;
	if (len)
		memcpy(e->data, data, len);
	return e;
}

static size_t push_or_log(struct worker *w, struct wev *e)
{
	if (!e)
		srv_log("conn=%u error what=out-of-memory", w->id);
	else
		push(w, e);
	return worker_backlog(w);
}

size_t worker_push_text(struct worker *w, const char *msg, size_t len)
{
	return push_or_log(w, wev_new(WEV_TEXT, msg, len, true));
}

size_t worker_push_audio(struct worker *w, const void *data, size_t len, bool first, bool last)
{
	struct wev *e = wev_new(WEV_AUDIO, data, len, false);

	if (e) {
		e->first = first;
		e->last = last;
	}
	return push_or_log(w, e);
}

void worker_push_oversized(struct worker *w, size_t bytes)
{
	struct wev *e = wev_new(WEV_OVERSIZED, NULL, 0, false);

	if (e)
		e->n = bytes;
	push_or_log(w, e);
}

void worker_push_idle(struct worker *w, unsigned idle_s)
{
	struct wev *e = wev_new(WEV_IDLE, NULL, 0, false);

	if (e)
		e->n = idle_s;
	push_or_log(w, e);
}

void worker_push_reject(struct worker *w, int code, const char *type, const char *msg)
{
	struct wev *e = wev_new(WEV_REJECT, msg, strnlen(msg, REJECT_TEXT_MAX), true);

	if (e) {
		e->code = code;
		snprintf(e->type, sizeof(e->type), "%s", type);
		e->len = 0;	/* not audio: no backlog */
	}
	push_or_log(w, e);
}

size_t worker_backlog(struct worker *w)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->in_bytes;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void worker_want_resume(struct worker *w, size_t low)
{
	pthread_mutex_lock(&w->lock);
	w->resume_below = low ? low : 1;
	pthread_mutex_unlock(&w->lock);
}

struct sess_out *worker_pop(struct worker *w)
{
	struct sess_out *o;

	pthread_mutex_lock(&w->lock);
	o = w->out_head;
	if (o) {
		w->out_head = o->next;
		if (!w->out_head)
			w->out_tail = NULL;
		o->next = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	return o;
}

bool worker_has_out(struct worker *w)
{
	bool has;

	pthread_mutex_lock(&w->lock);
	has = w->out_head != NULL;
	pthread_mutex_unlock(&w->lock);
	return has;
}

static void dispatch(struct sess *s, struct wev *e)
{
	switch (e->kind) {
	case WEV_TEXT:
		sess_on_text(s, (const char *)e->data, e->len);
		break;
	case WEV_AUDIO:
		sess_on_binary(s, e->data, e->len, e->first, e->last);
		break;
	case WEV_OVERSIZED:
		sess_on_oversized(s, e->n);
		break;
	case WEV_IDLE:
		sess_on_idle(s, (unsigned)e->n);
		break;
	case WEV_REJECT:
		sess_on_reject(s, e->code, e->type, (const char *)e->data);
		break;
	}
}

/* Moves the session's output to the shared queue; true if anything moved
 * or a resume is due. Called with the lock held. */
static bool hand_over(struct worker *w, struct sess *s)
{
	struct sess_out *o;
	bool wake = false;

	while ((o = sess_pop(s))) {
		if (w->out_tail)
			w->out_tail->next = o;
		else
			w->out_head = o;
		w->out_tail = o;
		wake = true;
	}
	if (w->resume_below && w->in_bytes < w->resume_below) {
		w->resume_below = 0;
		wake = true;
	}
	return wake;
}

static uint64_t thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void log_stats(unsigned id, struct sess *s)
{
	struct sess_stats st;
	uint64_t cpu = thread_cpu_ms();

	uint64_t decode;

	sess_get_stats(s, &st);
	/* leave out creating the decoder */
	decode = cpu > st.ready_cpu_ms ? cpu - st.ready_cpu_ms : 0;
	srv_log("conn=%u stats audio_ms=%" PRIu64 " cpu_ms=%" PRIu64 " init_ms=%u rtf=%.3f final_words=%u",
		id, st.audio_ms, cpu, st.init_ms,
		st.audio_ms ? (double)decode / (double)st.audio_ms : 0.0, st.finals);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sess *s = sess_new(w->id, w->p, w->auth);
	struct wev *e;
	bool wake;

	if (!s)
		srv_log("conn=%u error what=out-of-memory", w->id);
	pthread_mutex_lock(&w->lock);
	while (!w->released) {
		e = w->in_head;
		if (!e) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		w->in_head = e->next;
		if (!w->in_head)
			w->in_tail = NULL;
		pthread_mutex_unlock(&w->lock);

		if (s)
			dispatch(s, e);

		pthread_mutex_lock(&w->lock);
		w->in_bytes -= e->len;
		free(e);
		wake = s && hand_over(w, s);
		if (wake) {
			pthread_mutex_unlock(&w->lock);
			w->wake();
			pthread_mutex_lock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);

	if (s) {
		log_stats(w->id, s);
		sess_free(s);	/* the decoder goes back to the pool */
	}
	pthread_mutex_lock(&w->lock);
	w->exited = true;
	pthread_mutex_unlock(&w->lock);
	w->wake();		/* so the service thread reaps us soon */
	return NULL;
}

struct worker *worker_new(unsigned id, const struct sess_params *p, enum sess_auth auth,
			  void (*wake)(void))
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->id = id;
	w->p = p;
	w->auth = auth;
	w->wake = wake;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w)) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		free(w);
		return NULL;
	}
	return w;
}

void worker_release(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->released = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

bool worker_exited(struct worker *w)
{
	bool exited;

	pthread_mutex_lock(&w->lock);
	exited = w->exited;
	pthread_mutex_unlock(&w->lock);
	return exited;
}

void worker_reap(struct worker *w)
{
	struct wev *e;
	struct sess_out *o;

	pthread_join(w->thread, NULL);
	while ((e = w->in_head)) {
		w->in_head = e->next;
		free(e);
	}
	while ((o = w->out_head)) {
		w->out_head = o->next;
		sess_out_free(o);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
