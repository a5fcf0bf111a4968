/* fs-fault: fault specs of the fault server and the per-connection table.
 *
 * A spec is a comma-separated list of items (grammar and meaning are
 * documented at the top of fault-server.c):
 *
 *   item   = name [ "=" value ] [ "@" ms ] *( ";" param "=" value )
 *   e.g.     http=503;retry_after=2   rst@1500   close=1011@800
 *            error=503@1000;close=1011   stall@500;for=3000   limit=60000   idle=20000
 *
 * The table maps a 1-based connection index (or "all connections without
 * their own entry") to a spec. Single-threaded (the server's service loop).
 */
#ifndef FS_FAULT_H
#define FS_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fault_kind {
	FAULT_RST,		/* TCP reset (SO_LINGER 0 + close) */
	FAULT_FIN,		/* TCP FIN, no WebSocket close frame */
	FAULT_CLOSE,		/* WebSocket close with code */
	FAULT_ERROR,		/* error JSON, then close */
	FAULT_LIMIT,		/* session limit: error 503 JSON, then close */
	FAULT_STALL,		/* stop reading and writing (half-open) */
	FAULT_MUTE,		/* keep reading, never answer again */
	FAULT_GARBAGE,		/* non-JSON text frame + oversized binary frame */
	FAULT_OVERSIZED,	/* one huge (valid JSON) text frame */
	/* hostile services (issue 18): what a broken or malicious service sends */
	FAULT_BIGBINARY,	/* one binary message of `bytes` */
	FAULT_TOKENS,		/* one response with `count` final tokens */
	FAULT_TIMES,		/* a final token with absurd times (`variant`) */
	FAULT_BADUTF8,		/* a response whose token text is not UTF-8 */
	FAULT_PARTIALS,		/* `count` responses with words in progress, back to back */
	FAULT_FINALS,		/* `count` responses with one final word each, back to back */
	FAULT_PINGS,		/* `count` WebSocket pings, back to back */
	FAULT_RAWCLOSE,		/* a close frame with any code (or a short/empty payload) */
};

/* times=<variant> */
enum fault_times {
	TIMES_HUGE,		/* start/end near 2^40 */
	TIMES_NEGATIVE,		/* -5000..-4000 */
	TIMES_REVERSED,		/* start 5000 > end 100 */
	TIMES_BEYOND,		/* 10 min past the audio received */
	TIMES_FLOAT,		/* 1.5e300 */
	TIMES_STRING,		/* "abc" */
	TIMES_DECREASING,	/* a final, then one earlier than it */
	TIMES_PROGRESS,		/* final/total_audio_proc_ms near 2^40 */
};

#define RAWCLOSE_SHORT		(-1)	/* a one-byte close payload */
#define RAWCLOSE_EMPTY		(-2)	/* a close frame without payload */

#define FAULT_MAX_ITEMS		16
#define FAULT_SPEC_MAX		256

struct fault_item {
	enum fault_kind kind;
	int64_t at_ms;		/* fires once received audio >= at_ms */
	int code;		/* close / error code */
	int close_code;		/* error, limit: WebSocket close code after the JSON */
	int64_t for_ms;		/* stall: resume after this long (0 = never) */
	int64_t bytes;		/* garbage, oversized, bigbinary: frame size */
	int64_t count;		/* tokens, partials, finals, pings */
	int64_t step;		/* finals: ms between tokens (0 = spread over the audio) */
	int variant;		/* times: enum fault_times */
	bool fired;
};

struct fault_spec {
	char text[FAULT_SPEC_MAX];	/* as given, for logs */
	int http_status;		/* reject the upgrade (0 = no) */
	int retry_after;		/* seconds, -1 = no header */
	int64_t delay_accept_ms;	/* hold the connection before the upgrade */
	int64_t idle_ms;		/* no message for this long (wall clock): error 408 */
	size_t n_items;
	struct fault_item items[FAULT_MAX_ITEMS];
};

/* Parses text into *out (empty text or "none" = no faults). On error returns
 * -EINVAL and writes a one-line reason into err. */
int fault_parse(const char *text, struct fault_spec *out, char *err, size_t errlen);

/* Name of a kind for logs ("rst", "close", ...), of a times= variant. */
const char *fault_kind_name(enum fault_kind k);
const char *fault_times_name(int variant);

#define FAULT_INDEX_ALL		0	/* table key: every connection without its own entry */

struct fault_table;

struct fault_table *fault_table_new(void);
void fault_table_free(struct fault_table *t);
/* Sets (replaces) the spec for index; returns -ENOMEM on failure. */
int fault_table_set(struct fault_table *t, unsigned index, const struct fault_spec *s);
/* The spec for connection index (its own, else the "all" one), or NULL. */
const struct fault_spec *fault_table_get(const struct fault_table *t, unsigned index);

#endif
