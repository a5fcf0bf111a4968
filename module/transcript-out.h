/* Where a tap's words go once they are on the tap's timeline: the log,
 * the crash-safe journal, and the main thread (publish queue) for the
 * metadata and D-Bus. Also the journal's gap and state lines, and its
 * fsync within a second of a write (asked of the I/O thread, if any: a
 * slow disk never holds up the worker, see journal.h).
 *
 * Worker thread only.
 */
#ifndef TRANSCRIBE_TRANSCRIPT_OUT_H
#define TRANSCRIBE_TRANSCRIPT_OUT_H

#include <stdint.h>

#include "transcript.h"

/* A written line is fsynced this long after it, at the latest (plus one
 * worker tick). */
#define TRANSCRIPT_OUT_SYNC_MS	500
/* journal.max-mb's default: a journal stops at this size until
 * transcript_out_set_journal_limit() says otherwise. */
#define TRANSCRIPT_OUT_JOURNAL_MAX	(64ull << 20)

struct iothread;
struct publish_queue;
struct transcript_out;

/* journal_dir: NULL for no journal, "" for the default state dir. A
 * journal that cannot be opened is logged and left out. io: the I/O
 * thread that writes and syncs the journal (NULL: this thread does). */
struct transcript_out *transcript_out_new(const char *tap, const char *session_id, uint32_t rate,
		const char *journal_dir, struct iothread *io);
void transcript_out_free(struct transcript_out *o);	/* syncs and closes the journal */

void transcript_out_set_queue(struct transcript_out *o, struct publish_queue *q, uint32_t tap);
/* journal.max-mb: when the journal reaches max_bytes it gets a gap line
 * saying so (and, at close, one with the span of the words left out) and
 * takes nothing more; the words still go to the log and the main thread.
 * Logged once. */
void transcript_out_set_journal_limit(struct transcript_out *o, uint64_t max_bytes);
/* Finals first, then the words in progress (timeline_map_tokens() order). */
void transcript_out_tokens(struct transcript_out *o, const struct transcript_token *tokens,
		uint32_t n, uint64_t conn);
void transcript_out_gap(struct transcript_out *o, int64_t start_ms, int64_t end_ms,
		const char *reason);
/* Journals state changes only (the same state again is no line). */
void transcript_out_state(struct transcript_out *o, const char *state, const char *error,
		int64_t at_ms);
void transcript_out_tick(struct transcript_out *o, uint64_t now_ms);
/* "" when there is no journal. */
const char *transcript_out_journal_path(const struct transcript_out *o);

#endif
