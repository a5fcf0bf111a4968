/* worker: one decoder thread per connection. The service thread (conn.c)
 * posts what arrives (text messages, audio chunks, verdicts) into the
 * worker's input queue; the worker thread runs the session (session.h) on
 * it and posts the session's outgoing items into an output queue, then
 * calls wake() so the service thread sends them.
 *
 * Ownership: the service thread creates the worker, pushes and pops,
 * releases it when the connection is gone and joins it (worker_reap) once
 * worker_exited() says so. The worker thread owns the session. Both queues
 * and the flags are guarded by the worker's mutex.
 */
#ifndef SERVER_WORKER_H
#define SERVER_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "session.h"

struct worker;

/* wake() is called from the worker thread, without locks held, when output
 * is ready or the backlog fell below the low mark after worker_want_resume().
 * Returns NULL when out of memory or no thread can be started. */
struct worker *worker_new(unsigned id, const struct sess_params *p, enum sess_auth auth,
			  void (*wake)(void));

/* Service thread: input. Each returns the bytes still queued (backlog). */
size_t worker_push_text(struct worker *w, const char *msg, size_t len);
size_t worker_push_audio(struct worker *w, const void *data, size_t len, bool first, bool last);
void worker_push_oversized(struct worker *w, size_t bytes);
void worker_push_idle(struct worker *w, unsigned idle_s);
void worker_push_reject(struct worker *w, int code, const char *type, const char *msg);

size_t worker_backlog(struct worker *w);
/* Asks for a wake() once the backlog is at most low bytes. */
void worker_want_resume(struct worker *w, size_t low);

/* Service thread: output. NULL when empty; free with sess_out_free(). */
struct sess_out *worker_pop(struct worker *w);
bool worker_has_out(struct worker *w);

/* The connection is gone: the thread drops what is queued, frees the
 * session and exits. */
void worker_release(struct worker *w);
bool worker_exited(struct worker *w);
/* Joins the thread (blocks until it exited) and frees the worker. */
void worker_reap(struct worker *w);

#endif
