/* One timeline across connections (DESIGN.md §6): the tap's stream time,
 * counted from the tap's start. A connection's audio starts at the
 * committed position C (the end of what the service has finalized), so
 * its base B = C and a token at t of that connection is at B + t. A word
 * whose midpoint lies before the end of the last final emitted repeats
 * audio that was finalized before and is dropped; so is the word a
 * finalize cut short when the next connection hears it whole (the same
 * text as one of the last words of an earlier connection, starting within
 * TIMELINE_MATCH_MS of it).
 *
 * Speaker labels: a diarizing service numbers voices per session. The
 * replay then starts an overlap before C (B < C); the repeated words it
 * hears there are matched with the finals emitted before (same text, times
 * within TIMELINE_MATCH_MS) to map the new session's labels onto the old
 * ones, and the mapping is applied to everything the session says.
 *
 * Pure: no I/O, no clock. One owner (the worker's session shell, or a test).
 */
#ifndef TRANSCRIBE_TIMELINE_H
#define TRANSCRIBE_TIMELINE_H

#include <stdint.h>

#include "transcript.h"

#define TIMELINE_HISTORY	64	/* recent finals kept for matching */
#define TIMELINE_MAX_VOICES	8
#define TIMELINE_MATCH_MS	200
#define TIMELINE_SEAM_WORDS	4	/* earlier words a cut word is matched with */

struct timeline_word {
	int64_t start_ms;
	int64_t end_ms;
	char text[64];
	char speaker[TOKEN_LABEL_MAX];
};

struct timeline {
	uint64_t conn;			/* the connection base_ms belongs to; 0: none */
	int64_t base_ms;		/* B: stream time of its first audio */
	int64_t committed_ms;		/* C: stream time finalized by the service */
	int64_t last_final_end_ms;	/* of the last final emitted; -1: none yet */

	struct timeline_word history[TIMELINE_HISTORY];	/* ring of emitted finals */
	uint32_t n_history;
	uint32_t history_before;	/* n_history when this connection began */
	uint32_t n_voices;		/* this connection's label -> the published one */
	char voice_from[TIMELINE_MAX_VOICES][TOKEN_LABEL_MAX];
	char voice_to[TIMELINE_MAX_VOICES][TOKEN_LABEL_MAX];
};

void timeline_init(struct timeline *t);
/* conn's audio starts at base_ms: the committed position C, or an overlap
 * before it (speaker mapping). Forgets the previous session's labels. */
void timeline_begin(struct timeline *t, uint64_t conn, int64_t base_ms);
/* The service finalized conn's audio up to final_ms (its own time): C moves
 * to B + final_ms, never backwards. Returns how far C moved, in ms. */
int64_t timeline_commit(struct timeline *t, int64_t final_ms);
/* Audio before C was lost (buffers full): C jumps to at_ms. Returns the
 * length of the gap, in ms (0 when at_ms is not ahead of C). */
int64_t timeline_skip(struct timeline *t, int64_t at_ms);
/* Maps the tokens' times onto the stream (in place), drops repeated ones
 * (see above; repeated finals teach the speaker mapping first), maps the
 * speaker labels of the rest.
 * Returns the number of tokens left (finals first, in order). */
uint32_t timeline_map_tokens(struct timeline *t, struct transcript_token *tok, uint32_t n);

#endif
