/* The data path of a tap's session (see datapath.h). */
#include "datapath.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/log.h>
#include <spa/utils/defs.h>

#include "ratelimit.h"
#include "replay.h"
#include "transcript-out.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

/* Services hear audio in frames (Soniox, pocketsphinx and the test
 * servers in 10 ms): the committed position stays on whole frames of the
 * tap's timeline, so every connection's frames fall where the first one's
 * did (a commit after a short end of stream, e.g. 42 ms, would not). */
#define DATAPATH_COMMIT_GRID_MS	10
/* A final that ends this close to the end of a stream was cut by it. */
#define DATAPATH_CUT_MS		40
#define DATAPATH_MAX_CUT	8

struct datapath {
	struct datapath_config cfg;
	const struct dialect_ops *dialect;
	struct transcript_out *out;
	const struct datapath_ops *ops;
	void *data;

	struct replay replay;		/* audio from the committed position on */
	uint32_t frame_bytes;		/* one frame, all channels */
	uint32_t chunk_bytes;		/* one WebSocket message of audio */
	uint8_t *chunk;
	char *frame;			/* chunk framed as text (dialect->frame_audio) */
	size_t frame_size;
	struct dialect_result *result;	/* ~90 KB: never on a stack */
	struct dialect_conn parse_conn;	/* what the dialect remembers of parse_id */
	uint64_t parse_id;
	double speech_power;		/* mean square of DATAPATH_SPEECH_DB */

	uint64_t conn;			/* live audio goes here; 0: none */
	uint64_t end_conn;		/* SEND_END: the backlog goes here, then the end */
	size_t end_left;		/* bytes of backlog still to send */
	bool end_pending;
	uint64_t hold_conn;		/* it dropped words: nothing more of it counts */
	uint64_t words_conn;		/* whose words in progress are shown */
	uint64_t last_sent_ms;
	enum session_audio policy;
	bool warned_drop;
	int64_t end_ms;			/* where end_conn's stream ended, its time; -1: not yet */
	/* Words the end of a stream cut short, held back: when the next
	 * connection hears them whole they go, else they are published. */
	uint32_t n_cut;
	struct transcript_token cut[DATAPATH_MAX_CUT];
	char error_text[SESSION_TEXT_MAX];	/* the last service error, for its event */
	struct ratelimit peer_warn;	/* what the service can make us say */
};

struct datapath *datapath_new(const struct datapath_config *cfg, const struct dialect_ops *dialect,
		struct transcript_out *out, const struct datapath_ops *ops, void *data,
		char *err, size_t err_size)
{
	struct datapath *dp = calloc(1, sizeof(*dp));
	char spool_err[256];

	if (dp == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	dp->cfg = *cfg;
	dp->dialect = dialect;
	dp->out = out;
	dp->ops = ops;
	dp->data = data;
	dp->frame_bytes = cfg->channels * sizeof(int16_t);
	dp->chunk_bytes = cfg->rate * cfg->frame_ms / 1000 * dp->frame_bytes;
	dp->speech_power = pow(32768.0 * pow(10.0, DATAPATH_SPEECH_DB / 20.0), 2);
	dp->end_ms = -1;
	if (replay_init(&dp->replay, cfg->rate, dp->frame_bytes, cfg->memory_sec, cfg->replay_speed,
			cfg->spool_bytes > 0 ? cfg->spool_dir : NULL, cfg->spool_bytes, cfg->io,
			spool_err, sizeof(spool_err)) < 0 ||
	    (dp->chunk = malloc(dp->chunk_bytes)) == NULL ||
	    (dialect->frame_audio != NULL &&
	     (dp->frame = malloc(dp->frame_size = DIALECT_AUDIO_FRAME_MAX(dp->chunk_bytes))) == NULL) ||
	    (dp->result = malloc(sizeof(*dp->result))) == NULL) {
		snprintf(err, err_size, "out of memory");
		datapath_free(dp);
		return NULL;
	}
	if (spool_err[0] != '\0')
		pw_log_warn("no disk spool (%s): only buffer.memory-sec=%u s are kept while the "
				"service is away", spool_err, cfg->memory_sec);
	/* With speaker labels, the next session hears the last seconds again
	 * to learn what it calls whom. */
	replay_set_overlap(&dp->replay, cfg->overlap_ms);
	return dp;
}

void datapath_free(struct datapath *dp)
{
	if (dp == NULL)
		return;
	replay_clear(&dp->replay);
	free(dp->chunk);
	free(dp->frame);
	free(dp->result);
	free(dp);
}

static bool is_speech(const struct datapath *dp, const void *audio, size_t bytes)
{
	const int16_t *s = audio;
	size_t n = bytes / sizeof(int16_t);
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)s[i] * s[i];
	return n > 0 && sum / n >= dp->speech_power;
}

