/* A speech service's wire protocol ("dialect"): what to send, how to parse
 * what comes back, and how its errors classify. Pure: no I/O, no clock, no
 * threads; the transport sends what these functions build. The shell never
 * asks which dialect it runs: everything that differs between services is
 * a field or a hook here (auth scheme, config in the URL or a message,
 * audio framing, readiness, progress, the committed position C, finalize,
 * end of stream, keepalive, the session cap).
 *
 * Wire facts: doc/protocols/<name>.md. Worker thread only (no global
 * state, so any thread in tests).
 */
#ifndef TRANSCRIBE_DIALECT_H
#define TRANSCRIBE_DIALECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errclass.h"
#include "transcript.h"

#define DIALECT_MAX_TOKENS	256
#define DIALECT_MSG_MAX		256
#define DIALECT_MAX_HINTS	8
/* Items whose audio span a connection remembers (see dialect_conn). */
#define DIALECT_CONN_ITEMS	16
#define DIALECT_ITEM_ID_MAX	64
#define DIALECT_PARTIAL_MAX	TOKEN_TEXT_MAX

struct dialect_params {
	const char *model;		/* e.g. "stt-rt-v5" */
	uint32_t rate;
	uint32_t channels;
	uint32_t n_language_hints;
	const char *language_hints[DIALECT_MAX_HINTS];
	bool diarization;
	bool language_identification;
	bool endpoint_detection;
	const char *client_reference_id;	/* may be NULL */
};

/* One parsed server message. About 90 KB: allocate it, never on a stack. */
struct dialect_result {
	uint32_t n_tokens;
	uint32_t n_dropped;		/* tokens beyond DIALECT_MAX_TOKENS (non-finals go first) */
	bool saw_fin;			/* a finalize request is complete */
	bool saw_end;			/* endpoint detection closed an utterance */
	struct transcript_token tokens[DIALECT_MAX_TOKENS];	/* finals first, then non-finals */
	/* The committed position C on the connection's clock: all audio
	 * before it is final and will not be said again (Soniox
	 * final_audio_proc_ms; Deepgram start+duration of an is_final result;
	 * OpenAI the audio_end_ms of an item whose transcript completed; vosk
	 * the end of a result's last word). -1 when the message moves none. */
	int64_t final_audio_proc_ms;
	/* How far the service has heard (its progress counter), -1: absent. */
	int64_t total_audio_proc_ms;
	bool ready;			/* the service acknowledged the config */
	bool alive;			/* a reply that proves the service works
					 * though it carries no words and no counter
					 * (vosk answers every audio message) */
	bool finished;			/* last message after end of stream */
	bool has_error;
	int error_code;			/* service's own number (Soniox: HTTP-like); 0 when absent */
	enum err_class error_class;
	char error_type[64];		/* stable slug when the service gives one */
	char error_message[DIALECT_MSG_MAX];
};

/* A control message to send: text or binary, possibly empty. */
struct dialect_message {
	bool text;
	size_t len;
	const char *data;		/* static storage */
};

/* What a dialect remembers of one connection, for protocols whose messages
 * refer to earlier ones (OpenAI: an item's audio span comes in
 * speech_started/speech_stopped, its text later in deltas and a completed
 * event). Zeroed (dialect_conn_reset) for every new connection; stateless
 * dialects ignore it. */
struct dialect_item {
	char id[DIALECT_ITEM_ID_MAX];
	int64_t start_ms;		/* -1: not known */
	int64_t end_ms;
	bool pending;			/* committed, transcript not yet in */
	bool completed;			/* its transcript is in */
};

struct dialect_conn {
	uint32_t n_items;		/* ring of the latest items */
	uint32_t next_item;
	struct dialect_item items[DIALECT_CONN_ITEMS];
	char partial_item[DIALECT_ITEM_ID_MAX];	/* whose deltas partial holds */
	char partial[DIALECT_PARTIAL_MAX];	/* the deltas so far */
	int64_t heard_ms;		/* latest audio time the service named */
};

