/* srv-exec: see srv-exec.h. */
#include "srv-exec.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv-log.h"

enum ev_kind { EV_TEXT, EV_BINARY, EV_ERROR, EV_CALL };

struct ev {
	struct ev *next;
	enum ev_kind kind;
	unsigned char *data;		/* TEXT (NUL-terminated), BINARY */
	size_t len;			/* counts in the backlog */
	struct srv_error err;		/* ERROR */
	void (*fn)(struct sess *s, void *arg);	/* CALL */
	void *arg;
};

struct exec {
	/* set at creation, read-only afterwards */
	struct exec_params p;
	pthread_t thread;

	struct sess *s;			/* inline: the service thread's; threaded: the thread's */
	char *query;			/* p.query's copy (p.query points here) */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* guarded by lock (threaded) */
	struct ev *in_head, *in_tail;
	size_t in_bytes;
	struct srv_outq out;
	size_t resume_below;		/* 0 = no resume wanted */
	bool released, exited;
};

static void dispatch(struct sess *s, struct ev *e)
{
	switch (e->kind) {
	case EV_TEXT:
		sess_on_text(s, (const char *)e->data, e->len);
		break;
	case EV_BINARY:
		sess_on_binary(s, e->data, e->len);
		break;
	case EV_ERROR:
		sess_send_error(s, &e->err);
		break;
	case EV_CALL:
		e->fn(s, e->arg);
		break;
	}
}

static void ev_free(struct ev *e)
{
	free(e->data);
	free(e->arg);
	free(e);
}

