/* session: one connection speaking the Soniox real-time subset, without
 * I/O (the protocol, from the config message to "finished").
 *
 * The decoder thread (worker.c) feeds it complete text messages, chunks of
 * binary messages and the shell's verdicts (idle, oversized, rejected); it
 * answers by queueing outgoing items (text frames, then a close) that the
 * shell sends in order. It owns the connection's recognizer.
 * Every event is logged as "conn=<id> ..." (log.h). Not thread-safe: one
 * thread at a time.
 */
#ifndef SERVER_SESSION_H
#define SERVER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recognizer.h"

#define SESS_MIN_RATE		8000
#define SESS_MAX_RATE		48000
#define SESS_MAX_MESSAGE	(1024 * 1024)	/* bigger messages are refused */

enum sess_auth {
	SESS_AUTH_NONE,		/* no key configured: everyone is welcome */
	SESS_AUTH_OK,		/* the upgrade carried the right bearer key */
	SESS_AUTH_MISSING,	/* no Authorization header */
	SESS_AUTH_BAD,		/* a wrong one */
};

struct sess_params {
	const char *key;		/* shared secret, NULL = none */
	struct rec_pool *pool;
	unsigned partial_ms;		/* non-final tokens at most this often (audio ms) */
	unsigned progress_ms;		/* a response at least this often (audio ms) */
	size_t pre;			/* bytes reserved before every payload (LWS_PRE) */
};

enum sess_out_kind {
	SESS_OUT_TEXT,
	SESS_OUT_CLOSE,		/* WebSocket close with code, then hang up */
};

struct sess_out {
	struct sess_out *next;
	enum sess_out_kind kind;
	int code;		/* CLOSE */
	size_t len;		/* TEXT payload length */
	unsigned char *buf;	/* TEXT: pre + len bytes, payload at buf + pre */
};

struct sess_stats {
	uint64_t audio_ms;	/* audio received (input timeline) */
	unsigned finals;	/* final words sent */
	unsigned init_ms;	/* decoder creation, wall time (0 = a spare was ready) */
	uint64_t ready_cpu_ms;	/* this thread's CPU time when the decoder was ready */
};

struct sess;

/* p must outlive the session. NULL when out of memory. */
struct sess *sess_new(unsigned id, const struct sess_params *p, enum sess_auth auth);
/* Closes the recognizer (its decoder goes back to the pool). */
void sess_free(struct sess *s);

/* One complete text message; an empty one ends the stream. */
void sess_on_text(struct sess *s, const char *msg, size_t len);

/* A chunk of a binary message; msg_end marks its last chunk. A message of
 * zero bytes ends the stream. */
void sess_on_binary(struct sess *s, const void *data, size_t len, bool first, bool msg_end);

/* The shell's verdicts: each sends an error and closes. */
void sess_on_oversized(struct sess *s, size_t bytes);
void sess_on_idle(struct sess *s, unsigned idle_s);
void sess_on_reject(struct sess *s, int code, const char *type, const char *msg);

/* Head of the outgoing queue (NULL if empty); free it with sess_out_free(). */
struct sess_out *sess_pop(struct sess *s);
void sess_out_free(struct sess_out *o);

/* A close is queued: later input is ignored. */
bool sess_done(const struct sess *s);

void sess_get_stats(const struct sess *s, struct sess_stats *st);

#endif