void dialect_conn_reset(struct dialect_conn *c);

struct dialect_ops {
	const char *name;
	/* True: `streaming` as soon as the config message is written (no ack,
	 * or an ack that only comes after audio, as Deepgram's first result:
	 * waiting for it would hold the audio it waits for). Else streaming
	 * starts at a result with ready set. */
	bool ready_without_ack;
	/* The service's own session cap in seconds (0: none known); the
	 * default of service.max-session-sec rolls over before it. */
	uint32_t max_session_sec;
	/* The only sample rate the service takes (0: any): config-check
	 * refuses another audio.rate naming the key. */
	uint32_t required_rate;
	/* How long the service may say nothing while it hears speech (OpenAI
	 * is silent until the voice detector ends an utterance): the default
	 * of liveness.stall-timeout-ms is not shorter. 0: it answers as it
	 * hears. */
	uint32_t quiet_in_speech_ms;
	/* A response header in which the service says why it refused the
	 * upgrade (Deepgram "dg-error"); NULL: none. The body, where others
	 * say it, is not read by lws for a failed upgrade. */
	const char *upgrade_error_header;
	/* Authorization header value for the upgrade ("Bearer <key>"), or -ENOTSUP
	 * when the key does not travel in a header. Returns length or -errno
	 * (-EINVAL: empty key or control characters; -ENOSPC: buf wiped). */
	int (*auth_header)(const char *api_key, char *buf, size_t size);
	/* First text message (config); returns length, 0 for none, or -errno
	 * (-ENOSPC when buf is too small). api_key may be NULL; only a dialect
	 * whose service takes the key nowhere else puts it in the message
	 * (Soniox does not: its key goes only in the Authorization header). */
	int (*build_config)(const struct dialect_params *p, const char *api_key,
			char *buf, size_t size);
	/* Config that travels in the URL's query (Deepgram): appended to the
	 * URL's path, starting with '?' or '&' as the path needs (has_query).
	 * NULL: none. Returns length or -errno (-ENOSPC: buf too small). */
	int (*build_query)(const struct dialect_params *p, bool has_query,
			char *buf, size_t size);
	/* Audio framing: NULL sends the PCM as binary messages. Else builds
	 * one text message carrying pcm[0..len) (OpenAI: base64 in JSON);
	 * buf holds at least DIALECT_AUDIO_FRAME_MAX(len). Returns length or
	 * -errno. */
	int (*frame_audio)(const void *pcm, size_t len, char *buf, size_t size);
	/* Parses one complete text message. conn: this connection's memory
	 * (never NULL for stateful dialects; stateless ones take NULL). Never
	 * crashes on bad input: returns 0, or -EINVAL with err filled (the
	 * message is then ignored). On 0, err may still say what was dropped
	 * (see n_dropped). */
	int (*parse)(struct dialect_conn *conn, const char *msg, size_t len,
			struct dialect_result *out, char *err, size_t err_size);
	struct dialect_message keepalive;	/* len 0 and data NULL: none */
	struct dialect_message finalize;
	struct dialect_message end_of_stream;
	/* Keepalive period while no audio flows, ms (0: none needed). */
	uint32_t keepalive_ms;
};

/* Room for one framed audio message of len PCM bytes (base64 + JSON). */
#define DIALECT_AUDIO_FRAME_MAX(len)	(((len) + 2) / 3 * 4 + 128)

/* The dialect called name, or NULL. */
const struct dialect_ops *dialect_find(const char *name);
/* "soniox, deepgram, ..." for messages. */
const char *dialect_names(void);
/* "<scheme> <key>" into buf for an Authorization header. Returns length or
 * -EINVAL (empty key, control characters) or -ENOSPC (buf wiped). */
int dialect_auth_value(const char *scheme, const char *api_key, char *buf, size_t size);

extern const struct dialect_ops dialect_soniox;
extern const struct dialect_ops dialect_deepgram;
extern const struct dialect_ops dialect_openai_realtime;
extern const struct dialect_ops dialect_vosk;

#endif
