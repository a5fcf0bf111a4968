/* srv-exec: where a connection's session (srv-session.h) runs. Either
 * inline, on the lws service thread (the fault server: cheap recognizer,
 * exact timing, hooks may touch the session from the service thread), or
 * on a thread of its own (pw-transcribe-server: a decoder can take a
 * second for a second of audio). The connection (srv-conn.c) posts what
 * arrives; the session's output comes back through exec_pop().
 *
 * Threaded: the service thread creates the exec, pushes and pops, releases
 * it when the connection is gone and reaps it once exec_exited() says so.
 * The thread owns the session; input and output queues and the flags are
 * guarded by the exec's mutex; wake() is called (from the session's
 * thread, no lock held) when output is ready, when the backlog fell below
 * the mark given to exec_want_resume(), and when the thread exits.
 * Inline: everything happens in the calls themselves; wake() is never
 * called.
 */
#ifndef SRV_EXEC_H
#define SRV_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "srv-dialect.h"
#include "srv-out.h"
#include "srv-session.h"

struct exec_params {
	unsigned id;
	const struct sess_params *sp;	/* outlives the exec */
	enum srv_auth auth;
	void *priv;			/* for the session hooks */
	const char *query;		/* the request's query (copied), NULL = none */
	bool threaded;
	void (*wake)(void *data);
	void *wake_data;
};

struct exec;

/* NULL when out of memory or no thread can be started. */
struct exec *exec_new(const struct exec_params *p);

/* Service thread: input. buf is malloc'ed and taken over (text:
 * NUL-terminated at len). Each returns the bytes still queued (0 inline). */
size_t exec_text(struct exec *x, char *buf, size_t len);
size_t exec_binary(struct exec *x, unsigned char *buf, size_t len);
/* A verdict of the shell: send e, then close. */
void exec_error(struct exec *x, const struct srv_error *e);
/* Runs fn(session, arg) on the session's thread (at once inline). arg is
 * malloc'ed (or NULL) and freed with free() afterwards, also when the call
 * never runs because the connection went first. */
void exec_call(struct exec *x, void (*fn)(struct sess *s, void *arg), void *arg);

size_t exec_backlog(struct exec *x);
/* Asks for a wake() once the backlog is at most low bytes. */
void exec_want_resume(struct exec *x, size_t low);

/* Service thread: output. NULL when empty; free with srv_out_free(). */
struct srv_out *exec_pop(struct exec *x);
bool exec_has_out(struct exec *x);
size_t exec_out_bytes(struct exec *x);

/* Inline only (false/NULL threaded): the session's state right now. */
bool exec_paused(struct exec *x);
bool exec_done(struct exec *x);
struct sess *exec_session(struct exec *x);

/* The connection is gone: queued input is dropped, the session freed,
 * the thread exits. */
void exec_release(struct exec *x);
bool exec_exited(struct exec *x);
/* Joins the thread (blocks until it exited) and frees the exec. */
void exec_reap(struct exec *x);

#endif
