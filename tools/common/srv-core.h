/* srv-core: the WebSocket speech-to-text server both of our servers are
 * made of: pw-transcribe-server (core + pocketsphinx) and the test fault
 * server (core + tone recognizer + scripted faults).
 *
 * The core accepts connections on a listening socket it is given, hands
 * them to libwebsockets, runs each connection's session (srv-session.h:
 * the protocol, in a dialect over a recognizer) inline or on a thread of
 * its own (srv-exec.h), performs what the session queues, and applies the
 * limits (message size, idle and upgrade timeouts, streams, flow control).
 * What differs between the servers comes in as a small events table
 * (struct srv_events: what to log, faults to script) and the session's
 * hooks, the way module-rtp's stream serves both sink and source.
 *
 * Threads: everything runs on the thread that calls srv_run() (the lws
 * service thread), except srv_wake() (any thread) and the session hooks
 * (the session's thread: the service thread when inline). srv_new() must
 * run before any other thread starts: it blocks SIGINT and SIGTERM (a
 * signalfd ends srv_run) for every thread created afterwards.
 */
#ifndef SRV_CORE_H
#define SRV_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "srv-session.h"

struct srv;
struct srv_conn;

/* All optional; service thread; data as given in srv_config. */
struct srv_events {
	/* A connection was accepted (counted in srv_open_count()). Returns its
	 * private data (srv_conn_priv(), the session hooks' priv); *delay_ms
	 * > 0 leaves its upgrade request unread that long. */
	void *(*accept)(void *data, struct srv_conn *c, int64_t *delay_ms);
	/* The upgrade request was read: 0 goes on, else the HTTP status to
	 * answer with instead of 101 (*retry_after >= 0 adds Retry-After). */
	int (*upgrade)(void *data, struct srv_conn *c, int *retry_after);
	void (*open)(void *data, struct srv_conn *c);		/* WebSocket established */
	void (*peer_close)(void *data, struct srv_conn *c, int code);
	void (*idle)(void *data, struct srv_conn *c, int64_t idle_ms);	/* before error 408 */
	/* The connection is gone (logged once): free its private data here. */
	void (*closed)(void *data, struct srv_conn *c);
	void (*count)(void *data, unsigned open);	/* after srv_open_count() changed */
	void (*tick)(void *data, int64_t now_us);
	void (*wake)(void *data);			/* after srv_wake() */
};

struct srv_config {
	const char *name;		/* in logs, close reasons, HTTP answers */
	int listen_fd;			/* listening, non-blocking; taken over (also on failure) */
	bool threaded;			/* a thread per session (else inline) */
	unsigned max_streams;		/* recognizers at once (taken once the key and the
					 * config are good); more get error 429; 0 = no limit */
	unsigned max_pending;		/* connections still before their upgrade; more are
					 * closed at accept; 0 = no limit */
	unsigned max_open;		/* connections in all; more are closed at accept; 0 = no limit */
	int64_t idle_ms;		/* no message this long: error 408; 0 = never */
	int64_t upgrade_timeout_ms;	/* no upgrade this long after accept: hang up; 0 = never */
	int shutdown_code;		/* at exit close streams with it; 0 = just hang up */
	int64_t shutdown_grace_ms;	/* how long srv_drain() waits for them */
	unsigned tick_ms;		/* housekeeping period (timeouts, stall checks) */
	const char *tls_cert, *tls_key;	/* wss:// when both are set */
	int lws_log_level;		/* 0: errors and warnings */
	bool lws_log_to_srv;		/* lws's own lines into srv_log() (else stderr) */
	struct sess_params sess;	/* copied */
	const struct srv_events *events;	/* outlives the server; NULL = none */
	void *data;
};

/* NULL on failure, said in one line on stderr ("<name>: <what failed>"). */
struct srv *srv_new(const struct srv_config *cfg);
/* Services connections until SIGINT/SIGTERM or srv_quit(). 0, or -1 when
 * libwebsockets failed. */
int srv_run(struct srv *s);
/* Closes every stream with shutdown_code and services until they are gone
 * (at most shutdown_grace_ms); connections still in HTTP are dropped. */
void srv_drain(struct srv *s);
/* Hangs up whatever is left and frees everything (joins session threads). */
void srv_free(struct srv *s);

void srv_quit(struct srv *s, const char *reason);
const char *srv_quit_reason(const struct srv *s);	/* "signal", ... or NULL */
/* Any thread: srv_run() calls events->wake (and sends queued output) soon. */
void srv_wake(struct srv *s);

unsigned srv_open_count(const struct srv *s);		/* TCP connections not closed yet */
unsigned srv_accepted_count(const struct srv *s);
unsigned srv_stream_count(const struct srv *s);		/* upgraded, not closed */
unsigned srv_pending_count(const struct srv *s);	/* accepted, not upgraded yet */
/* The open connection with this id (1-based, in accept order), or NULL. */
struct srv_conn *srv_conn_find(struct srv *s, unsigned id);
int64_t srv_now_us(void);

/* A connection, from the service thread. */
struct srv *srv_conn_server(const struct srv_conn *c);
unsigned srv_conn_id(const struct srv_conn *c);
void *srv_conn_priv(const struct srv_conn *c);
const char *srv_conn_peer_ip(const struct srv_conn *c);	/* "127.0.0.1", "unix", "?" */
unsigned srv_conn_peer_port(const struct srv_conn *c);
const char *srv_conn_path(const struct srv_conn *c);	/* request path, sanitized */
enum srv_auth srv_conn_auth(const struct srv_conn *c);
bool srv_conn_auth_header(const struct srv_conn *c);	/* the request had one */
bool srv_conn_upgraded(const struct srv_conn *c);
int srv_conn_http_status(const struct srv_conn *c);	/* we answered the upgrade with it */
int srv_conn_our_code(const struct srv_conn *c);	/* close code we sent, 0 = none */
int srv_conn_peer_code(const struct srv_conn *c);	/* close code received, 0 = none */
bool srv_conn_killed(const struct srv_conn *c);		/* we hung up without a close frame */
/* Audio received (inline sessions only; 0 otherwise). */
uint64_t srv_conn_audio_ms(const struct srv_conn *c);
void srv_conn_set_idle(struct srv_conn *c, int64_t idle_ms);
/* Runs fn on the session's thread (see exec_call) and sends what it queued. */
void srv_conn_call(struct srv_conn *c, void (*fn)(struct sess *s, void *arg), void *arg);

#endif