/* The buffer was full: the oldest audio went, and the transcript has a
 * hole there. Said once in the log (not per frame), always in the counters
 * and as a gap. */
static void record_gap(struct datapath *dp, int64_t start_ms, int64_t len_ms)
{
	if (!dp->warned_drop) {
		dp->warned_drop = true;
		pw_log_warn("service away longer than the buffers hold (buffer.memory-sec=%u, "
				"buffer.spool.max-mb=%" PRIu64 "): dropping the oldest audio from "
				"stream_ms=%" PRIi64, dp->cfg.memory_sec, dp->cfg.spool_bytes >> 20, start_ms);
	}
	pw_log_debug("gap start_ms=%" PRIi64 " len_ms=%" PRIi64, start_ms, len_ms);
	transcript_out_gap(dp->out, start_ms, start_ms + len_ms,
			"buffers full (buffer.memory-sec, buffer.spool.max-mb): the service was away too long");
}

/* Audio no connection took: all of it is kept, or (closed for silence)
 * the last moments, or (stopped for good) none. Never what a connection
 * is still being sent. */
static void apply_policy(struct datapath *dp)
{
	if (dp->conn != 0 || dp->end_pending || dp->policy == SESSION_AUDIO_KEEP)
		return;
	replay_discard(&dp->replay, dp->policy == SESSION_AUDIO_PREROLL ? DATAPATH_PREROLL_MS : 0);
}

bool datapath_push(struct datapath *dp, const void *audio, uint32_t bytes)
{
	int spool_error = dp->replay.spool_error;
	int64_t gap_start, gap = replay_push(&dp->replay, audio, bytes, &gap_start);

	if (dp->replay.spool_error != spool_error)
		pw_log_warn("disk spool failed (%s): its audio is lost, memory only from now",
				strerror(-dp->replay.spool_error));
	if (gap > 0)
		record_gap(dp, gap_start, gap);
	apply_policy(dp);
	return is_speech(dp, audio, bytes);
}

/* conn's audio starts at the committed position. */
static void begin(struct datapath *dp, uint64_t conn, uint64_t now_ms)
{
	if (conn == 0 || dp->replay.tl.conn == conn)
		return;
	replay_begin(&dp->replay, conn, now_ms);
	dp->last_sent_ms = now_ms;	/* a keepalive is due a while after this */
	pw_log_info("conn=%" PRIu64 " audio from stream_ms=%" PRIi64 " replay_ms=%" PRIu64,
			conn, dp->replay.tl.committed_ms, replay_buffered_ms(&dp->replay));
}

static void commit(struct datapath *dp, int64_t final_ms)
{
	int64_t at = dp->replay.tl.base_ms + final_ms;

	if (final_ms < 0)
		return;
	replay_commit(&dp->replay, at - at % DATAPATH_COMMIT_GRID_MS - dp->replay.tl.base_ms);
}

/* The cut words are the last ones after all (the tap stays stopped, went
 * idle, or goes away): on the timeline, out and committed. */
void datapath_flush(struct datapath *dp)
{
	int64_t end = -1;
	uint32_t n;

	if (dp->n_cut == 0)
		return;
	for (uint32_t i = 0; i < dp->n_cut; i++)
		end = SPA_MAX(end, dp->cut[i].end_ms);
	n = timeline_map_tokens(&dp->replay.tl, dp->cut, dp->n_cut);
	transcript_out_tokens(dp->out, dp->cut, n, dp->replay.tl.conn);
	commit(dp, end);
	dp->n_cut = 0;
}

static void cut_words_follow(struct datapath *dp, const struct session_status *st)
{
	if (dp->n_cut == 0)
		return;
	if (st->audio_conn != 0 && st->audio_conn != dp->end_conn) {
		pw_log_debug("conn=%" PRIu64 " hears %u words again that the end of conn=%" PRIu64
				" cut short", st->audio_conn, dp->n_cut, dp->end_conn);
		dp->n_cut = 0;
	} else if (st->audio != SESSION_AUDIO_KEEP || st->state == SESSION_FAILED) {
		datapath_flush(dp);
	}
}

void datapath_follow(struct datapath *dp, const struct session_status *st, uint64_t now_ms)
{
	dp->policy = st->audio;
	cut_words_follow(dp, st);
	if (dp->end_pending && dp->end_conn != st->conn)
		dp->end_pending = false;	/* that connection is gone */
	if (st->audio_conn != dp->conn) {
		begin(dp, st->audio_conn, now_ms);
		dp->conn = st->audio_conn;
	}
	/* The words in progress of a connection that is gone will not be
	 * finished by it: off the screen (the next one says them again). */
	if (dp->words_conn != 0 && dp->words_conn != st->conn) {
		transcript_out_tokens(dp->out, NULL, 0, dp->words_conn);
		dp->words_conn = 0;
	}
	apply_policy(dp);
}

