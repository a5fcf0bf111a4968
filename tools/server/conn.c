/* conn: the server's connections on the lws service thread: adoption, the
 * upgrade (path, Authorization), reassembly of text messages, size limits,
 * flow control towards the decoder thread, sending what it produced, idle
 * timeouts and the close. The protocol itself lives in session.c, run by
 * the connection's worker (worker.c). */
#include "server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "key.h"
#include "log.h"

/* Reading pauses when this much audio waits for the decoder (~33 s of
 * 16 kHz mono) and resumes below the low mark. */
#define BACKLOG_HIGH		(1024 * 1024)
#define BACKLOG_LOW		(256 * 1024)
#define CLOSE_GOING_AWAY	1001
#define CLOSE_REASON		"pw-transcribe-server"
#define AUTH_HEADER_MAX		(KEY_MAX_LEN + 64)

static void conn_free(struct conn *c)
{
	struct conn **pp;

	for (pp = &g_srv.conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->text);
	c->magic = 0;
	free(c);
}

static void zombie_add(struct worker *w)
{
	struct zombie *z = malloc(sizeof(*z));

	if (!z) {
		worker_reap(w);		/* no memory to wait: join now */
		return;
	}
	z->w = w;
	z->next = g_srv.zombies;
	g_srv.zombies = z;
}

static void reap(bool wait)
{
	struct zombie **pp = &g_srv.zombies, *z;

	while ((z = *pp)) {
		if (wait || worker_exited(z->w)) {
			*pp = z->next;
			worker_reap(z->w);
			free(z);
		} else {
			pp = &z->next;
		}
	}
}

/* The connection is gone (wsi destroyed, or never adopted): log it once. */
static void conn_finish(struct conn *c)
{
	const char *by;
	int code = 0;

	if (c->finished)
		return;
	c->finished = true;
	if (!c->upgraded) {
		by = "-";	/* no WebSocket: plain HTTP, a dropped handshake, shutdown */
	} else if (c->our_code) {
		code = c->our_code;
		by = "server";
	} else if (c->peer_code) {
		code = c->peer_code;
		by = "peer";
	} else {
		code = 1006;
		by = "peer";
	}
	srv_log("conn=%u closed code=%d by=%s", c->id, code, by);
	if (c->w) {
		worker_release(c->w);
		zombie_add(c->w);
		c->w = NULL;
	}
	if (c->upgraded)
		g_srv.streams--;
	g_srv.open--;
	if (!c->adopting)
		conn_free(c);
}

static void conn_adopt(struct conn *c)
{
	lws_adopt_desc_t info;
	struct lws *wsi;

	memset(&info, 0, sizeof(info));
	info.vh = g_srv.vh;
	info.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
	info.fd.sockfd = c->fd;
	info.opaque = c;
	c->fd = -1;		/* lws owns it now, also on failure */
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

static void peer_name(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	memset(&ss, 0, sizeof(ss));
	if (!getpeername(fd, (struct sockaddr *)&ss, &sl)) {
		if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(out, outlen, "%s:%u", ip, port);
}

void conn_accepted(int fd)
{
	struct conn *c;

	if (g_srv.quit) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		srv_log("error what=out-of-memory");
		return;
	}
	c->magic = CONN_MAGIC;
	c->id = ++g_srv.accepted;
	c->fd = fd;
	c->accepted_us = srv_now_us();
	peer_name(fd, c->peer, sizeof(c->peer));
	c->next = g_srv.conns;
	g_srv.conns = c;
	g_srv.open++;
	srv_log("conn=%u accept peer=%s open=%u", c->id, c->peer, g_srv.open);
	conn_adopt(c);
}

/* Path (sanitized) and Authorization, before the upgrade. */
static void read_request(struct conn *c, struct lws *wsi)
{
	char auth[AUTH_HEADER_MAX];
	int n;

	n = lws_hdr_copy(wsi, c->path, (int)sizeof(c->path), WSI_TOKEN_GET_URI);
	if (n <= 0)
		snprintf(c->path, sizeof(c->path), "-");
	for (char *p = c->path; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"')
			*p = '?';
	if (!g_srv.sp.key) {
		c->auth = SESS_AUTH_NONE;
		return;
	}
	n = lws_hdr_copy(wsi, auth, (int)sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0)
		c->auth = SESS_AUTH_MISSING;
	else
		c->auth = key_bearer_matches(g_srv.sp.key, auth) ? SESS_AUTH_OK : SESS_AUTH_BAD;
	explicit_bzero(auth, sizeof(auth));
}

static const char *auth_name(enum sess_auth a)
{
	switch (a) {
	case SESS_AUTH_NONE:	return "none";
	case SESS_AUTH_OK:	return "ok";
	case SESS_AUTH_MISSING:	return "missing";
	case SESS_AUTH_BAD:	return "bad";
	}
	return "?";
}

static int on_established(struct conn *c)
{
	c->upgraded = true;
	c->last_rx_us = srv_now_us();
	g_srv.streams++;
	srv_log("conn=%u open path=%s auth=%s streams=%u", c->id, c->path, auth_name(c->auth),
		g_srv.streams);
	c->w = worker_new(c->id, &g_srv.sp, c->auth, srv_wake);
	if (!c->w) {
		srv_log("conn=%u error what=worker-start", c->id);
		return -1;
	}
	if (g_srv.streams > g_srv.max_streams)
		worker_push_reject(c->w, 429, "too_many_requests",
				   "Too many concurrent streams on this server; try again later.");
	return 0;
}

static void flow_pause(struct conn *c, size_t backlog)
{
	if (backlog <= BACKLOG_HIGH || c->rx_paused)
		return;
	c->rx_paused = true;
	lws_rx_flow_control(c->wsi, 0);
	worker_want_resume(c->w, BACKLOG_LOW);
	srv_log("conn=%u rx paused backlog=%zu", c->id, backlog);
}

static int text_append(struct conn *c, const void *in, size_t len)
{
	if (c->text_len + len + 1 > c->text_cap) {
		size_t cap = c->text_cap ? c->text_cap : 4096;
		char *t;

		while (cap < c->text_len + len + 1)
			cap *= 2;
		t = realloc(c->text, cap);
		if (!t)
			return -1;
		c->text = t;
		c->text_cap = cap;
	}
	memcpy(c->text + c->text_len, in, len);
	c->text_len += len;
	c->text[c->text_len] = '\0';
	return 0;
}

static void refuse_oversized(struct conn *c, size_t bytes)
{
	c->rx_dead = true;
	worker_push_oversized(c->w, bytes);
}

static int on_receive(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	bool end = lws_is_final_fragment(wsi), first;

	if (c->rx_dead || !c->w)
		return 0;
	c->last_rx_us = srv_now_us();
	if (lws_frame_is_binary(wsi)) {
		first = !c->in_binary;
		if (first)
			c->bin_len = 0;
		c->in_binary = !end;
		c->bin_len += len;
		if (c->bin_len > SESS_MAX_MESSAGE) {
			refuse_oversized(c, c->bin_len);
			return 0;
		}
		flow_pause(c, worker_push_audio(c->w, in, len, first, end));
		return 0;
	}
	if (!c->in_text)
		c->text_len = 0;
	c->in_text = !end;
	if (c->text_len + len > SESS_MAX_MESSAGE) {
		refuse_oversized(c, c->text_len + len);
		return 0;
	}
	if (text_append(c, in, len)) {
		srv_log("conn=%u error what=out-of-memory", c->id);
		return -1;
	}
	if (end)
		worker_push_text(c->w, c->text ? c->text : "", c->text_len);
	return 0;
}

static int close_with(struct conn *c, struct lws *wsi, int code)
{
	c->our_code = code;
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)CLOSE_REASON,
			 strlen(CLOSE_REASON));
	return -1;
}

