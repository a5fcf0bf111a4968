/* fs-ws: the fault server's connections: adoption, the upgrade (HTTP
 * rejects, auth), the WebSocket callbacks and the fault actions (close,
 * reset, FIN, stall). See the top of fault-server.c for the behaviour. */
#include "fs-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fs-log.h"

#define MAX_TEXT_MSG	(1024 * 1024)
#define CLOSE_REASON	"fault-server"

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void log_open_count(void)
{
	fs_log("connections open=%u", g_srv.open);
}

struct conn *conn_find(unsigned id)
{
	for (struct conn *c = g_srv.conns; c; c = c->next)
		if (c->id == id && !c->finished)
			return c;
	return NULL;
}

static void conn_free(struct conn *c)
{
	struct conn **pp;

	for (pp = &g_srv.conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	lws_sul_cancel(&c->sul_adopt);
	lws_sul_cancel(&c->sul_stall);
	sess_free(c->sess);
	free(c->text);
	c->magic = 0;
	free(c);
}

/* The connection is gone (wsi destroyed, or never adopted): log it once. */
static void conn_finish(struct conn *c)
{
	const char *by;
	int code;

	if (c->finished)
		return;
	c->finished = true;
	if (!c->upgraded) {
		code = 0;
		by = c->http_status || c->killed ? "server" : "peer";
	} else if (c->our_code) {
		code = c->our_code;
		by = "server";
	} else if (c->peer_code) {
		code = c->peer_code;
		by = "peer";
	} else {
		code = 1006;
		by = c->killed ? "server" : "peer";
	}
	if (c->http_status)
		fs_log("conn=%u closed code=%d by=%s http=%d", c->id, code, by, c->http_status);
	else
		fs_log("conn=%u closed code=%d by=%s audio_ms=%" PRIu64, c->id, code, by,
		       c->sess ? sess_audio_ms(c->sess) : 0);
	g_srv.open--;
	log_open_count();
	if (g_srv.open == 0)
		g_srv.idle_since_us = now_us();
	if (!c->adopting)
		conn_free(c);
}

static void conn_adopt(struct conn *c)
{
	lws_adopt_desc_t info;
	struct lws *wsi;

	memset(&info, 0, sizeof(info));
	info.vh = g_srv.vh;
	info.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL;
	info.fd.sockfd = c->fd;
	info.opaque = c;
	c->fd = -1;		/* lws owns it now, also on failure */
	c->adopting = true;
	wsi = lws_adopt_descriptor_vhost_via_info(&info);
	c->adopting = false;
	if (c->finished) {
		conn_free(c);		/* destroyed during the adoption */
	} else if (!wsi) {
		fs_log("conn=%u error what=adopt-failed", c->id);
		conn_finish(c);
	}
}

static void adopt_cb(lws_sorted_usec_list_t *sul)
{
	conn_adopt(lws_container_of(sul, struct conn, sul_adopt));
}

void conn_accepted(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[INET6_ADDRSTRLEN + 8] = "?";
	const struct fault_spec *spec;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		fs_log("error what=out-of-memory");
		return;
	}
	memset(&ss, 0, sizeof(ss));
	if (!getpeername(fd, (struct sockaddr *)&ss, &sl))
		inet_ntop(ss.ss_family, ss.ss_family == AF_INET6 ?
			  (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr :
			  (void *)&((struct sockaddr_in *)&ss)->sin_addr, peer, sizeof(peer));
	c->magic = CONN_MAGIC;
	c->id = ++g_srv.accepted;
	c->fd = fd;
	c->next = g_srv.conns;
	g_srv.conns = c;
	spec = fault_table_get(g_srv.faults, c->id);
	if (spec)
		c->spec = *spec;
	else
		fault_parse("", &c->spec, NULL, 0);
	g_srv.open++;
	fs_log("conn=%u accept peer=%s port=%u faults=%s", c->id, peer,
	       ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	       ntohs(((struct sockaddr_in *)&ss)->sin_port),
	       c->spec.text[0] ? c->spec.text : "none");
	log_open_count();
	if (c->spec.delay_accept_ms > 0) {
		fs_log("conn=%u fault delay_accept=%" PRId64, c->id, c->spec.delay_accept_ms);
		lws_sul_schedule(g_srv.ctx, 0, &c->sul_adopt, adopt_cb,
				 c->spec.delay_accept_ms * LWS_US_PER_MS);
		return;
	}
	conn_adopt(c);
}

void conn_release_pending(void)
{
	struct conn *c = g_srv.conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->fd >= 0) {
			close(c->fd);
			c->fd = -1;
			c->killed = true;
			conn_finish(c);
		}
	}
}

