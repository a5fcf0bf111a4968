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
 * Sanity (a service's numbers are input like any other): once told how
 * much audio the connection was sent (timeline_sent()), a token is clamped
 * to it; a token that starts beyond it (plus TIMELINE_SLACK_MS) is the
 * service's error and dropped, and so is a final position beyond it: the
 * committed position and the last final's end never move on them (2^40-1,
 * a time after the audio). start <= end is enforced (a token whose end is
 * before its start ends where it starts). A final without times cannot be
 * placed: it is put at the last final's end, and when a later connection
 * says the same text again inside its replayed audio, that is a repeat and
 * is dropped (tokens without times are never journaled twice). Each
 * connection's first anomaly is described once (timeline_take_anomaly());
 * the rest are counted.
 *
 * Pure: no I/O, no clock. One owner (the worker's session shell, or a test).
 */
#ifndef TRANSCRIBE_TIMELINE_H
#define TRANSCRIBE_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "transcript.h"

#define TIMELINE_HISTORY	64	/* recent finals kept for matching */
#define TIMELINE_MAX_VOICES	8
#define TIMELINE_MATCH_MS	200
#define TIMELINE_SEAM_WORDS	4	/* earlier words a cut word is matched with */
/* A token may end this far past the audio sent (frame rounding) before it
 * counts as the service's error; it is clamped to the audio sent. */
#define TIMELINE_SLACK_MS	250
/* No connection-time value above this is real (34 years): untracked
 * connections still never overflow the stream time. */
#define TIMELINE_MS_MAX		(INT64_C(1) << 40)

struct timeline_word {
	int64_t start_ms;
	int64_t end_ms;
	char text[64];
	char speaker[TOKEN_LABEL_MAX];
	bool timeless;			/* the service gave no times: placed, not timed */
	uint64_t matched_conn;		/* timeless: the connection that repeated it last */
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

	int64_t sent_ms;		/* audio sent on conn; -1: not tracked (no clamping) */
	uint64_t n_anomalies;		/* tokens and positions fixed or refused, in all */
	uint32_t conn_anomalies;	/* ... on this connection */
	bool anomaly_pending;		/* anomaly not taken yet */
	char anomaly[192];		/* this connection's first, described */
};

void timeline_init(struct timeline *t);
/* conn's audio starts at base_ms: the committed position C, or an overlap
 * before it (speaker mapping). Forgets the previous session's labels. */
void timeline_begin(struct timeline *t, uint64_t conn, int64_t base_ms);
/* The current connection has been sent sent_ms of audio so far (its own
 * time). Turns on the clamping described above, for this connection and
 * the next ones. */
void timeline_sent(struct timeline *t, int64_t sent_ms);
/* The service finalized conn's audio up to final_ms (its own time): C moves
 * to B + final_ms, never backwards, never past the audio sent (a bigger
 * value is refused, an anomaly). Returns how far C moved, in ms. */
int64_t timeline_commit(struct timeline *t, int64_t final_ms);
/* Audio before C was lost (buffers full): C jumps to at_ms. Returns the
 * length of the gap, in ms (0 when at_ms is not ahead of C). */
int64_t timeline_skip(struct timeline *t, int64_t at_ms);
/* Maps the tokens' times onto the stream (in place), drops repeated ones
 * (see above; repeated finals teach the speaker mapping first), maps the
 * speaker labels of the rest.
 * Returns the number of tokens left (finals first, in order). */
uint32_t timeline_map_tokens(struct timeline *t, struct transcript_token *tok, uint32_t n);

/* The current connection's first anomaly, one line, the first time it is
 * asked for (then NULL until the next connection has one). The caller logs
 * it, rate-limited: it comes from the service. */
const char *timeline_take_anomaly(struct timeline *t);

#endif
