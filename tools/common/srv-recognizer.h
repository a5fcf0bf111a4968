/* srv-recognizer: the table a server fills to plug a recognizer into the
 * session (srv-session.h). pw-transcribe-server plugs in pocketsphinx
 * (tools/server/recognizer.c), the fault server a deterministic tone
 * recognizer (tests/faults/fs-recognizer.c).
 *
 * A recognizer stream is fed 16-bit mono samples at the stream's rate and
 * reports words with times in ms of that audio (0 = the first sample fed).
 * Every call on one stream comes from one thread at a time (the session's);
 * open/close may run on several sessions' threads at once.
 */
#ifndef SRV_RECOGNIZER_H
#define SRV_RECOGNIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_WORD_MAX		64
#define SRV_SPEAKER_MAX		8

enum srv_word_kind {
	SRV_WORD,		/* a recognized word */
	SRV_MARK_END,		/* end of an utterance (endpoint detection) */
	SRV_MARK_FIN,		/* everything before is final after a finalize */
};

struct srv_word {
	enum srv_word_kind kind;
	char text[SRV_WORD_MAX];	/* without leading space */
	uint64_t start_ms, end_ms;
	double confidence;		/* 0..1, or < 0 when unknown */
	char speaker[SRV_SPEAKER_MAX];	/* "" = no label */
};

/* Final words, in order (n may be 0). utterance_end: the recognizer heard
 * the speech end, so a client that asked for endpoint detection gets a
 * marker after them. */
typedef void (*srv_final_fn)(void *data, const struct srv_word *words, size_t n,
			     bool utterance_end);

struct srv_stream_params {
	unsigned conn_id;	/* for log lines ("conn=<id> ...") */
	unsigned rate;		/* Hz */
	bool diarize;		/* the client asked for speaker labels */
	unsigned init_ms;	/* out: time spent creating a decoder (0: one was ready) */
};

struct srv_recognizer {
	const char *name;	/* for messages, e.g. "pocketsphinx en-us" */
	unsigned rate;		/* the one rate it takes; 0 = any the dialect allows */
	/* A stream, or NULL (logged) when none can be made. */
	void *(*open)(void *ctx, struct srv_stream_params *p);
	void (*close)(void *r);
	/* Feed n samples; fn gets every batch of words that became final.
	 * 0, or < 0 when the recognizer failed (the stream is then unusable). */
	int (*feed)(void *r, const int16_t *pcm, size_t n, srv_final_fn fn, void *data);
	/* Makes everything fed so far final now; audio may continue. */
	int (*finalize)(void *r, srv_final_fn fn, void *data);
	/* The words in progress (not final), at most max. */
	size_t (*partial)(void *r, struct srv_word *out, size_t max);
	/* NULL = always: partial() is worth asking. */
	bool (*in_utterance)(void *r);
	uint64_t (*total_ms)(void *r);	/* audio processed */
	uint64_t (*final_ms)(void *r);	/* audio up to which nothing can change; never decreases */
};

#endif