void datapath_end(struct datapath *dp, uint64_t conn, bool backlog, uint64_t now_ms)
{
	begin(dp, conn, now_ms);
	dp->conn = 0;
	dp->end_conn = conn;
	dp->end_left = backlog ? replay_unsent_bytes(&dp->replay) : 0;
	dp->end_ms = -1;
	dp->end_pending = true;
	pw_log_debug("conn=%" PRIu64 " end of stream after %zu bytes of backlog", conn, dp->end_left);
}

/* Audio goes as binary PCM, or framed as the dialect wants it. */
static int send_audio(struct datapath *dp, uint64_t conn, size_t n)
{
	int len;

	if (dp->dialect->frame_audio == NULL)
		return dp->ops->send(dp->data, conn, dp->chunk, n, false);
	if ((len = dp->dialect->frame_audio(dp->chunk, n, dp->frame, dp->frame_size)) < 0)
		return len;
	return dp->ops->send(dp->data, conn, dp->frame, (size_t)len, true);
}

/* Sends the next chunk (at most limit bytes) to conn; false when nothing
 * is due or the transport will not take it. */
static bool send_chunk(struct datapath *dp, uint64_t conn, size_t limit, uint64_t now_ms,
		struct datapath_sent *sent)
{
	size_t n;

	if (dp->ops->queued(dp->data, conn) >= dp->cfg.max_queued ||
	    (n = replay_next(&dp->replay, now_ms, dp->chunk, limit, false)) == 0 ||
	    send_audio(dp, conn, n) < 0)
		return false;
	replay_sent(&dp->replay, n);
	dp->last_sent_ms = now_ms;
	sent->conn = conn;
	sent->voiced |= is_speech(dp, dp->chunk, n);
	return true;
}

/* The backlog of an ending stream goes at the replay pace like any other
 * (a burst may get a session dropped), then the end of stream. */
static void pump_end(struct datapath *dp, uint64_t now_ms, struct datapath_sent *sent)
{
	const struct dialect_message *m = &dp->dialect->end_of_stream;

	while (dp->end_left > 0) {
		size_t before = replay_unsent_bytes(&dp->replay);
		if (!send_chunk(dp, dp->end_conn, SPA_MIN((size_t)dp->chunk_bytes, dp->end_left),
				now_ms, sent))
			return;
		dp->end_left -= SPA_MIN(dp->end_left, before - replay_unsent_bytes(&dp->replay));
	}
	if (m->data != NULL)
		dp->ops->send(dp->data, dp->end_conn, m->data, m->len, m->text);
	dp->end_pending = false;
	dp->end_ms = (int64_t)(dp->replay.conn_sent_bytes / dp->frame_bytes * 1000 / dp->cfg.rate);
	sent->conn = dp->end_conn;
	sent->end_sent = true;
}

void datapath_pump(struct datapath *dp, uint64_t now_ms, struct datapath_sent *sent)
{
	const struct dialect_message *k = &dp->dialect->keepalive;

	memset(sent, 0, sizeof(*sent));
	if (dp->end_pending) {
		pump_end(dp, now_ms, sent);
		return;
	}
	if (dp->conn == 0)
		return;
	while (send_chunk(dp, dp->conn, dp->chunk_bytes, now_ms, sent))
		;
	/* No audio flows (the stream stopped): the service still wants a sign
	 * of life. */
	if (sent->conn == 0 && k->len > 0 && dp->dialect->keepalive_ms > 0 &&
	    now_ms - dp->last_sent_ms >= dp->dialect->keepalive_ms) {
		dp->ops->send(dp->data, dp->conn, k->data, k->len, k->text);
		dp->last_sent_ms = now_ms;
	}
}

/* More finals than fit in one result: the ones kept are final in order,
 * what follows them was dropped. The committed position stops at the end
 * of the last one kept, nothing more of this connection counts, and the
 * next connection hears the rest again. Returns the commit to use. */
static int64_t hold_at_drop(struct datapath *dp, uint64_t conn, int64_t final_ms, bool *resync)
{
	const struct dialect_result *r = dp->result;
	const struct transcript_token *last;

	if (r->n_dropped == 0 || r->n_tokens == 0 || !r->tokens[r->n_tokens - 1].is_final)
		return final_ms;
	last = &r->tokens[r->n_tokens - 1];
	pw_log_warn("conn=%" PRIu64 " %u words did not fit in one message: committing up to "
			"the last kept one (%" PRIi64 " ms) and replaying the rest", conn,
			r->n_dropped, last->end_ms);
	*resync = true;
	dp->hold_conn = conn;
	return last->end_ms >= 0 && (final_ms < 0 || last->end_ms < final_ms) ? last->end_ms : final_ms;
}

