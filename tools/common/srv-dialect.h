/* srv-dialect: a wire dialect of the servers' session (srv-session.h) as a
 * table: how the stream's configuration arrives, what the client's control
 * messages mean, how results and errors are framed, and how a stream ends.
 * The session owns the protocol's state; a dialect only translates. Pure
 * functions, callable from any thread.
 *
 * Today: Soniox's real-time subset (srv-dialect-soniox.c). Others fit the
 * same table: Deepgram takes its configuration from the request's query
 * (parse_request), ends with {"type":"CloseStream"} and frames results as
 * "Results"; vosk's config message is optional and it answers every audio
 * message (see PROTOCOLS.md B/C).
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

/* What the client asked for. */
struct srv_stream_cfg {
	unsigned rate, channels;
	bool endpoint;			/* markers at utterance ends */
	bool diarize;			/* speaker labels */
	char model[SRV_MODEL_MAX + 1];	/* printable ASCII, for the log */
	char *api_key;			/* key given in the config (malloc'ed), or NULL */
};

/* An error to send: code and type in Soniox's terms (400 invalid_request,
 * 401 unauthenticated, ...), then the WebSocket close code. */
struct srv_error {
	int code;
	const char *type;
	char message[SRV_ERROR_MSG_MAX];
	int close;
};

enum srv_ctl {
	SRV_CTL_KEEPALIVE,
	SRV_CTL_FINALIZE,
	SRV_CTL_END,		/* end of audio: finish and close */
	SRV_CTL_INVALID,	/* not a control message: *err says why */
};

struct srv_result {
	const struct srv_word *finals;	/* new final words and markers */
	size_t n_finals;
	const struct srv_word *partials;	/* the words in progress */
	size_t n_partials;
	uint64_t final_ms, total_ms;	/* audio final so far, audio processed */
	bool finished;			/* the last result of the stream */
};

struct srv_dialect {
	const char *name;
	/* The request path (with its query) before the first message; 0, or
	 * -1 with *err. NULL: nothing to take from it. */
	int (*parse_request)(const char *path, struct srv_stream_cfg *cfg, struct srv_error *err);
	/* The first text message, when the dialect has one (NULL: the stream
	 * is configured once the upgrade is done). 0; -1 with *err when it is
	 * no configuration at all; -2 with *err when it is one with a bad field
	 * (cfg->api_key is set then, so a bad key is reported first). */
	int (*parse_config)(const char *msg, size_t len, struct srv_stream_cfg *cfg,
			    struct srv_error *err);
	/* Any later text message. */
	enum srv_ctl (*parse_control)(const char *msg, size_t len, struct srv_error *err);
	bool empty_binary_ends;		/* a zero-length binary message ends the stream */
	/* Outgoing messages; NULL when out of memory (or nothing to send). */
	struct srv_out *(*result)(const struct srv_result *r);
	struct srv_out *(*error)(const struct srv_error *e);
};

extern const struct srv_dialect srv_dialect_soniox;

/* Fills *e (message formatted like printf). */
void srv_error_set(struct srv_error *e, int code, const char *type, int close,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void srv_stream_cfg_clear(struct srv_stream_cfg *cfg);

#endif
