/* recognizer: pocketsphinx (0.8 "5prealpha") behind a small streaming API.
 *
 * A struct rec is one connection's decoder: it is fed mono S16 audio at
 * the pool's rate (16 kHz, the model's; 24 kHz for OpenAI realtime
 * clients: the features are computed at that rate over the same band, so
 * the model takes it, with slightly different words) and reports words with times in ms of that audio (0 = the first
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

#include "srv-recognizer.h"

#define REC_RATE		16000	/* what the en-us model was trained on */
#define REC_RATE_MIN		16000	/* below, the model's band (to 6.8 kHz) is cut */
#define REC_RATE_MAX		48000
#define REC_MAX_UTTERANCE_MS	30000	/* longer speech is cut into utterances */
/* Audio older than this, outside an utterance, can no longer become part of
 * one (VAD start-up plus pre-speech padding, measured <= 0.45 s). */
#define REC_VAD_LOOKBACK_MS	1000

struct rec_model {
	const char *hmm;	/* acoustic model directory */
	const char *lm;		/* language model (.lm.bin / .lm) */
	const char *dict;	/* pronunciation dictionary */
	unsigned rate;		/* Hz the decoders take, REC_RATE_MIN..MAX (0: REC_RATE) */
};

struct rec_pool;
struct rec;

/* Creates one decoder to check the model (fails fast with a message in err
 * naming the file to fix) and keeps it as the first spare. */
int rec_pool_new(const struct rec_model *m, unsigned spare, struct rec_pool **out,
		 char *err, size_t errlen);
/* All recs must be closed first. */
void rec_pool_free(struct rec_pool *p);

/* open(): a decoder for a new stream, a spare one, else a new one (slow);
 * sets init_ms to the time spent creating it (0 for a spare); NULL on
 * failure (logged). close() returns the decoder to the pool (or frees it).
 * Both thread-safe. */

/* The recognizer table (srv-recognizer.h) over a pool: ctx is the struct
 * rec_pool. feed() reports every utterance that ended (utterance_end
 * unless rec_finalize cut it); partial() gives the words of the utterance
 * in progress (confidence -1; none outside one); final_ms() is the end of
 * the last final utterance, or REC_VAD_LOOKBACK_MS behind the total while
 * none is in progress, the total after finalize(); it never decreases and
 * never exceeds total_ms(). */
extern const struct srv_recognizer rec_pocketsphinx;
/* The pool's rate (the table's .rate is REC_RATE: copy it and set this). */
unsigned rec_pool_rate(const struct rec_pool *p);

#endif
