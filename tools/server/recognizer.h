/* recognizer: pocketsphinx (0.8 "5prealpha") behind a small streaming API.
 *
 * A struct rec is one connection's decoder: it is fed 16 kHz mono S16
 * audio and reports words with times in ms of that audio (0 = the first
 * sample fed). pocketsphinx's voice activity detector splits the audio into
 * utterances; when one ends (ps_get_in_speech goes false after being true),
 * its words become final. rec_finalize() ends the utterance in progress at
 * once. Fillers (<s>, </s>, <sil>, [NOISE], [SPEECH]) are dropped and
 * alternate pronunciations lose their "(2)".
 *
 * Timing: pocketsphinx numbers frames (10 ms) from the start of its stream.
 * After a forced utterance end it misnumbers the frames of the next
 * utterance, so a forced end also restarts the stream and the recognizer
 * adds that restart's offset itself.
 *
 * Decoders are expensive to create (~0.25 s, ~95 MB each with the en-us
 * model), so a struct rec_pool keeps up to `spare` idle ones for reuse.
 * Threads: a rec is used by one thread at a time; the pool calls are
 * thread-safe.
 */
#ifndef SERVER_RECOGNIZER_H
#define SERVER_RECOGNIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_RATE		16000	/* what the en-us model wants */
#define REC_WORD_MAX		64
#define REC_MAX_UTTERANCE_MS	30000	/* longer speech is cut into utterances */
/* Audio older than this, outside an utterance, can no longer become part of
 * one (VAD start-up plus pre-speech padding, measured <= 0.45 s). */
#define REC_VAD_LOOKBACK_MS	1000

struct rec_model {
	const char *hmm;	/* acoustic model directory */
	const char *lm;		/* language model (.lm.bin / .lm) */
	const char *dict;	/* pronunciation dictionary */
};

struct rec_word {
	char text[REC_WORD_MAX];
	uint64_t start_ms, end_ms;
	double confidence;	/* posterior 0..1 for final words, -1 when unknown */
};

enum rec_end_reason {
	REC_END_SILENCE,	/* the VAD heard the speech stop */
	REC_END_TOO_LONG,	/* REC_MAX_UTTERANCE_MS reached */
	REC_END_FORCED,		/* rec_finalize() */
};

/* One call per finished utterance, with its words in order (n may be 0). */
typedef void (*rec_final_fn)(void *data, const struct rec_word *words, size_t n,
			     enum rec_end_reason why);

struct rec_pool;
struct rec;

/* Creates one decoder to check the model (fails fast with a message in err
 * naming the file to fix) and keeps it as the first spare. */
int rec_pool_new(const struct rec_model *m, unsigned spare, struct rec_pool **out,
		 char *err, size_t errlen);
/* All recs must be closed first. */
void rec_pool_free(struct rec_pool *p);

/* A decoder for a new stream: a spare one, else a new one (slow). Sets
 * *init_ms to the time spent creating it (0 for a spare). NULL on failure
 * (logged). Thread-safe. */
struct rec *rec_open(struct rec_pool *p, unsigned conn_id, unsigned *init_ms);
/* Returns the decoder to the pool (or frees it). Thread-safe. */
void rec_close(struct rec *r);

/* Feeds n samples; calls fn for every utterance that ended. Returns 0, or
 * -EIO when the decoder failed (the stream is then unusable). */
int rec_feed(struct rec *r, const int16_t *pcm, size_t n, rec_final_fn fn, void *data);

/* Ends the utterance in progress now (fn gets its words, possibly none);
 * audio may continue afterwards. */
int rec_finalize(struct rec *r, rec_final_fn fn, void *data);

/* The words of the utterance in progress (non-final; confidence -1), at
 * most max. Returns the count (0 outside an utterance). */
size_t rec_partial(struct rec *r, struct rec_word *out, size_t max);

bool rec_in_utterance(const struct rec *r);

/* Audio processed (ms). */
uint64_t rec_total_ms(const struct rec *r);

/* Audio up to which no word can still change or appear (ms): the end of
 * the last final utterance, or REC_VAD_LOOKBACK_MS behind the total while
 * no one is in progress; the total after rec_finalize(). Never decreases,
 * never exceeds rec_total_ms(). */
uint64_t rec_final_ms(const struct rec *r);

#endif
