/* srv-io: the WebSocket traffic of one connection (lws service thread):
 * messages reassembled and handed to the session whole (srv-exec.h),
 * the size limit, flow control towards the session's thread, and what the
 * session queued performed in order: messages, close, reset, FIN, stall. */
#include "srv-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "srv-log.h"

_Static_assert(LWS_PRE <= SRV_OUT_PRE, "srv-out leaves too little room before payloads");

#define MAX_MESSAGE		(1024 * 1024)	/* bigger messages are refused */
/* lws 4.1.6's LWS_WRITE_CLOSE, kept out of its public header: a close frame
 * with the payload given, valid or not. Only the fault server asks for it. */
#define LWS_WRITE_CLOSE_RAW	((enum lws_write_protocol)4)
#define CLOSE_TOO_BIG		1009

/* Reading is off while the session's thread is behind or a stall lasts. */
static void rx_update(struct srv_conn *c)
{
	bool off = c->rx_paused || c->stalled || (c->x && exec_paused(c->x));

	if (off != c->rx_off && c->wsi) {
		c->rx_off = off;
		lws_rx_flow_control(c->wsi, off ? 0 : 1);
	}
}

void srv_io_pump(struct srv_conn *c)
{
	rx_update(c);
	if (c->x && (c->cur || exec_has_out(c->x)))
		lws_callback_on_writable(c->wsi);
}

void srv_io_error(struct srv_conn *c, int code, const char *type, int close, const char *msg)
{
	struct srv_error e;

	srv_error_set(&e, code, type, close, "%s", msg);
	exec_error(c->x, &e);
}

/* The connection's budget: what it holds for this peer (input waiting for
 * the session's thread, output waiting for the peer to read it). Reading
 * pauses above SRV_BACKLOG_HIGH and resumes at SRV_BACKLOG_LOW; a message
 * being reassembled adds at most MAX_MESSAGE. */
void srv_io_flow(struct srv_conn *c)
{
	size_t held;

	if (!c->x)
		return;
	held = exec_backlog(c->x) + exec_out_bytes(c->x);
	if (!c->rx_paused && held > SRV_BACKLOG_HIGH) {
		c->rx_paused = true;
		exec_want_resume(c->x, SRV_BACKLOG_LOW);	/* a wake when its input drained */
		srv_log_limited(&c->rl_flow, "conn=%u rx paused backlog=%zu", c->id, held);
	} else if (c->rx_paused && held <= SRV_BACKLOG_LOW) {
		c->rx_paused = false;
		srv_log_limited(&c->rl_flow, "conn=%u rx resumed", c->id);
	}
	rx_update(c);
}

/* Refused before any of it is buffered or decoded. */
static void refuse_oversized(struct srv_conn *c, size_t bytes)
{
	char msg[160];

	c->rx_dead = true;
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
	snprintf(msg, sizeof(msg), "Message of %zu bytes or more refused (limit %d); "
		 "send audio in smaller chunks.", bytes, MAX_MESSAGE);
	srv_io_error(c, 400, "message_too_large", CLOSE_TOO_BIG, msg);
}

static int rx_append(struct srv_conn *c, const void *in, size_t len)
{
	if (c->rx_len + len + 1 > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 4096;
		unsigned char *r;

		while (cap < c->rx_len + len + 1)
			cap *= 2;
		r = realloc(c->rx, cap);
		if (!r)
			return -1;
		c->rx = r;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	c->rx[c->rx_len] = '\0';
	return 0;
}

/* A whole message goes to the session at once; its buffer with it. */
static void deliver(struct srv_conn *c)
{
	unsigned char *buf = c->rx ? c->rx : calloc(1, 1);
	size_t len = c->rx_len;

	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
	if (!buf) {
		srv_log("conn=%u error what=out-of-memory", c->id);
		return;
	}
	if (c->rx_binary)
		exec_binary(c->x, buf, len);
	else
		exec_text(c->x, (char *)buf, len);
	srv_io_flow(c);
}

int srv_io_receive(struct srv_conn *c, struct lws *wsi, const void *in, size_t len)
{
	if (c->rx_dead || c->stalled || !c->x || exec_done(c->x))
		return 0;
	c->last_rx_us = srv_now_us();
	if (!c->in_message) {
		c->rx_len = 0;
		c->rx_binary = lws_frame_is_binary(wsi);
	}
	c->in_message = !lws_is_final_fragment(wsi);
	/* the frame's size is known from its header: no need to read it first */
	if (c->rx_len + len + lws_remaining_packet_payload(wsi) > MAX_MESSAGE) {
		refuse_oversized(c, c->rx_len + len + lws_remaining_packet_payload(wsi));
		srv_io_pump(c);
		return 0;
	}
	if (rx_append(c, in, len)) {
		srv_log("conn=%u error what=out-of-memory", c->id);
		return -1;
	}
	if (!c->in_message)
		deliver(c);
	srv_io_pump(c);
	return 0;
}

/* The reason is the dialect's (Deepgram's "NET-0001 ..."), else our name. */
static int close_with(struct srv_conn *c, struct lws *wsi, int code, const char *reason, size_t len)
{
	if (!len) {
		reason = c->srv->cfg.name;
		len = strlen(reason);
	}
	c->our_code = code;
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, len);
	return -1;
}

