/* srv-dialect: a wire dialect of the servers' session (srv-session.h) as a
 * table: how the stream's configuration arrives (the request's query, a
 * first message, or either), what the client's text messages mean
 * (controls, or audio inside them), how acks, results and errors are
 * framed, and how a stream ends. The session owns the protocol's state;
 * a dialect only translates, with a few per-stream counters the session
 * keeps for it (struct srv_dialect_state). Pure functions, any thread.
 *
 * Dialects (srv_dialect_find()): soniox (srv-dialect-soniox.c), deepgram,
 * openai-realtime and vosk (srv-dialect-<name>.c); the wire facts of each
 * are at the top of its file and in PROTOCOLS.md / doc/protocols/.
 */
#ifndef SRV_DIALECT_H
#define SRV_DIALECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srv-out.h"
#include "srv-recognizer.h"

#define SRV_MODEL_MAX		64
#define SRV_ERROR_MSG_MAX	256
#define SRV_CLOSE_REASON_MAX	123	/* RFC 6455 5.5: a control frame's 125 bytes - the code */

/* What the client asked for. */
struct srv_stream_cfg {
	unsigned rate, channels;
	bool endpoint;			/* markers at utterance ends */
	bool diarize;			/* speaker labels */
	bool interim;			/* words in progress wanted (all but deepgram: always) */
	unsigned variant;		/* the dialect's own (e.g. which ack the client speaks) */
	char model[SRV_MODEL_MAX + 1];	/* printable ASCII, for the log */
	char *api_key;			/* key given in the config (malloc'ed), or NULL */
};

/* An error to send: code and type in Soniox's terms (400 invalid_request,
 * 401 unauthenticated, ...), then the WebSocket close code. Dialects frame
 * it their way (and may pick another close code, e.g. Deepgram's 1011). */
struct srv_error {
	int code;
	const char *type;
	char message[SRV_ERROR_MSG_MAX];
	int close;
	bool cap;			/* the service's session cap was reached */
};

enum srv_ctl {
	SRV_CTL_KEEPALIVE,
	SRV_CTL_FINALIZE,
	SRV_CTL_END,		/* end of audio: finish and close */
	SRV_CTL_CONFIG,		/* a configuration message (where it may come any time) */
	SRV_CTL_AUDIO,		/* audio inside the text message: *audio */
	SRV_CTL_IGNORE,		/* understood; nothing to do */
	SRV_CTL_INVALID,	/* not a control message: *err says why */
};

/* Audio decoded from a text message (malloc'ed; the caller frees data). */
struct srv_audio {
	unsigned char *data;
	size_t len;
};

/* Per stream, kept by the session for the dialect's result(): zeroed when
 * the session starts, conn_id set. */
struct srv_dialect_state {
	unsigned conn_id;
	unsigned items;			/* items (utterances) numbered so far */
	bool in_item;			/* speech started, its item not committed yet */
	uint64_t item_start_ms, item_end_ms;
	uint64_t events;		/* events numbered so far */
};

struct srv_result {
	const struct srv_word *finals;	/* new final words and markers */
	size_t n_finals;
	const struct srv_word *partials;	/* the words in progress */
	size_t n_partials;
	uint64_t final_ms, total_ms;	/* audio final so far, audio processed */
	uint64_t prev_final_ms;		/* final_ms of the previous result */
	bool finished;			/* the last result of the stream */
	bool per_audio;			/* vosk: the answer to one audio message */
};

struct srv_dialect {
	const char *name;
	/* The request's query (without '?', "" when none) before the upgrade
	 * is answered: 0, or -1 with *err (the upgrade is refused with
	 * err->code). NULL: nothing to take from it. */
	int (*parse_request)(const char *query, struct srv_stream_cfg *cfg, struct srv_error *err);
	/* A configuration message (NULL: the stream is configured by the
	 * request). 0; -1 with *err when it is no configuration at all; -2
	 * with *err when it is one with a bad field (cfg->api_key is set then,
	 * so a bad key is reported first). */
	int (*parse_config)(const char *msg, size_t len, struct srv_stream_cfg *cfg,
			    struct srv_error *err);
	/* Any text message once configured (and before, when config_optional).
	 * SRV_CTL_AUDIO fills *audio. */
	enum srv_ctl (*parse_control)(const char *msg, size_t len, struct srv_audio *audio,
				      struct srv_error *err);
	bool config_optional;		/* audio may come first: parse_request's defaults */
	bool key_in_config;		/* the config may carry the key (else a bad or missing
					 * Authorization is refused with HTTP 401 at the upgrade) */
	bool auth_token;		/* "Authorization: Token <key>" too (Deepgram) */
	bool empty_binary_ends;		/* a zero-length binary message ends the stream */
	bool binary_audio;		/* audio comes in binary messages */
	bool reply_per_audio;		/* exactly one result per audio message (vosk) */
	/* Outgoing messages, pushed to q; -1 when out of memory. All optional
	 * but result and error. */
	int (*opened)(struct srv_dialect_state *st, struct srv_outq *q);	/* after the upgrade */
	int (*configured)(const struct srv_stream_cfg *cfg, struct srv_dialect_state *st,
			  struct srv_outq *q);					/* the ack */
	int (*result)(const struct srv_result *r, const struct srv_stream_cfg *cfg,
		      struct srv_dialect_state *st, struct srv_outq *q);
	/* The error's messages and the close (an SRV_OUT_CLOSE item). */
	int (*error)(const struct srv_error *e, struct srv_dialect_state *st, struct srv_outq *q);
	/* The body (and Content-Type) of an HTTP answer instead of 101; NULL:
	 * {"error_code":status,"error_message":msg}. Returns the length. */
	int (*http_body)(int status, const char *msg, char *buf, size_t size);
	const char *http_error_header;	/* a header carrying msg too, or NULL */
};

extern const struct srv_dialect srv_dialect_soniox;
extern const struct srv_dialect srv_dialect_deepgram;
extern const struct srv_dialect srv_dialect_openai_realtime;
extern const struct srv_dialect srv_dialect_vosk;

/* By name ("soniox", "deepgram", "openai-realtime", "vosk"), or NULL. */
const struct srv_dialect *srv_dialect_find(const char *name);
/* "soniox|deepgram|openai-realtime|vosk", for usage lines. */
const char *srv_dialect_names(void);

/* Fills *e (message formatted like printf; cap false). */
void srv_error_set(struct srv_error *e, int code, const char *type, int close,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void srv_stream_cfg_clear(struct srv_stream_cfg *cfg);

/* Pushes a close with code and reason (may be NULL; cut to
 * SRV_CLOSE_REASON_MAX bytes at a UTF-8 boundary). -1 when out of memory. */
int srv_dialect_close(struct srv_outq *q, int code, const char *reason);

#endif