/* Inline: runs it now. Threaded: queues it for the thread. Takes e. */
static void post(struct exec *x, struct ev *e)
{
	if (!x->p.threaded) {
		if (x->s)
			dispatch(x->s, e);
		ev_free(e);
		return;
	}
	pthread_mutex_lock(&x->lock);
	if (x->released) {
		pthread_mutex_unlock(&x->lock);
		ev_free(e);
		return;
	}
	if (x->in_tail)
		x->in_tail->next = e;
	else
		x->in_head = e;
	x->in_tail = e;
	x->in_bytes += e->len;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

static struct ev *ev_new(struct exec *x, enum ev_kind kind, void *data, size_t len)
{
	struct ev *e = calloc(1, sizeof(*e));

	if (!e) {
		srv_log("conn=%u error what=out-of-memory", x->p.id);
		free(data);
		return NULL;
	}
	e->kind = kind;
	e->data = data;
	e->len = len;
	return e;
}

size_t exec_text(struct exec *x, char *buf, size_t len)
{
	struct ev *e = ev_new(x, EV_TEXT, buf, len);

	if (e)
		post(x, e);
	return exec_backlog(x);
}

size_t exec_binary(struct exec *x, unsigned char *buf, size_t len)
{
	struct ev *e = ev_new(x, EV_BINARY, buf, len);

	if (e)
		post(x, e);
	return exec_backlog(x);
}

void exec_error(struct exec *x, const struct srv_error *err)
{
	struct ev *e = ev_new(x, EV_ERROR, NULL, 0);

	if (e) {
		e->err = *err;
		post(x, e);
	}
}

void exec_call(struct exec *x, void (*fn)(struct sess *s, void *arg), void *arg)
{
	struct ev *e = ev_new(x, EV_CALL, NULL, 0);

	if (e) {
		e->fn = fn;
		e->arg = arg;
		post(x, e);
	}
}

size_t exec_backlog(struct exec *x)
{
	size_t n;

	if (!x->p.threaded)
		return 0;
	pthread_mutex_lock(&x->lock);
	n = x->in_bytes;
	pthread_mutex_unlock(&x->lock);
	return n;
}

void exec_want_resume(struct exec *x, size_t low)
{
	pthread_mutex_lock(&x->lock);
	x->resume_below = low ? low : 1;
	pthread_mutex_unlock(&x->lock);
}

struct srv_out *exec_pop(struct exec *x)
{
	struct srv_out *o;

	if (!x->p.threaded)
		return x->s ? sess_pop(x->s) : NULL;
	pthread_mutex_lock(&x->lock);
	o = srv_outq_pop(&x->out);
	pthread_mutex_unlock(&x->lock);
	return o;
}

bool exec_has_out(struct exec *x)
{
	bool has;

	if (!x->p.threaded)
		return x->s && sess_has_out(x->s);
	pthread_mutex_lock(&x->lock);
	has = x->out.head != NULL;
	pthread_mutex_unlock(&x->lock);
	return has;
}

size_t exec_out_bytes(struct exec *x)
{
	size_t n;

	if (!x->p.threaded)
		return x->s ? sess_out_bytes(x->s) : 0;
	pthread_mutex_lock(&x->lock);
	n = x->out.bytes;
	pthread_mutex_unlock(&x->lock);
	return n;
}

bool exec_paused(struct exec *x)
{
	return !x->p.threaded && x->s && sess_paused(x->s);
}

bool exec_done(struct exec *x)
{
	return !x->p.threaded && x->s && sess_done(x->s);
}

struct sess *exec_session(struct exec *x)
{
	return x->p.threaded ? NULL : x->s;
}

/* Moves the session's output to the shared queue; true if anything moved
 * or a resume is due. Called with the lock held. */
static bool hand_over(struct exec *x)
{
	struct srv_out *o;
	bool wake = false;

	while ((o = sess_pop(x->s))) {
		srv_outq_push(&x->out, o);
		wake = true;
	}
	if (x->resume_below && x->in_bytes < x->resume_below) {
		x->resume_below = 0;
		wake = true;
	}
	return wake;
}

static void log_stats(struct exec *x)
{
	struct sess_stats st;
	uint64_t cpu = sess_thread_cpu_ms(), decode;

	sess_get_stats(x->s, &st);
	/* leave out creating the decoder */
	decode = cpu > st.ready_cpu_ms ? cpu - st.ready_cpu_ms : 0;
	srv_log("conn=%u stats audio_ms=%" PRIu64 " cpu_ms=%" PRIu64 " init_ms=%u rtf=%.3f final_words=%u",
		x->p.id, st.audio_ms, cpu, st.init_ms,
		st.audio_ms ? (double)decode / (double)st.audio_ms : 0.0, st.finals);
}

static void *exec_main(void *arg)
{
	struct exec *x = arg;
	struct ev *e;
	bool wake;

	x->s = sess_new(x->p.id, x->p.sp, x->p.auth, x->p.priv);
	if (!x->s)
		srv_log("conn=%u error what=out-of-memory", x->p.id);
	else
		sess_open(x->s, x->query);
	pthread_mutex_lock(&x->lock);
	while (!x->released) {
		e = x->in_head;
		if (!e) {
			pthread_cond_wait(&x->cond, &x->lock);
			continue;
		}
		x->in_head = e->next;
		if (!x->in_head)
			x->in_tail = NULL;
		pthread_mutex_unlock(&x->lock);

		if (x->s)
			dispatch(x->s, e);

		pthread_mutex_lock(&x->lock);
		x->in_bytes -= e->len;
		ev_free(e);
		wake = x->s && hand_over(x);
		if (wake) {
			pthread_mutex_unlock(&x->lock);
			x->p.wake(x->p.wake_data);
			pthread_mutex_lock(&x->lock);
		}
	}
	pthread_mutex_unlock(&x->lock);

	if (x->s) {
		log_stats(x);
		sess_free(x->s);	/* the recognizer goes back to its pool */
		x->s = NULL;
	}
	pthread_mutex_lock(&x->lock);
	x->exited = true;
	pthread_mutex_unlock(&x->lock);
	x->p.wake(x->p.wake_data);	/* so the service thread reaps us soon */
	return NULL;
}

struct exec *exec_new(const struct exec_params *p)
{
	struct exec *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->p = *p;
	if (p->query && !(x->query = strdup(p->query))) {
		free(x);
		return NULL;
	}
	x->p.query = x->query;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	if (!p->threaded) {
		x->s = sess_new(p->id, p->sp, p->auth, p->priv);
		if (!x->s)
			goto fail;
		sess_open(x->s, x->query);
		return x;
	}
	if (pthread_create(&x->thread, NULL, exec_main, x) == 0)
		return x;
fail:
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x->query);
	free(x);
	return NULL;
}

void exec_release(struct exec *x)
{
	if (!x->p.threaded) {
		sess_free(x->s);
		x->s = NULL;
		x->released = x->exited = true;
		return;
	}
	pthread_mutex_lock(&x->lock);
	x->released = true;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

bool exec_exited(struct exec *x)
{
	bool exited;

	pthread_mutex_lock(&x->lock);
	exited = x->exited;
	pthread_mutex_unlock(&x->lock);
	return exited;
}

void exec_reap(struct exec *x)
{
	struct ev *e;

	if (x->p.threaded)
		pthread_join(x->thread, NULL);
	while ((e = x->in_head)) {
		x->in_head = e->next;
		ev_free(e);
	}
	srv_outq_clear(&x->out);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x->query);
	free(x);
}