/* Reads path and Authorization before the upgrade; sanitized for logs. */
static void read_request(struct conn *c, struct lws *wsi, char *path, size_t plen)
{
	char auth[512], want[512];
	int n;

	n = lws_hdr_copy(wsi, path, (int)plen, WSI_TOKEN_GET_URI);
	if (n <= 0)
		snprintf(path, plen, "-");
	for (char *p = path; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			*p = '?';
	n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0) {
		c->auth = SESS_AUTH_MISSING;
		return;
	}
	if (!g_srv.sp.key) {
		c->auth = SESS_AUTH_OK;
		return;
	}
	snprintf(want, sizeof(want), "Bearer %s", g_srv.sp.key);
	c->auth = (!strncasecmp(auth, "bearer ", 7) && !strcmp(auth + 7, want + 7)) ?
		  SESS_AUTH_OK : SESS_AUTH_BAD;
}

/* Answers the upgrade request with status (and Retry-After) instead of 101. */
static int http_reject(struct conn *c, struct lws *wsi, int status, int retry_after)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;
	char body[160], ra[16];
	int blen, n;

	blen = snprintf(body, sizeof(body),
			"{\"error_code\":%d,\"error_message\":\"fault-server rejected the upgrade\"}\n",
			status);
	if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end))
		return -1;
	if (retry_after >= 0) {
		n = snprintf(ra, sizeof(ra), "%d", retry_after);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_RETRY_AFTER,
						 (unsigned char *)ra, n, &p, end))
			return -1;
	}
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (unsigned char *)"application/json", 16, &p, end) ||
	    lws_add_http_header_content_length(wsi, (lws_filepos_t)blen, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
					 (unsigned char *)"close", 5, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	memcpy(start, body, (size_t)blen);
	if (lws_write(wsi, start, (size_t)blen, LWS_WRITE_HTTP_FINAL) < 0)
		return -1;
	c->http_status = status;
	return 0;
}

static int on_confirm_upgrade(struct conn *c, struct lws *wsi)
{
	read_request(c, wsi, c->path, sizeof(c->path));
	fs_log("conn=%u upgrade path=%s auth=%s", c->id, c->path,
	       c->auth == SESS_AUTH_OK ? "ok" : c->auth == SESS_AUTH_BAD ? "bad" : "missing");
	if (c->spec.http_status) {
		if (c->spec.retry_after >= 0)
			fs_log("conn=%u fault http=%d retry_after=%d", c->id,
			       c->spec.http_status, c->spec.retry_after);
		else
			fs_log("conn=%u fault http=%d", c->id, c->spec.http_status);
		http_reject(c, wsi, c->spec.http_status, c->spec.retry_after);
		return -1;	/* hang up after the response */
	}
	if (g_srv.auth_http && g_srv.sp.key && c->auth != SESS_AUTH_OK) {
		fs_log("conn=%u reject http=401 reason=auth", c->id);
		http_reject(c, wsi, 401, -1);
		return -1;
	}
	return 0;
}

static void pump(struct conn *c)
{
	if (c->sess && sess_rx_paused(c->sess) && !c->rx_off) {
		c->rx_off = true;
		lws_rx_flow_control(c->wsi, 0);
	}
	if (c->sess && sess_has_out(c->sess))
		lws_callback_on_writable(c->wsi);
}

static int on_established(struct conn *c, struct lws *wsi)
{
	c->upgraded = true;
	c->last_rx_us = now_us();
	fs_log("conn=%u open path=%s auth=%s", c->id, c->path,
	       c->auth == SESS_AUTH_OK ? "ok" : c->auth == SESS_AUTH_BAD ? "bad" : "missing");
	c->sess = sess_new(c->id, &g_srv.sp, c->auth, &c->spec);
	if (!c->sess)
		return -1;
	sess_on_open(c->sess);
	pump(c);
	return 0;
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

static int on_receive(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	bool end = lws_is_final_fragment(wsi);
	bool first;

	if (!c->sess || c->stalled || sess_terminal(c->sess))
		return 0;
	c->last_rx_us = now_us();
	if (lws_frame_is_binary(wsi)) {
		first = !c->in_binary;
		c->in_binary = !end;
		sess_on_binary(c->sess, in, len, first, end);
	} else {
		if (!c->in_text)
			c->text_len = 0;
		c->in_text = !end;
		if (c->text_len + len > MAX_TEXT_MSG || text_append(c, in, len)) {
			fs_log("conn=%u error what=text-message-too-big", c->id);
			c->our_code = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
					 (unsigned char *)CLOSE_REASON, strlen(CLOSE_REASON));
			return -1;
		}
		if (end)
			sess_on_text(c->sess, c->text ? c->text : "", c->text_len);
	}
	pump(c);
	return 0;
}

