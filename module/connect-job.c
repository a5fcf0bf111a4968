/* Credentials and DNS for one connection attempt (helper thread). */
#include "connect-job.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <spa/utils/defs.h>

/* How often a lookup's wait checks whether the helper is going. */
#define LOOKUP_CANCEL_STEP_MS	50

struct connect_job {
	struct blocking_job base;
	struct connect_job_params p;
	uint64_t attempt;
	const _Atomic uint64_t *current;	/* the owner's newest attempt */
	const atomic_bool *cancel;		/* the helper is going */
	connect_job_done_fn done;
	void *owner;
	int res;			/* 0, -ECANCELED (superseded), or -errno with err */
	struct creds_secret secret;
	struct creds_error err;
	struct connect_result r;
};

/* getaddrinfo() has no deadline: it runs on a thread of its own, and a
 * lookup that outlives the deadline is abandoned (the last one to let go
 * of this frees it). */
struct lookup {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	int gai;
	struct addrinfo *res;
	char host[URL_HOST_MAX];
	char port[8];
};

static void lookup_unref(struct lookup *l)
{
	bool last;

	pthread_mutex_lock(&l->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res != NULL)
		freeaddrinfo(l->res);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static void *lookup_thread(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int gai = getaddrinfo(l->host, l->port, &hints, &res);

	pthread_mutex_lock(&l->lock);
	l->done = true;
	l->gai = gai;
	l->res = res;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
	return NULL;
}

static struct lookup *lookup_start(const char *host, uint16_t port)
{
	struct lookup *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;
	pthread_attr_t attr;
	pthread_t thread;

	if (l == NULL)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	l->refs = 2;
	snprintf(l->host, sizeof(l->host), "%s", host);
	snprintf(l->port, sizeof(l->port), "%u", port);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, lookup_thread, l) != 0) {
		pthread_attr_destroy(&attr);
		l->refs = 1;
		lookup_unref(l);
		return NULL;
	}
	pthread_attr_destroy(&attr);
	return l;
}

static void add_address(struct connect_result *r, const struct addrinfo *ai)
{
	char buf[INET6_ADDRSTRLEN];
	const void *addr = ai->ai_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
		(const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr;

	if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
	    inet_ntop(ai->ai_family, addr, buf, sizeof(buf)) == NULL ||
	    r->n_addresses == CONNECT_JOB_MAX_ADDRESSES)
		return;
	for (uint32_t i = 0; i < r->n_addresses; i++)
		if (strcmp(r->addresses[i], buf) == 0)
			return;
	snprintf(r->addresses[r->n_addresses++], INET6_ADDRSTRLEN, "%s", buf);
}

static void resolve_failed(struct connect_job *j, const char *why)
{
	j->res = -EHOSTUNREACH;
	/* The network may just be down: retry, with a message that says so. */
	j->err.cls = ERR_TRANSIENT;
	j->err.retry_after_ms = -1;
	snprintf(j->err.message, sizeof(j->err.message), "cannot resolve %.160s: %s", j->p.host, why);
}

/* One wait of at most LOOKUP_CANCEL_STEP_MS (so an unload is heard);
 * false once the deadline passed. Under l->lock. */
static bool wait_step(struct lookup *l, const struct timespec *deadline)
{
	struct timespec now, step;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline->tv_sec ||
	    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
		return false;
	step = now;
	step.tv_nsec += LOOKUP_CANCEL_STEP_MS * 1000000L;
	if (step.tv_nsec >= 1000000000) {
		step.tv_sec++;
		step.tv_nsec -= 1000000000;
	}
	if (step.tv_sec > deadline->tv_sec ||
	    (step.tv_sec == deadline->tv_sec && step.tv_nsec > deadline->tv_nsec))
		step = *deadline;
	pthread_cond_timedwait(&l->cond, &l->lock, &step);
	return true;
}

/* Every address the name has (up to CONNECT_JOB_MAX_ADDRESSES, in the
 * resolver's preference order), so the session can try the next when one
 * does not answer. */
