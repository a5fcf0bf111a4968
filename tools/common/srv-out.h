/* srv-out: what a session asks its connection to do, in order: send a text
 * or binary message, close with a code, or (fault injection) reset the TCP
 * connection, send a FIN without a close frame, stall. Items are made by
 * the session's thread and performed by the lws service thread; a queue
 * is owned by one thread at a time (the caller locks when it crosses). */
#ifndef SRV_OUT_H
#define SRV_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes kept free before every payload (lws_write needs LWS_PRE of them;
 * srv-conn.c checks that this is enough). */
#define SRV_OUT_PRE	32

enum srv_out_kind {
	SRV_OUT_TEXT,
	SRV_OUT_BINARY,
	SRV_OUT_CLOSE,		/* WebSocket close frame with code (and the payload as
				 * its reason, if any), then hang up */
	SRV_OUT_RST,		/* hang up with a TCP reset */
	SRV_OUT_FIN,		/* hang up with a TCP FIN, no close frame */
	SRV_OUT_STALL,		/* stop reading and writing; resume after for_ms if > 0 */
	SRV_OUT_PING,		/* a WebSocket ping with the payload (at most 125 bytes) */
	SRV_OUT_RAW_CLOSE,	/* a close frame with the payload as it is (any code, or
				 * none), then hang up: for hostile tests */
};

struct srv_out {
	struct srv_out *next;
	enum srv_out_kind kind;
	int code;		/* CLOSE */
	int64_t for_ms;		/* STALL */
	size_t len;		/* TEXT/BINARY/PING/RAW_CLOSE/CLOSE payload length */
	unsigned char *buf;	/* those: SRV_OUT_PRE + cap + 1 bytes; payload at
				 * buf + SRV_OUT_PRE, NUL-terminated */
	size_t cap;		/* payload room (>= len) */
	/* Sent 1 + repeat times; before each repetition refill() rewrites
	 * the payload (up to cap bytes, setting len) for index 1, 2, ... */
	uint64_t repeat, index;
	void (*refill)(struct srv_out *o);
	int64_t arg[4];		/* for refill */
};

struct srv_outq {
	struct srv_out *head, *tail;
	size_t bytes;		/* payload bytes queued */
};

/* A new item; data may be NULL (payload left zeroed for the caller to
 * fill). NULL when out of memory. */
struct srv_out *srv_out_new(enum srv_out_kind kind, const void *data, size_t len);
/* The same with room for cap >= len payload bytes (for refill). */
struct srv_out *srv_out_new_cap(enum srv_out_kind kind, const void *data, size_t len, size_t cap);
static inline bool srv_out_has_payload(enum srv_out_kind kind)
{
	return kind == SRV_OUT_TEXT || kind == SRV_OUT_BINARY || kind == SRV_OUT_PING ||
	       kind == SRV_OUT_RAW_CLOSE || kind == SRV_OUT_CLOSE;
}
void srv_out_free(struct srv_out *o);

static inline unsigned char *srv_out_payload(struct srv_out *o)
{
	return o->buf + SRV_OUT_PRE;
}

void srv_outq_push(struct srv_outq *q, struct srv_out *o);
/* Head of the queue, or NULL. */
struct srv_out *srv_outq_pop(struct srv_outq *q);
/* Moves every item of from to the end of to. */
void srv_outq_move(struct srv_outq *to, struct srv_outq *from);
void srv_outq_clear(struct srv_outq *q);

#endif
