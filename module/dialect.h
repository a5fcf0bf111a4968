/* A speech service's wire protocol ("dialect"): what to send, how to parse
 * what comes back, and how its errors classify. Pure: no I/O, no clock, no
 * threads; the transport sends what these functions build.
 *
 * Worker thread only (no global state, so any thread in tests).
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
	int64_t final_audio_proc_ms;	/* -1 when absent */
	int64_t total_audio_proc_ms;	/* -1 when absent */
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

struct dialect_ops {
	const char *name;
	/* True: `streaming` as soon as the config message is written (no ack). */
	bool ready_without_ack;
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
	/* Parses one complete text message. Never crashes on bad input: returns
	 * 0, or -EINVAL with err filled (the message is then ignored). On 0, err
	 * may still say what was dropped (see n_dropped). */
	int (*parse)(const char *msg, size_t len, struct dialect_result *out,
			char *err, size_t err_size);
	struct dialect_message keepalive;	/* len 0 and data NULL: none */
	struct dialect_message finalize;
	struct dialect_message end_of_stream;
	/* Keepalive period while no audio flows, ms (0: none needed). */
	uint32_t keepalive_ms;
};

const struct dialect_ops *dialect_find(const char *name);
extern const struct dialect_ops dialect_soniox;

#endif
