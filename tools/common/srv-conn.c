/* srv-conn: the life of one connection of a server built on srv-core, on
 * the lws service thread: accept and adoption (delayed if the events ask),
 * the upgrade to a session (srv-upgrade.c reads the request), idle and
 * upgrade timeouts, stalled peers, shutdown, the end, and the lws callback
 * that dispatches to srv-upgrade.c and srv-io.c. The protocol is the
 * session's (srv-session.c), run through srv-exec.c. */
#include "srv-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "srv-log.h"


static const struct srv_events *ev(const struct srv_conn *c)
{
	return srv_events_of(c->srv);
}

static void conn_free(struct srv_conn *c)
{
	struct srv_conn **pp;

	for (pp = &c->srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	lws_sul_cancel(&c->sul_adopt);
	lws_sul_cancel(&c->sul_stall);
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->rl_flow.lock);
	srv_out_free(c->cur);
	free(c->rx);
	c->magic = 0;
	free(c);
}

static void zombie_add(struct srv *s, struct exec *x)
{
	struct srv_zombie *z = malloc(sizeof(*z));

	if (!z) {
		exec_reap(x);		/* no memory to wait: join now */
		return;
	}
	z->x = x;
	z->next = s->zombies;
	s->zombies = z;
}

static void reap(struct srv *s, bool wait)
{
	struct srv_zombie **pp = &s->zombies, *z;

	while ((z = *pp)) {
		if (wait || exec_exited(z->x)) {
			*pp = z->next;
			exec_reap(z->x);
			free(z);
		} else {
			pp = &z->next;
		}
	}
}

/* The connection is gone (wsi destroyed, or never adopted): once. */
static void conn_finish(struct srv_conn *c)
{
	struct srv *s = c->srv;

	if (c->finished)
		return;
	c->finished = true;
	if (ev(c)->closed)
		ev(c)->closed(s->cfg.data, c);
	if (c->x) {
		exec_release(c->x);
		zombie_add(s, c->x);
		c->x = NULL;
	}
	if (c->upgraded)
		s->streams--;
	else
		s->pending--;
	srv_ratelimit_flush(&c->rl_flow, "rx paused");
	s->open--;
	if (ev(c)->count)
		ev(c)->count(s->cfg.data, s->open);
	if (!c->adopting)
		conn_free(c);
}

static void conn_adopt(struct srv_conn *c)
{
	lws_adopt_desc_t info;
	struct lws *wsi;

	memset(&info, 0, sizeof(info));
	info.vh = c->srv->vh;
	info.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
	if (c->srv->cfg.tls_cert)
		info.type |= LWS_ADOPT_ALLOW_SSL;
	info.fd.sockfd = c->fd;
	info.opaque = c;
	c->fd = -1;		/* lws owns it now, also on failure */
	c->adopted_us = srv_now_us();
	c->adopting = true;
	wsi = lws_adopt_descriptor_vhost_via_info(&info);
	c->adopting = false;
	if (c->finished) {
		conn_free(c);		/* destroyed during the adoption */
	} else if (!wsi) {
		srv_log("conn=%u error what=adopt-failed", c->id);
		conn_finish(c);
	}
}

static void adopt_cb(lws_sorted_usec_list_t *sul)
{
	conn_adopt(lws_container_of(sul, struct srv_conn, sul_adopt));
}

static void peer_name(struct srv_conn *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	snprintf(c->peer_ip, sizeof(c->peer_ip), "?");
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl))
		return;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer_ip,
			  sizeof(c->peer_ip));
		c->peer_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer_ip,
			  sizeof(c->peer_ip));
		c->peer_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_UNIX) {
		snprintf(c->peer_ip, sizeof(c->peer_ip), "unix");
	}
}

