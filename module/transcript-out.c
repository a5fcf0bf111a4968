/* A tap's words to the log, the journal and the main thread (see
 * transcript-out.h). */
#include "transcript-out.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/log.h>
#include <spa/utils/defs.h>
#include <spa/utils/result.h>

#include "config.h"
#include "journal.h"
#include "publish-queue.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

struct transcript_out {
	char tap[CONFIG_NAME_MAX];
	char session_id[40];
	struct journal *journal;	/* NULL: none (off, or broken) */
	uint64_t dirty_since_ms;	/* the first tick that saw an unsynced line; 0: none */
	char state[32];			/* the last state journaled */
	uint64_t journal_max;		/* bytes (journal.max-mb) */
	bool journal_full;		/* hit journal_max: nothing more goes in */
	uint64_t full_finals;		/* segments left out since */
	int64_t full_start_ms, full_end_ms;	/* their span */
	struct publish_queue *queue;
	uint32_t queue_tap;
	struct publish_cursor cursor;
	struct publish_segment segment;	/* scratch: a few KiB */
};

struct transcript_out *transcript_out_new(const char *tap, const char *session_id, uint32_t rate,
		const char *journal_dir, struct iothread *io)
{
	struct transcript_out *o = calloc(1, sizeof(*o));
	char err[512];

	if (o == NULL)
		return NULL;
	snprintf(o->tap, sizeof(o->tap), "%s", tap);
	snprintf(o->session_id, sizeof(o->session_id), "%s", session_id);
	if (journal_dir == NULL)
		return o;
	o->journal = journal_open(journal_dir[0] ? journal_dir : NULL, tap, session_id, rate,
			io, err, sizeof(err));
	if (o->journal == NULL)
		pw_log_warn("tap=%s no journal: %s", tap, err);
	else
		pw_log_info("tap=%s journal=%s", tap, journal_path(o->journal));
	transcript_out_set_journal_limit(o, TRANSCRIPT_OUT_JOURNAL_MAX);
	return o;
}

void transcript_out_set_journal_limit(struct transcript_out *o, uint64_t max_bytes)
{
	o->journal_max = max_bytes;
	if (o->journal != NULL)
		journal_set_limit(o->journal, max_bytes);
}

/* The journal is at its size limit: one gap line says from where words
 * are missing (the span goes in at close), one log line says why. */
static void on_journal_full(struct transcript_out *o, int64_t start_ms, int64_t end_ms)
{
	char why[160];

	if (!o->journal_full) {
		o->journal_full = true;
		o->full_start_ms = start_ms;
		o->full_end_ms = end_ms;
		snprintf(why, sizeof(why), "journal.max-mb reached (%" PRIu64 " bytes): the words "
				"from here on are not in this journal (they were published)",
				o->journal_max);
		journal_gap(o->journal, start_ms, start_ms, why);
		pw_log_warn("tap=%s journal %s: %s", o->tap, journal_path(o->journal), why);
	}
	o->full_end_ms = end_ms > o->full_end_ms ? end_ms : o->full_end_ms;
}

static void journal_failed(struct transcript_out *o, int res)
{
	pw_log_warn("tap=%s journal %s failed: %s; going on without it (the words are still "
			"published)", o->tap, journal_path(o->journal), spa_strerror(res));
	journal_close(o->journal);
	o->journal = NULL;
}

static void journal_wrote(struct transcript_out *o, int res)
{
	if (res < 0)
		journal_failed(o, res);
}

void transcript_out_free(struct transcript_out *o)
{
	char why[160];

	if (o == NULL)
		return;
	if (o->journal != NULL && o->full_finals > 0) {
		snprintf(why, sizeof(why), "journal.max-mb (%" PRIu64 " bytes): %" PRIu64 " final "
				"segments in this span are not in this journal (they were published)",
				o->journal_max, o->full_finals);
		journal_gap(o->journal, o->full_start_ms, o->full_end_ms, why);
	}
	journal_close(o->journal);
	free(o);
}

void transcript_out_set_queue(struct transcript_out *o, struct publish_queue *q, uint32_t tap)
{
	o->queue = q;
	o->queue_tap = tap;
}