static void stall_end_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_stall);

	fs_log("conn=%u stall end", c->id);
	c->stalled = false;
	c->rx_off = false;
	sess_resume(c->sess);
	lws_rx_flow_control(c->wsi, 1);
	pump(c);
}

/* Performs one queued item; returns -1 to have lws close the connection. */
static int on_writeable(struct conn *c, struct lws *wsi)
{
	struct sess_out *o = c->sess ? sess_pop(c->sess) : NULL;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd = lws_get_socket_fd(wsi), rc = 0;

	if (!o)
		return 0;
	switch (o->kind) {
	case SESS_OUT_TEXT:
	case SESS_OUT_BINARY:
		if (!c->stalled &&
		    lws_write(wsi, o->buf + LWS_PRE, o->len,
			      o->kind == SESS_OUT_TEXT ? LWS_WRITE_TEXT : LWS_WRITE_BINARY) < 0)
			rc = -1;
		break;
	case SESS_OUT_CLOSE:
		c->our_code = o->code;
		lws_close_reason(wsi, (enum lws_close_status)o->code,
				 (unsigned char *)CLOSE_REASON, strlen(CLOSE_REASON));
		rc = -1;
		break;
	case SESS_OUT_RST:
		/* close() with a zero linger sends RST; the timeout kill skips
		 * lws's shutdown(SHUT_WR), which would send a FIN first */
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
			fs_log("conn=%u error what=so-linger errno=%d", c->id, errno);
		c->killed = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		break;
	case SESS_OUT_FIN:
		shutdown(fd, SHUT_WR);
		c->killed = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		break;
	case SESS_OUT_STALL:
		c->stalled = true;
		fs_log("conn=%u stall begin for_ms=%" PRId64, c->id, o->for_ms);
		if (o->for_ms > 0)
			lws_sul_schedule(g_srv.ctx, 0, &c->sul_stall, stall_end_cb,
					 o->for_ms * LWS_US_PER_MS);
		break;
	}
	sess_out_free(o);
	if (rc == 0 && sess_has_out(c->sess))
		lws_callback_on_writable(wsi);
	return rc;
}

void conn_set_faults(struct conn *c, const struct fault_spec *spec)
{
	c->spec = *spec;
	if (c->sess) {
		sess_set_faults(c->sess, spec);
		pump(c);
	}
}

/* Under a stall nothing is read, so lws never notices the peer leaving:
 * look at the TCP state instead and drop the connection when the peer is gone. */
void conn_tick(struct conn *c)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);

	if (c->sess && c->spec.idle_ms > 0 && !c->stalled && !sess_terminal(c->sess) &&
	    now_us() - c->last_rx_us >= c->spec.idle_ms * 1000) {
		sess_idle_timeout(c->sess, c->spec.idle_ms);
		pump(c);
	}
	if (!c->stalled || c->killed || !c->wsi)
		return;
	if (getsockopt(lws_get_socket_fd(c->wsi), IPPROTO_TCP, TCP_INFO, &ti, &tl))
		return;
	if (ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE ||
	    ti.tcpi_state == TCP_LAST_ACK || ti.tcpi_state == TCP_CLOSING) {
		fs_log("conn=%u stall peer-gone", c->id);
		c->stalled = false;	/* reaped once; closes as code=1006 by=peer */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

static int on_http(struct lws *wsi)
{
	/* a plain HTTP request: this server only speaks WebSocket */
	if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "fault-server: WebSocket only"))
		return -1;
	return lws_http_transaction_completed(wsi);
}

int fs_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
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
		return c ? on_confirm_upgrade(c, wsi) : -1;
	case LWS_CALLBACK_HTTP:
		return on_http(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return c ? on_established(c, wsi) : -1;
	case LWS_CALLBACK_RECEIVE:
		return c ? on_receive(c, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? on_writeable(c, wsi) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c) {
			c->peer_code = len >= 2 ? (b[0] << 8) | b[1] : 1005;
			fs_log("conn=%u peer-close code=%d", c->id, c->peer_code);
		}
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