void srv_conn_accepted(struct srv *s, int fd)
{
	struct srv_conn *c;
	int64_t delay_ms = 0;

	if (s->quit) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		srv_log("error what=out-of-memory");
		return;
	}
	c->magic = SRV_CONN_MAGIC;
	c->srv = s;
	c->id = ++s->accepted;
	c->fd = fd;
	c->idle_ms = s->cfg.idle_ms;
	c->rl_flow = (struct srv_ratelimit)SRV_RATELIMIT_INIT(2, 6);
	peer_name(c, fd);
	c->next = s->conns;
	s->conns = c;
	s->open++;
	s->pending++;
	if (ev(c)->accept)
		c->priv = ev(c)->accept(s->cfg.data, c, &delay_ms);
	if (ev(c)->count)
		ev(c)->count(s->cfg.data, s->open);
	if (delay_ms > 0) {
		lws_sul_schedule(s->ctx, 0, &c->sul_adopt, adopt_cb, delay_ms * LWS_US_PER_MS);
		return;
	}
	conn_adopt(c);
}

static void srv_wake_cb(void *data)
{
	srv_wake(data);
}

static int on_established(struct srv_conn *c)
{
	struct srv *s = c->srv;
	struct exec_params xp = {
		.id = c->id, .sp = &s->cfg.sess, .auth = c->auth, .priv = c->priv, .query = c->query,
		.threaded = s->cfg.threaded, .wake = srv_wake_cb, .wake_data = s,
	};

	c->upgraded = true;
	c->last_rx_us = srv_now_us();
	s->streams++;
	s->pending--;
	if (ev(c)->open)
		ev(c)->open(s->cfg.data, c);
	c->x = exec_new(&xp);
	if (!c->x) {
		srv_log("conn=%u error what=session-start", c->id);
		return -1;
	}
	srv_io_pump(c);
	return 0;
}

void srv_conn_service(struct srv *s)
{
	for (struct srv_conn *c = s->conns; c; c = c->next) {
		if (!c->x || !c->wsi || c->finished)
			continue;
		srv_io_flow(c);
		srv_io_pump(c);
	}
	reap(s, false);
}

/* Under a stall nothing is read, so lws never notices the peer leaving:
 * look at the TCP state instead and drop the connection when it is gone. */
static void check_stalled_peer(struct srv_conn *c)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);

	if (getsockopt(lws_get_socket_fd(c->wsi), IPPROTO_TCP, TCP_INFO, &ti, &tl))
		return;
	if (ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE ||
	    ti.tcpi_state == TCP_LAST_ACK || ti.tcpi_state == TCP_CLOSING) {
		srv_log("conn=%u stall peer-gone", c->id);
		c->stalled = false;	/* reaped once; closes as code=1006 by=peer */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

static void check_idle(struct srv_conn *c, int64_t now_us)
{
	char msg[128];

	if (!c->x || !c->idle_ms || c->idle_sent || c->rx_dead || c->stalled || exec_done(c->x))
		return;
	/* input waiting for the session is not idleness */
	if (exec_backlog(c->x) > 0)
		c->last_rx_us = now_us;
	if (now_us - c->last_rx_us < c->idle_ms * 1000)
		return;
	c->idle_sent = true;
	c->rx_dead = true;
	if (exec_out_bytes(c->x) > SRV_BACKLOG_HIGH) {
		/* a peer that reads nothing would never get the error either */
		srv_log("conn=%u error what=peer-not-reading", c->id);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	if (ev(c)->idle)
		ev(c)->idle(c->srv->cfg.data, c, c->idle_ms);
	if (c->idle_ms % 1000 == 0)
		snprintf(msg, sizeof(msg), "Request timeout: no audio or keepalive for %" PRId64 " s.",
			 c->idle_ms / 1000);
	else
		snprintf(msg, sizeof(msg), "Request timeout: no audio or keepalive for %" PRId64 " ms.",
			 c->idle_ms);
	srv_io_error(c, 408, "request_timeout", 1000, msg);
}

void srv_conn_tick(struct srv *s, int64_t now_us)
{
	int64_t up_us = s->cfg.upgrade_timeout_ms * 1000;

	for (struct srv_conn *c = s->conns; c; c = c->next) {
		if (c->finished || !c->wsi)
			continue;
		if (!c->upgraded) {
			/* a TCP connection that never completes its upgrade */
			if (up_us && now_us - c->adopted_us >= up_us)
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			continue;
		}
		check_idle(c, now_us);
		if (c->stalled && !c->killed)
			check_stalled_peer(c);
	}
	srv_conn_service(s);
}

void srv_conn_shutdown(struct srv *s)
{
	for (struct srv_conn *c = s->conns; c; c = c->next) {
		if (c->finished || !c->wsi)
			continue;
		if (c->upgraded) {
			c->closing = true;
			lws_callback_on_writable(c->wsi);
		} else {
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		}
	}
}

void srv_conn_release_pending(struct srv *s)
{
	struct srv_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->fd >= 0) {
			close(c->fd);
			c->fd = -1;
			c->killed = true;
			conn_finish(c);
		}
	}
}

