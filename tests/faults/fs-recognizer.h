/* fs-recognizer: the fault server's deterministic fake speech recognizer.
 *
 * Sans-IO: fed mono S16 samples, it splits the audio into "words" by energy
 * and names each word after its dominant frequency, so a test that plays
 * tone bursts knows exactly which words, in which order, at which times:
 *
 *   - the audio is cut into 10 ms frames; a frame is voiced when its RMS is
 *     above threshold_db (dBFS, full scale = 32768);
 *   - a word starts at its first voiced frame and ends at the end of its last
 *     voiced frame; it is final once hangover_ms of unvoiced audio follow it
 *     (shorter gaps belong to the word);
 *   - its frequency is the zero-crossing rate over its voiced frames,
 *     rounded to the nearest 100 Hz: a 700 Hz burst is the word "w700";
 *   - words shorter than min_word_ms are dropped (clicks).
 *
 * Times are milliseconds from the first sample fed (sample counting, never
 * the wall clock). Single-threaded; the caller owns the object.
 */
#ifndef FS_RECOGNIZER_H
#define FS_RECOGNIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rec_params {
	double threshold_db;	/* voiced frame: RMS above this (dBFS) */
	unsigned hangover_ms;	/* unvoiced audio that ends a word */
	unsigned min_word_ms;	/* shorter words are dropped */
};

#define REC_PARAMS_DEFAULT { .threshold_db = -30.0, .hangover_ms = 150, .min_word_ms = 30 }

struct rec_word {
	unsigned freq_hz;	/* rounded to 100 Hz */
	uint64_t start_ms;
	uint64_t end_ms;
};

typedef void (*rec_final_fn)(void *data, const struct rec_word *w);

struct rec;

/* rate in 1..192000; returns NULL on bad arguments or out of memory. */
struct rec *rec_new(unsigned rate, const struct rec_params *p);
void rec_free(struct rec *r);

/* Feeds n samples; every word that becomes final is passed to fn, in order. */
void rec_feed(struct rec *r, const int16_t *s, size_t n, rec_final_fn fn, void *data);

/* Processes the buffered partial frame and makes the open word final (if it
 * is long enough). Audio may continue afterwards. */
void rec_flush(struct rec *r, rec_final_fn fn, void *data);

/* The word in progress (not final yet), if any and long enough to report. */
bool rec_partial(const struct rec *r, struct rec_word *w);

/* All audio processed so far (whole frames, plus what rec_flush processed). */
uint64_t rec_total_ms(const struct rec *r);

/* Audio up to which everything is final: the start of the open word, else
 * the total. Never decreases. */
uint64_t rec_final_ms(const struct rec *r);

#endif
