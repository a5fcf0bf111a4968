/* srv-session: one client connection of a speech-to-text server, without
 * I/O: the protocol from the configuration to the end of the stream, over
 * a recognizer (srv-recognizer.h) and in a dialect (srv-dialect.h).
 *
 * The shell (srv-exec.c, on behalf of srv-conn.c) feeds it complete text
 * and binary messages and the shell's verdicts (an error to send); it
 * answers by queueing items (srv-out.h) that the shell performs in order.
 * It owns the stream's recognizer. Hooks let a server act at fixed points
 * (the fault server fires its scripted faults there) through the sess_push
 * / sess_close / sess_send_error / sess_pause / sess_mute calls.
 *
 * Every event is logged as "conn=<id> ..." (srv-log.h). Not thread-safe:
 * one thread at a time (the connection's session thread).
 */
#ifndef SRV_SESSION_H
#define SRV_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srv-dialect.h"
#include "srv-out.h"
#include "srv-recognizer.h"

enum srv_auth {
	SRV_AUTH_NONE,		/* no key configured: everyone is welcome */
	SRV_AUTH_OK,		/* the upgrade carried the right bearer key */
	SRV_AUTH_MISSING,	/* no Authorization header */
	SRV_AUTH_BAD,		/* a wrong one */
};

/* When responses go out (audio ms, counted on the stream). */
struct sess_pacing {
	unsigned block_ms;	/* consider a response after every block_ms of audio
				 * fed; 0 = after every binary message */
	unsigned partial_ms;	/* words in progress at most this often */
	unsigned progress_ms;	/* a response at least this often */
	bool partial_on_change;	/* words in progress only when they changed (else:
				 * every partial_ms while there are any) */
};

struct sess;

/* All optional; run on the session's thread, priv as given to sess_new. */
struct sess_hooks {
	void (*opened)(void *priv, struct sess *s);	/* the upgrade is done */
	void (*configured)(void *priv, struct sess *s);	/* streaming from now on */
	void (*audio)(void *priv, struct sess *s);	/* after each binary message */
	/* a keepalive or finalize arrived (before it is acted on) */
	void (*control)(void *priv, struct sess *s, enum srv_ctl ctl);
};

/* The server's stream slots (recognizers running), shared by every
 * session: taken once a client proved its key and sent a valid config,
 * given back when its session ends. Any thread. */
struct srv_slots {
	pthread_mutex_t lock;	/* guards used */
	unsigned used, max;
};

struct sess_params {
	const char *key;			/* shared secret, NULL = none */
	struct srv_slots *slots;		/* NULL = no limit; else beyond max: error 429 */
	const struct srv_dialect *dialect;
	const struct srv_recognizer *rec;
	void *rec_ctx;				/* passed to rec->open */
	struct sess_pacing pacing;
	const struct sess_hooks *hooks;		/* NULL = none */
};

struct sess_stats {
	uint64_t audio_ms;	/* audio received */
	unsigned finals;	/* final words sent */
	unsigned init_ms;	/* recognizer creation, wall time (0 = one was ready) */
	uint64_t ready_cpu_ms;	/* this thread's CPU time when it was ready */
};

/* p must outlive the session. NULL when out of memory. */
struct sess *sess_new(unsigned id, const struct sess_params *p, enum srv_auth auth, void *priv);
/* Closes the recognizer. */
void sess_free(struct sess *s);

/* The upgrade is done: query is the request's (without '?'; NULL = none)
 * for a dialect configured by it. Runs the opened hook. */
void sess_open(struct sess *s, const char *query);
/* One complete text message (msg NUL-terminated at len): a config, a
 * control, or audio inside it, as the dialect says. */
void sess_on_text(struct sess *s, const char *msg, size_t len);
/* One complete binary message. */
void sess_on_binary(struct sess *s, const void *data, size_t len);

/* Sends e (the dialect's error message), then closes with e->close. A
 * done session ignores it. */
void sess_send_error(struct sess *s, const struct srv_error *e);
/* Queues a close with code; input is ignored from now on. */
void sess_close(struct sess *s, int code);
/* Queues any item (takes it); RST, FIN and RAW_CLOSE end the session like
 * a close. */
void sess_push(struct sess *s, struct srv_out *o);
/* Input is ignored while paused (a stall); results are never sent once
 * muted (not even at the end of the stream). */
void sess_pause(struct sess *s, bool paused);
bool sess_paused(const struct sess *s);
void sess_mute(struct sess *s);

/* Head of the outgoing queue (NULL if empty); free with srv_out_free(). */
struct srv_out *sess_pop(struct sess *s);
bool sess_has_out(const struct sess *s);
size_t sess_out_bytes(const struct sess *s);	/* payload bytes queued */
/* A close (or reset) is queued: later input is ignored. */
bool sess_done(const struct sess *s);

unsigned sess_id(const struct sess *s);
uint64_t sess_audio_ms(const struct sess *s);	/* audio received */
uint64_t sess_total_ms(const struct sess *s);	/* audio processed (0 before the config) */
uint64_t sess_final_ms(const struct sess *s);	/* audio final */
void sess_get_stats(const struct sess *s, struct sess_stats *st);
/* CPU time of the calling thread (ms), as the stats count it. */
uint64_t sess_thread_cpu_ms(void);

#endif