void srv_conn_release_all(struct srv *s)
{
	struct srv_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		conn_finish(c);
	}
	reap(s, true);
}

/* RFC 6455 7.4: what a peer may send (lws 4.1.6 already turns most
 * others into 1002 before we see them, but not a code of 5000 and more or
 * a one-byte payload). */
static bool close_code_valid(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* 0: lws echoes the close (with the payload as it is now), -1: we close. */
static int on_peer_close(struct srv_conn *c, struct lws *wsi, unsigned char *b, size_t len)
{
	c->peer_code = len >= 2 ? (b[0] << 8) | b[1] : len ? -1 : 1005;
	if (ev(c)->peer_close)
		ev(c)->peer_close(c->srv->cfg.data, c, c->peer_code);
	if (len == 0 || (len >= 2 && close_code_valid(c->peer_code)))
		return 0;
	/* answered with 1002 (protocol error), not echoed */
	c->our_code = 1002;
	if (len >= 2) {
		b[0] = 1002 >> 8;
		b[1] = 1002 & 0xff;
		return 0;
	}
	lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, NULL, 0);
	return -1;
}

int srv_conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      void *user, void *in, size_t len)
{
	struct srv_conn *c = lws_get_opaque_user_data(wsi);

	if (c && c->magic != SRV_CONN_MAGIC)
		c = NULL;

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		if (c)
			c->wsi = wsi;
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return c ? srv_upgrade_confirm(c, wsi) : -1;
	case LWS_CALLBACK_HTTP:
		return srv_upgrade_refuse_http(c, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return c ? on_established(c) : -1;
	case LWS_CALLBACK_RECEIVE:
		return c ? srv_io_receive(c, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? srv_io_writeable(c, wsi) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return c ? on_peer_close(c, wsi, in, len) : 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c)
			conn_finish(c);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Accessors for the servers built on the core (srv-core.h). */
struct srv *srv_conn_server(const struct srv_conn *c) { return c->srv; }
unsigned srv_conn_id(const struct srv_conn *c) { return c->id; }
void *srv_conn_priv(const struct srv_conn *c) { return c->priv; }
const char *srv_conn_peer_ip(const struct srv_conn *c) { return c->peer_ip; }
unsigned srv_conn_peer_port(const struct srv_conn *c) { return c->peer_port; }
const char *srv_conn_path(const struct srv_conn *c) { return c->path; }
enum srv_auth srv_conn_auth(const struct srv_conn *c) { return c->auth; }
bool srv_conn_auth_header(const struct srv_conn *c) { return c->auth_header; }
bool srv_conn_upgraded(const struct srv_conn *c) { return c->upgraded; }
int srv_conn_http_status(const struct srv_conn *c) { return c->http_status; }
int srv_conn_our_code(const struct srv_conn *c) { return c->our_code; }
int srv_conn_peer_code(const struct srv_conn *c) { return c->peer_code; }
bool srv_conn_killed(const struct srv_conn *c) { return c->killed; }
void srv_conn_set_idle(struct srv_conn *c, int64_t idle_ms) { c->idle_ms = idle_ms; }

uint64_t srv_conn_audio_ms(const struct srv_conn *c)
{
	struct sess *s = c->x ? exec_session(c->x) : NULL;

	return s ? sess_audio_ms(s) : 0;
}

void srv_conn_call(struct srv_conn *c, void (*fn)(struct sess *s, void *arg), void *arg)
{
	if (!c->x) {
		free(arg);
		return;
	}
	exec_call(c->x, fn, arg);
	if (c->wsi)
		srv_io_pump(c);
}