/* After the end of a stream, a final that ends where the stream ended is a
 * word it cut short: held back (datapath_flush() publishes it), and the
 * commit stops before it, so a next connection hears it whole. Returns the
 * commit to use. */
static int64_t hold_cut_words(struct datapath *dp, uint64_t conn, int64_t final_ms)
{
	struct dialect_result *r = dp->result;
	uint32_t k = 0;

	if (conn != dp->end_conn || dp->end_ms < 0)
		return final_ms;
	for (uint32_t i = 0; i < r->n_tokens; i++) {
		struct transcript_token *t = &r->tokens[i];
		if (t->is_final && t->end_ms >= dp->end_ms - DATAPATH_CUT_MS && t->start_ms >= 0 &&
		    dp->n_cut < DATAPATH_MAX_CUT) {
			dp->cut[dp->n_cut++] = *t;
			final_ms = final_ms < 0 ? t->start_ms : SPA_MIN(final_ms, t->start_ms);
			continue;
		}
		r->tokens[k++] = *t;
	}
	r->n_tokens = k;
	return final_ms;
}

uint32_t datapath_message(struct datapath *dp, uint64_t conn, const char *msg, size_t len,
		uint64_t now_ms, struct session_event ev[DATAPATH_MAX_EVENTS])
{
	struct dialect_result *r = dp->result;
	const char *anomaly;
	bool resync = false;
	char err[160];
	int64_t final_ms;
	uint32_t n, k = 0;

	if (conn == 0 || conn == dp->hold_conn)
		return 0;
	if (conn != dp->parse_id) {	/* a new connection knows nothing yet */
		dialect_conn_reset(&dp->parse_conn);
		dp->parse_id = conn;
	}
	if (dp->dialect->parse(&dp->parse_conn, msg, len, r, err, sizeof(err)) < 0) {
		RATELIMIT_LOG(&dp->peer_warn, now_ms, pw_log_warn,
				"conn=%" PRIu64 " ignoring a bad message from the service: %s", conn, err);
		return 0;
	}
	if (r->n_dropped > 0)
		RATELIMIT_LOG(&dp->peer_warn, now_ms, pw_log_warn, "conn=%" PRIu64 " %s", conn, err);
	begin(dp, conn, now_ms);
	final_ms = hold_at_drop(dp, conn, r->final_audio_proc_ms, &resync);
	/* The ack first: the session is streaming before it weighs progress. */
	if (r->ready)
		ev[k++] = (struct session_event){ .type = SESSION_EV_READY, .id = conn };
	/* A reply without words or counter (vosk answers each audio message)
	 * still proves the service is working: it counts as one. */
	ev[k++] = (struct session_event){ .type = SESSION_EV_MESSAGE, .id = conn,
		.count = r->n_tokens + (r->alive ? 1u : 0u),
		.progress_ms = SPA_MAX(r->total_audio_proc_ms, (int64_t)0) };
	final_ms = hold_cut_words(dp, conn, final_ms);
	/* Onto the tap's timeline, repeats from a replay dropped; then what
	 * the service made final is released from the buffer. */
	n = timeline_map_tokens(&dp->replay.tl, r->tokens, r->n_tokens);
	transcript_out_tokens(dp->out, r->tokens, n, conn);
	dp->words_conn = conn;
	commit(dp, final_ms);
	if ((anomaly = timeline_take_anomaly(&dp->replay.tl)) != NULL)
		RATELIMIT_LOG(&dp->peer_warn, now_ms, pw_log_warn, "conn=%" PRIu64 " %s", conn, anomaly);
	if (r->has_error) {
		snprintf(dp->error_text, sizeof(dp->error_text), "service error %d: %s",
				r->error_code, r->error_message);
		ev[k++] = (struct session_event){ .type = SESSION_EV_SERVICE_ERROR, .id = conn,
			.cls = r->error_class, .code = r->error_code, .message = dp->error_text };
	}
	if (resync)
		ev[k++] = (struct session_event){ .type = SESSION_EV_RESYNC, .id = conn };
	if (r->finished)
		ev[k++] = (struct session_event){ .type = SESSION_EV_FINISHED, .id = conn };
	return k;
}

uint64_t datapath_buffered_ms(const struct datapath *dp)
{
	return replay_buffered_ms(&dp->replay);
}

uint64_t datapath_spooled_ms(const struct datapath *dp)
{
	return replay_spooled_ms(&dp->replay);
}

uint64_t datapath_dropped_ms(const struct datapath *dp)
{
	return replay_dropped_ms(&dp->replay);
}

int64_t datapath_position_ms(const struct datapath *dp)
{
	return dp->replay.tl.committed_ms + (int64_t)replay_buffered_ms(&dp->replay);
}
