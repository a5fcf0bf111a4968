/* srv-internal: the server object and its connections, shared by
 * srv-core.c (context, listening socket, signals, tick, lifetime) and
 * srv-conn.c (the lws callbacks of one connection). Not for the servers
 * built on the core: they see srv-core.h. Service thread only, except
 * wake_lock and what it guards. */
#ifndef SRV_INTERNAL_H
#define SRV_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>

#include "srv-core.h"
#include "srv-exec.h"
#include "srv-log.h"

#define SRV_CONN_MAGIC	0x73727663u
#define SRV_PATH_MAX	200
#define SRV_QUERY_MAX	1024

struct srv_conn {
	uint32_t magic;
	struct srv *srv;
	unsigned id;			/* 1-based, in accept order */
	int fd;				/* accepted socket until lws adopts it, then -1 */
	struct lws *wsi;
	void *priv;			/* events->accept's */
	lws_sorted_usec_list_t sul_adopt;	/* delayed adoption */
	lws_sorted_usec_list_t sul_stall;	/* end of a timed stall */
	struct exec *x;			/* after the upgrade */
	struct srv_out *cur;		/* an item being repeated (srv_out.repeat) */
	enum srv_auth auth;
	bool auth_header;
	char peer_ip[48];
	unsigned peer_port;
	char path[SRV_PATH_MAX];	/* request path, sanitized for logs */
	char query[SRV_QUERY_MAX];	/* its query (args joined by '&'), never logged */
	int64_t adopted_us, last_rx_us, idle_ms;
	unsigned char *rx;		/* message being reassembled */
	size_t rx_len, rx_cap;
	bool in_message, rx_binary;
	int http_status, our_code, peer_code;
	bool upgraded, adopting, finished, killed;
	bool rx_paused;			/* backlog towards the session's thread */
	bool rx_off;			/* flow control is off (rx_paused, stall) */
	bool stalled, rx_dead, idle_sent, closing;
	struct srv_ratelimit rl_flow;	/* "rx paused" lines */
	struct srv_conn *next;
};

struct srv_zombie {			/* a released exec not reaped yet */
	struct exec *x;
	struct srv_zombie *next;
};

struct srv {
	struct srv_config cfg;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int fd_listen, fd_signal;
	bool listen_adopted, signal_adopted;	/* lws closes them */
	lws_sorted_usec_list_t sul_tick;
	struct srv_conn *conns;
	unsigned accepted, open, streams, pending;
	struct srv_slots slots;		/* max_streams */
	struct lws *wsi_listen;
	lws_sorted_usec_list_t sul_accept;	/* accepting again after EMFILE & co */
	lws_sorted_usec_list_t sul_accept_turn;	/* accepts wait one turn of the loop */
	int64_t accept_backoff_ms;
	struct srv_ratelimit rl_accept, rl_refused;
	struct srv_zombie *zombies;
	bool quit;
	const char *quit_reason;

	pthread_mutex_t wake_lock;	/* guards wake_ok (and ctx against destruction) */
	bool wake_ok;
};

static inline const struct srv_events *srv_events_of(const struct srv *s)
{
	static const struct srv_events none;

	return s->cfg.events ? s->cfg.events : &none;
}

/* Reading pauses when the connection holds this much for its peer (input
 * waiting for the session's thread, ~33 s of 16 kHz mono, plus output
 * the peer has not read) and resumes below the low mark. */
#define SRV_BACKLOG_HIGH	(1024 * 1024)
#define SRV_BACKLOG_LOW		(256 * 1024)

/* srv-io.c, for srv-conn.c */
int srv_io_receive(struct srv_conn *c, struct lws *wsi, const void *in, size_t len);
int srv_io_writeable(struct srv_conn *c, struct lws *wsi);
/* Reading paused or resumed by what the connection holds for its peer. */
void srv_io_flow(struct srv_conn *c);
/* Flow control up to date, and a writeable callback if output waits. */
void srv_io_pump(struct srv_conn *c);
/* A verdict of the connection: the session sends the error and closes. */
void srv_io_error(struct srv_conn *c, int code, const char *type, int close, const char *msg);

/* srv-upgrade.c, for srv-conn.c: HTTP_CONFIRM_UPGRADE and HTTP. */
int srv_upgrade_confirm(struct srv_conn *c, struct lws *wsi);
int srv_upgrade_refuse_http(struct srv_conn *c, struct lws *wsi);

/* srv-conn.c, for srv-core.c */
int srv_conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      void *user, void *in, size_t len);
/* Takes fd (a new accepted socket). */
void srv_conn_accepted(struct srv *s, int fd);
/* Sends what sessions queued, resumes paused reading, reaps threads. */
void srv_conn_service(struct srv *s);
void srv_conn_tick(struct srv *s, int64_t now_us);
void srv_conn_shutdown(struct srv *s);
/* Connections lws never saw (a delayed adoption): before the context goes. */
void srv_conn_release_pending(struct srv *s);
/* After the context is gone: whatever is left, and every thread. */
void srv_conn_release_all(struct srv *s);

#endif
