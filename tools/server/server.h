/* server: state shared by the entry point (pw-transcribe-server.c: CLI,
 * listening socket, signals, the tick, shutdown) and the connections
 * (conn.c: lws callbacks). Everything here belongs to the lws service
 * thread, except the wake lock and what it guards (srv_wake() is called by
 * the decoder threads).
 */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "session.h"
#include "worker.h"

#define CONN_MAGIC	0x70777473u

struct conn {
	uint32_t magic;
	unsigned id;			/* 1-based, in accept order */
	int fd;				/* accepted socket until lws adopts it, then -1 */
	struct lws *wsi;
	struct worker *w;		/* after the upgrade */
	enum sess_auth auth;
	char peer[64];
	char path[128];			/* request path, sanitized for logs */
	int64_t accepted_us, last_rx_us;
	char *text;			/* text message being reassembled */
	size_t text_len, text_cap;
	size_t bin_len;			/* binary message so far */
	bool in_text, in_binary;
	bool upgraded, rx_paused, rx_dead, idle_sent, closing, finished, adopting;
	int our_code, peer_code;
	struct conn *next;
};

struct zombie {				/* a released worker not joined yet */
	struct worker *w;
	struct zombie *next;
};

struct server {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct sess_params sp;
	unsigned max_streams;
	unsigned idle_timeout_s;
	struct conn *conns;
	unsigned accepted, open, streams;
	struct zombie *zombies;
	bool quit;
	const char *quit_reason;

	pthread_mutex_t wake_lock;	/* guards wake_ok (and ctx against destruction) */
	bool wake_ok;
};

extern struct server g_srv;

/* Any thread: makes the service thread look at the workers' queues. */
void srv_wake(void);

/* lws protocol callback of the WebSocket connections (protocols[0]). */
int conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		  void *user, void *in, size_t len);

/* A new accepted socket (owned from now on): logged and adopted into lws. */
void conn_accepted(int fd);

/* After a wake: sends what workers produced, resumes paused reading, reaps
 * workers that exited. */
void conn_service_wake(void);

/* Housekeeping (every tick): idle timeouts, flow control, reaping. */
void conn_tick(int64_t now_us);

/* Shutdown: close 1001 to every stream, drop connections still in HTTP. */
void conn_shutdown_all(void);

/* After lws_context_destroy(): joins every remaining worker. */
void conn_reap_all(void);

int64_t srv_now_us(void);

#endif
