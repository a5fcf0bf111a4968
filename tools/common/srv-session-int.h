/* srv-session-int: the session object, shared by srv-session.c (audio,
 * results, controls, the end) and srv-session-start.c (configuration and
 * the start of the stream). Not for anyone else: they see srv-session.h. */
#ifndef SRV_SESSION_INT_H
#define SRV_SESSION_INT_H

#include "srv-session.h"

#define MAX_PARTIAL_WORDS	256
#define CLOSE_NORMAL		1000
#define CLOSE_INTERNAL		1011

enum sess_state { ST_CONFIG, ST_STREAMING, ST_DONE };

struct sess {
	unsigned id;
	const struct sess_params *p;
	const struct srv_recognizer *rc;
	void *priv;
	enum srv_auth auth;
	enum sess_state state;
	struct srv_stream_cfg cfg;
	struct srv_dialect_state dst;	/* the dialect's counters */

	void *rec;
	unsigned init_ms;
	uint64_t ready_cpu_ms;
	unsigned char carry[4];		/* a partial input frame between messages */
	size_t carry_len;
	int16_t *mono;			/* scratch: mono input */
	size_t mono_cap;
	uint64_t in_frames;		/* input frames received */

	struct srv_word *finals;	/* final words of the next response */
	size_t n_finals, cap_finals;
	struct srv_word partial[MAX_PARTIAL_WORDS];	/* current words in progress */
	size_t n_partial;
	uint64_t partial_hash;
	bool dirty;			/* the words in progress changed since the last response */
	uint64_t last_resp_ms, last_partial_ms, sent_final_ms;
	unsigned n_final_words;
	bool paused, muted;
	bool has_slot;

	struct srv_outq out;
};

/* srv-session.c */
/* What a dialect function queued (rc < 0: it ran out of memory). */
void sess_push_dialect(struct sess *s, struct srv_outq *q, int rc);
/* sess_send_error() with a fixed message. */
void sess_fail(struct sess *s, int code, const char *type, int close, const char *msg);

/* srv-session-start.c */
/* Audio before any config: the dialect's defaults where it has them, else
 * error 400. True when the stream takes audio now. */
bool sess_ready_for_audio(struct sess *s);
/* Before the stream is configured: true when msg was taken as the config
 * (or refused); false lets the control be acted on. */
bool sess_config_first(struct sess *s, enum srv_ctl ctl, const char *msg, size_t len);

#endif