static void log_tokens(struct transcript_out *o, const struct transcript_token *t, uint32_t n,
		uint64_t conn)
{
	char partial[1024];
	size_t pl = 0;

	partial[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		if (t[i].is_final) {
			pw_log_info("tap=%s conn=%" PRIu64 " final start_ms=%" PRIi64 " end_ms=%" PRIi64
					" text=\"%s\"", o->tap, conn, t[i].start_ms, t[i].end_ms, t[i].text);
		} else if (pl < sizeof(partial) - 1) {
			pl += (size_t)snprintf(partial + pl, sizeof(partial) - pl, "%s", t[i].text);
			pl = SPA_MIN(pl, sizeof(partial) - 1);
		}
	}
	if (pl > 0)
		pw_log_debug("tap=%s partial text=\"%s\"", o->tap, partial);
}

/* The segment in o->segment to the journal, unless it is full. */
static void journal_segment(struct transcript_out *o, uint64_t conn)
{
	const struct publish_segment *seg = &o->segment;
	struct journal_final f;
	int res;

	if (o->journal_full) {
		o->full_finals++;
		on_journal_full(o, seg->start_ms, seg->end_ms);
		return;
	}
	f = (struct journal_final){ .seq = seg->seq, .session_id = seg->session_id,
		.start_ms = seg->start_ms, .end_ms = seg->end_ms, .text = seg->text,
		.speaker = seg->speaker, .language = seg->language,
		.confidence = seg->confidence, .connection_id = conn };
	res = journal_final(o->journal, &f);
	if (res == -EFBIG) {
		o->full_finals++;
		on_journal_full(o, seg->start_ms, seg->end_ms);
	} else if (res < 0) {
		journal_failed(o, res);
	}
}

void transcript_out_tokens(struct transcript_out *o, const struct transcript_token *tokens,
		uint32_t n, uint64_t conn)
{
	struct publish_cursor next = o->cursor;

	log_tokens(o, tokens, n, conn);
	/* The journal line goes out before anyone sees the words: a kill in
	 * between must not lose a final that was published. With an I/O
	 * thread it is queued first, and its data lane writes it at once (an
	 * fsync never holds it up), so only a kill in that moment can. */
	if (o->journal != NULL && publish_queue_push_tokens(NULL, o->queue_tap, &next, tokens, n, 0,
			o->session_id, conn, &o->segment))
		journal_segment(o, conn);
	publish_queue_push_tokens(o->queue, o->queue_tap, &o->cursor, tokens, n, 0,
			o->session_id, conn, NULL);
}

void transcript_out_gap(struct transcript_out *o, int64_t start_ms, int64_t end_ms,
		const char *reason)
{
	int res;

	/* A gap may use the journal's reserve; when even that is full, the
	 * closing gap line covers it. */
	if (o->journal != NULL && (res = journal_gap(o->journal, start_ms, end_ms, reason)) != -EFBIG)
		journal_wrote(o, res);
}

void transcript_out_state(struct transcript_out *o, const char *state, const char *error,
		int64_t at_ms)
{
	int res;

	if (o->journal == NULL || o->journal_full || strcmp(o->state, state) == 0)
		return;
	snprintf(o->state, sizeof(o->state), "%s", state);
	if ((res = journal_state(o->journal, state, error, at_ms)) == -EFBIG)
		on_journal_full(o, at_ms, at_ms);
	else
		journal_wrote(o, res);
}

void transcript_out_tick(struct transcript_out *o, uint64_t now_ms)
{
	int res;

	if (o->journal == NULL)
		return;
	/* A write or sync on the I/O thread failed since the last tick. */
	if ((res = journal_error(o->journal)) < 0) {
		journal_failed(o, res);
		return;
	}
	if (!journal_dirty(o->journal))
		return;
	/* Lines are written at once and fsynced in batches: the first tick
	 * after a write starts the clock (ticks come every 100 ms). */
	if (o->dirty_since_ms == 0)
		o->dirty_since_ms = now_ms;
	if (now_ms - o->dirty_since_ms < TRANSCRIPT_OUT_SYNC_MS)
		return;
	o->dirty_since_ms = 0;
	if ((res = journal_sync(o->journal)) < 0)
		journal_failed(o, res);
}

const char *transcript_out_journal_path(const struct transcript_out *o)
{
	return o->journal != NULL ? journal_path(o->journal) : "";
}