static void resume_session(struct sess *s, void *arg)
{
	(void)arg;
	sess_pause(s, false);
}

static void stall_end_cb(lws_sorted_usec_list_t *sul)
{
	struct srv_conn *c = lws_container_of(sul, struct srv_conn, sul_stall);

	srv_log("conn=%u stall end", c->id);
	c->stalled = false;
	exec_call(c->x, resume_session, NULL);
	srv_io_pump(c);
}

/* The kill skips lws's shutdown(SHUT_WR), which would send a FIN first. */
static void hang_up(struct srv_conn *c, struct lws *wsi, bool reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd = lws_get_socket_fd(wsi);

	if (reset && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		srv_log("conn=%u error what=so-linger errno=%d", c->id, errno);
	if (!reset)
		shutdown(fd, SHUT_WR);
	c->killed = true;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Performs one queued item; -1 has lws close the connection. */
static int perform(struct srv_conn *c, struct lws *wsi, struct srv_out *o)
{
	switch (o->kind) {
	case SRV_OUT_TEXT:
	case SRV_OUT_BINARY:
		if (!c->stalled &&
		    lws_write(wsi, srv_out_payload(o), o->len,
			      o->kind == SRV_OUT_TEXT ? LWS_WRITE_TEXT : LWS_WRITE_BINARY) < (int)o->len)
			return -1;
		return 0;
	case SRV_OUT_CLOSE:
		return close_with(c, wsi, o->code, (const char *)srv_out_payload(o), o->len);
	case SRV_OUT_RST:
	case SRV_OUT_FIN:
		hang_up(c, wsi, o->kind == SRV_OUT_RST);
		return 0;
	case SRV_OUT_PING:
		if (!c->stalled && lws_write(wsi, srv_out_payload(o), o->len, LWS_WRITE_PING) < 0)
			return -1;
		return 0;
	case SRV_OUT_RAW_CLOSE:
		/* whatever the payload says, then a FIN: lws_close_reason()
		 * always writes a two-byte code */
		if (lws_write(wsi, srv_out_payload(o), o->len, LWS_WRITE_CLOSE_RAW) < 0)
			return -1;
		c->our_code = o->len >= 2 ? (srv_out_payload(o)[0] << 8) | srv_out_payload(o)[1] : 0;
		hang_up(c, wsi, false);
		return 0;
	case SRV_OUT_STALL:
		c->stalled = true;
		rx_update(c);
		srv_log("conn=%u stall begin for_ms=%" PRId64, c->id, o->for_ms);
		if (o->for_ms > 0)
			lws_sul_schedule(c->srv->ctx, 0, &c->sul_stall, stall_end_cb,
					 o->for_ms * LWS_US_PER_MS);
		return 0;
	}
	return 0;
}

int srv_io_writeable(struct srv_conn *c, struct lws *wsi)
{
	struct srv_out *o;
	int rc;

	if (c->closing)
		return close_with(c, wsi, c->srv->cfg.shutdown_code, NULL, 0);
	if (c->killed)
		return 0;
	o = c->cur ? c->cur : c->x ? exec_pop(c->x) : NULL;
	c->cur = NULL;
	if (!o)
		return 0;
	rc = perform(c, wsi, o);
	if (rc == 0 && o->repeat > o->index && !c->killed) {
		o->index++;		/* the same item again, next time */
		o->refill(o);
		c->cur = o;
	} else {
		srv_out_free(o);
	}
	if (rc == 0 && (c->cur || exec_has_out(c->x)))
		lws_callback_on_writable(wsi);
	if (rc == 0 && c->rx_paused)
		srv_io_flow(c);		/* the peer read some: maybe read again */
	return rc;
}