/* Sends one queued item; -1 has lws close the connection. */
static int on_writeable(struct conn *c, struct lws *wsi)
{
	struct sess_out *o;
	int rc = 0;

	if (c->closing)
		return close_with(c, wsi, CLOSE_GOING_AWAY);
	o = c->w ? worker_pop(c->w) : NULL;
	if (!o)
		return 0;
	if (o->kind == SESS_OUT_CLOSE)
		rc = close_with(c, wsi, o->code);
	else if (lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
		rc = -1;
	sess_out_free(o);
	if (rc == 0 && worker_has_out(c->w))
		lws_callback_on_writable(wsi);
	return rc;
}

void conn_service_wake(void)
{
	for (struct conn *c = g_srv.conns; c; c = c->next) {
		if (!c->w || !c->wsi || c->finished)
			continue;
		if (c->rx_paused && worker_backlog(c->w) <= BACKLOG_LOW) {
			c->rx_paused = false;
			lws_rx_flow_control(c->wsi, 1);
			srv_log("conn=%u rx resumed", c->id);
		}
		if (worker_has_out(c->w))
			lws_callback_on_writable(c->wsi);
	}
	reap(false);
}

void conn_tick(int64_t now_us)
{
	int64_t idle_us = (int64_t)g_srv.idle_timeout_s * 1000000;

	for (struct conn *c = g_srv.conns; c; c = c->next) {
		if (c->finished || !c->wsi)
			continue;
		if (!c->upgraded) {
			/* a TCP connection that never completes its upgrade */
			if (now_us - c->accepted_us >= idle_us)
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			continue;
		}
		if (!c->w || c->idle_sent || c->rx_dead)
			continue;
		/* audio waiting for the decoder is not idleness */
		if (c->rx_paused || worker_backlog(c->w) > 0)
			c->last_rx_us = now_us;
		if (now_us - c->last_rx_us >= idle_us) {
			c->idle_sent = true;
			c->rx_dead = true;
			worker_push_idle(c->w, g_srv.idle_timeout_s);
		}
	}
	conn_service_wake();
}

void conn_shutdown_all(void)
{
	for (struct conn *c = g_srv.conns; c; c = c->next) {
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

void conn_reap_all(void)
{
	struct conn *c, *next;

	for (c = g_srv.conns; c; c = next) {
		next = c->next;
		conn_finish(c);		/* never adopted (lws destroyed the rest) */
	}
	reap(true);
}

static int on_http(struct lws *wsi)
{
	if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
				   "pw-transcribe-server speaks WebSocket only: "
				   "ws://HOST:PORT/transcribe-websocket"))
		return -1;
	return lws_http_transaction_completed(wsi);
}

int conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		  void *user, void *in, size_t len)
{
	struct conn *c = lws_get_opaque_user_data(wsi);
	const unsigned char *b = in;

	if (c && c->magic != CONN_MAGIC)
		c = NULL;

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		if (c)
			c->wsi = wsi;
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (!c || g_srv.quit)
			return -1;
		read_request(c, wsi);
		return 0;
	case LWS_CALLBACK_HTTP:
		return on_http(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return c ? on_established(c) : -1;
	case LWS_CALLBACK_RECEIVE:
		return c ? on_receive(c, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? on_writeable(c, wsi) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c)
			c->peer_code = len >= 2 ? (b[0] << 8) | b[1] : 1005;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c)
			conn_finish(c);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
