/* fs-server: state shared by the fault-server shell (fault-server.c: CLI,
 * listener, control, timers) and its WebSocket side (fs-ws.c: one struct
 * conn per accepted TCP connection, lws callbacks, fault actions).
 * Everything here runs on the lws service thread, except the control queue
 * (ctl_*), which the stdin thread fills under ctl_lock.
 */
#ifndef FS_SERVER_H
#define FS_SERVER_H

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs-fault.h"
#include "fs-session.h"

#define CONN_MAGIC	0x66734331u

struct conn {
	uint32_t magic;
	unsigned id;			/* 1-based, in accept order */
	int fd;				/* accepted socket until handed to lws, then -1 */
	struct lws *wsi;
	lws_sorted_usec_list_t sul_adopt;	/* delay_accept */
	lws_sorted_usec_list_t sul_stall;	/* stall;for= */
	struct fault_spec spec;		/* faults of this connection */
	struct sess *sess;		/* after the upgrade */
	enum sess_auth auth;
	char path[200];			/* request path, sanitized for logs */
	int64_t last_rx_us;		/* last message received (idle=) */
	char *text;			/* text message being reassembled */
	size_t text_len, text_cap;
	bool in_text, in_binary;	/* a message is in progress */
	int http_status;		/* we answered the upgrade with this */
	int peer_code, our_code;	/* close codes received / sent */
	bool upgraded, killed, stalled, rx_off, adopting, finished;
	struct conn *next;
};

struct ctl_line {
	struct ctl_line *next;
	char text[];
};

struct server {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct fault_table *faults;
	struct sess_params sp;
	bool auth_http;			/* bad/missing key: HTTP 401 on the upgrade */
	struct conn *conns;
	unsigned accepted, open;
	int64_t idle_since_us;
	int quit_after_idle_s;		/* 0 = never */
	lws_sorted_usec_list_t sul_tick;
	lws_sorted_usec_list_t sul_accept;	/* accepts wait one turn of the loop */
	int listen_fd;
	volatile sig_atomic_t quit;
	const char *quit_reason;

	pthread_mutex_t ctl_lock;	/* guards ctl_head/ctl_tail/ctl_wake */
	struct ctl_line *ctl_head, *ctl_tail;
	bool ctl_wake;			/* ctx may be woken (false from exit on) */
};

extern struct server g_srv;

/* Protocol callback of WebSocket connections (protocols[0]). */
int fs_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
		   void *user, void *in, size_t len);

/* A new accepted socket: logs it, picks its faults, adopts it into lws
 * (now or after delay_accept). Takes ownership of fd. */
void conn_accepted(int fd);

/* The connection with this index, or NULL if it is not open. */
struct conn *conn_find(unsigned id);

/* Runtime "fault N:SPEC" for an open connection. */
void conn_set_faults(struct conn *c, const struct fault_spec *spec);

/* Housekeeping tick: idle= timeouts, peers that went away under a stall. */
void conn_tick(struct conn *c);

/* At exit: drops connections lws never saw (delay_accept pending). */
void conn_release_pending(void);

#endif