static void resolve(struct connect_job *j)
{
	struct lookup *l = lookup_start(j->p.host, j->p.port);
	struct timespec deadline;

	if (l == NULL) {
		resolve_failed(j, "cannot start a lookup");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += j->p.dns_timeout_ms / 1000;
	deadline.tv_nsec += (long)(j->p.dns_timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->lock);
	while (!l->done && !atomic_load(j->cancel) && wait_step(l, &deadline))
		;
	if (!l->done)
		resolve_failed(j, "no answer from the resolver in time");
	else if (l->gai != 0)
		resolve_failed(j, gai_strerror(l->gai));
	else
		for (const struct addrinfo *ai = l->res; ai != NULL; ai = ai->ai_next)
			add_address(&j->r, ai);
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
	if (j->res == 0 && j->r.n_addresses == 0)
		resolve_failed(j, "no usable address");
}

/* Checked before every step: an attempt that is over gets no more work. */
static bool superseded(struct connect_job *j)
{
	if (!atomic_load(j->cancel) && (j->current == NULL || atomic_load(j->current) == j->attempt))
		return false;
	j->res = -ECANCELED;
	return true;
}

/* What needs the key is built here; the key is wiped right after. */
static void prepare(struct connect_job *j)
{
	const char *key = j->secret.len > 0 ? j->secret.key : NULL;
	const size_t size = 4096;
	int n;

	j->r.key_source = key ? j->secret.source : "none";
	if (key != NULL && j->p.dialect->auth_header(key, j->r.auth, sizeof(j->r.auth)) < 0)
		j->r.auth[0] = '\0';
	if ((j->r.config = malloc(size)) != NULL &&
	    (n = j->p.dialect->build_config(j->p.dialect_params, key, j->r.config, size)) >= 0) {
		j->r.config_len = (size_t)n;
	} else {
		free(j->r.config);
		j->r.config = NULL;
	}
	creds_wipe(&j->secret);
}

static void run(struct blocking_job *base)
{
	struct connect_job *j = SPA_CONTAINER_OF(base, struct connect_job, base);
	struct creds_secret long_key;

	j->err.retry_after_ms = -1;
	if (superseded(j) || (j->res = creds_load(&j->p.creds, &j->secret, &j->err)) < 0)
		return;
	if (j->p.creds.temporary_key_url[0] != '\0') {
		if (superseded(j))
			return;
		long_key = j->secret;
		creds_wipe(&j->secret);
		j->res = creds_fetch_temporary(&j->p.creds, &long_key, &j->secret, &j->err);
		creds_wipe(&long_key);
		if (j->res < 0)
			return;
	}
	prepare(j);
	/* ws+unix: no DNS; the transport connects to the socket path. */
	if (j->p.port == URL_PORT_UNIX)
		return;
	if (!superseded(j))
		resolve(j);
}

void connect_result_wipe(struct connect_result *r)
{
	if (r->config != NULL)
		explicit_bzero(r->config, r->config_len);
	free(r->config);
	explicit_bzero(r, sizeof(*r));
}

static void done(struct blocking_job *base)
{
	struct connect_job *j = SPA_CONTAINER_OF(base, struct connect_job, base);

	if (!base->cancelled && j->res != -ECANCELED)
		j->done(j->owner, j->attempt, j->res, &j->err, &j->r);
	creds_wipe(&j->secret);
	connect_result_wipe(&j->r);
	free(j);
}

int connect_job_submit(struct blocking *b, const struct connect_job_params *p, uint64_t attempt,
		const _Atomic uint64_t *current, connect_job_done_fn done_fn, void *owner)
{
	struct connect_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -ENOMEM;
	j->base.run = run;
	j->base.done = done;
	j->p = *p;
	j->cancel = blocking_cancel_flag(b);
	j->p.creds.cancel = j->cancel;
	j->attempt = attempt;
	j->current = current;
	j->done = done_fn;
	j->owner = owner;
	blocking_submit(b, &j->base);
	return 0;
}
