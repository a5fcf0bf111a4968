/* I/O shell of a tap's session (see session-shell.h). */
#include "session-shell.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <pipewire/log.h>
#include <spa/utils/defs.h>

#include "blocking.h"
#include "clock.h"
#include "connect-job.h"
#include "creds.h"
#include "dialect.h"
#include "publish-queue.h"
#include "replay.h"
#include "transcript-out.h"
#include "transport.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

#define SHELL_MAX_QUEUED_FRAMES	3	/* audio frames handed to lws at once */
#define SHELL_FRAME_MS		100	/* audio per WebSocket message */
#define SHELL_STOP_TIMEOUT_MS	3000
#define SHELL_TCP_SLACK_MS	1000
#define SHELL_MAX_MESSAGE	(1u << 20)
#define SHELL_EVENT_QUEUE	16
#define SHELL_COUNTERS_MS	1000	/* buffered/dropped updates, at most this often */

struct shell_timer {
	lws_sorted_usec_list_t sul;
	struct shell *sh;
	enum session_timer kind;
	bool armed;
};

struct shell {
	char tap[CONFIG_NAME_MAX];
	const struct transcribe_config *cfg;
	struct lws_context *ctx;
	struct blocking *blocking;
	const struct dialect_ops *dialect;
	struct dialect_params params;
	struct url url;
	struct creds_config creds;

	struct session *session;
	struct transport *transport;
	struct shell_timer timers[SESSION_N_TIMERS];
	uint32_t n_jobs;		/* connect jobs in flight */

	/* Re-entrancy: events raised while actions run wait their turn, so
	 * one action table serves every event. */
	struct session_actions *acts;
	bool handling;
	uint32_t n_events;
	struct session_event events[SHELL_EVENT_QUEUE];
	char event_text[SHELL_EVENT_QUEUE][SESSION_TEXT_MAX];

	/* The newest attempt's key and address, kept until that attempt's OPEN
	 * uses them (it may wait for the previous socket to go). */
	uint64_t creds_attempt;
	struct creds_secret secret;
	char address[INET6_ADDRSTRLEN];
	char *config_msg;		/* built at OPEN (may hold the key), sent at opened */
	size_t config_len;

	uint64_t conn;			/* the connection audio goes to */
	bool streaming;
	uint64_t last_sent_ms;
	int64_t last_total_ms;

	struct replay replay;		/* audio from the committed position on */
	uint32_t frame_bytes;		/* one audio frame (all channels) */
	uint32_t chunk_bytes;		/* one WebSocket message of audio */
	uint8_t *chunk;

	struct dialect_result *result;

	/* Results for the main thread (out NULL: nobody listens). */
	struct publish_queue *out;
	uint32_t out_tap;
	struct transcript_out *tout;	/* words to the log, the journal, the main thread */
	char session_id[40];
	uint64_t ring_dropped_ms;	/* lost before the shell saw it */
	uint64_t published_ms;		/* when the last state went out */
	uint64_t published_buffered_ms;	/* the counters in it */
	uint64_t published_dropped_ms;

	bool warned_drop;
	bool stopped;
	bool shut_down;			/* after shell_shutdown(): ignore everything */
};

static void run_actions(struct shell *sh, const struct session_actions *acts);

/* Feeds an event, or queues it when an action is running (an action's own
 * consequences never re-enter the state machine). */
static void feed(struct shell *sh, const struct session_event *ev)
{
	struct session_actions *acts = sh->acts;

	if (sh->shut_down)
		return;
	if (sh->handling) {
		if (sh->n_events == SHELL_EVENT_QUEUE) {
			pw_log_error("tap=%s session event queue overflow; event %d lost", sh->tap, ev->type);
			return;
		}
		uint32_t i = sh->n_events++;
		sh->events[i] = *ev;
		if (ev->message) {
			snprintf(sh->event_text[i], SESSION_TEXT_MAX, "%s", ev->message);
			sh->events[i].message = sh->event_text[i];
		}
		return;
	}
	sh->handling = true;
	session_handle(sh->session, clock_now_ms(), ev, acts);
	run_actions(sh, acts);
	while (sh->n_events > 0) {
		struct session_event next = sh->events[0];
		char text[SESSION_TEXT_MAX];
		if (next.message) {
			snprintf(text, sizeof(text), "%s", sh->event_text[0]);
			next.message = text;
		}
		memmove(&sh->events[0], &sh->events[1], --sh->n_events * sizeof(sh->events[0]));
		memmove(sh->event_text[0], sh->event_text[1], sh->n_events * SESSION_TEXT_MAX);
		session_handle(sh->session, clock_now_ms(), &next, acts);
		run_actions(sh, acts);
	}
	sh->handling = false;
}

static void feed_simple(struct shell *sh, enum session_event_type type, uint64_t id)
{
	struct session_event ev = { .type = type, .id = id, .retry_after_ms = -1 };
	feed(sh, &ev);
}

/* ---- connect job: credentials and DNS on the helper thread ---- */

static void connect_job_done(struct blocking_job *base)
{
	struct connect_job *j = SPA_CONTAINER_OF(base, struct connect_job, base);
	struct shell *sh = j->sh;

	if (sh != NULL && !base->cancelled) {
		sh->n_jobs--;
		if (j->res == 0) {
			/* Only the newest attempt can still open: a late answer for
			 * an older one must not replace its key. */
			if (j->attempt == sh->creds_attempt) {
				creds_wipe(&sh->secret);
				sh->secret = j->secret;
				snprintf(sh->address, sizeof(sh->address), "%s", j->address);
			}
			feed_simple(sh, SESSION_EV_CREDS_READY, j->attempt);
		} else {
			struct session_event ev = {
				.type = SESSION_EV_CREDS_FAILED, .id = j->attempt, .cls = j->err.cls,
				.retry_after_ms = j->err.retry_after_ms, .message = j->err.message,
			};
			feed(sh, &ev);
		}
	} else if (sh != NULL) {
		sh->n_jobs--;
	}
	creds_wipe(&j->secret);
	free(j);
}

/* Every attempt reads the key source again and fetches a new temporary key,
 * so a refresh after a 401 needs nothing special here. */
static void fetch_creds(struct shell *sh, uint64_t attempt)
{
	struct connect_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		struct session_event ev = { .type = SESSION_EV_CREDS_FAILED, .id = attempt,
			.cls = ERR_TRANSIENT, .retry_after_ms = -1, .message = "out of memory" };
		feed(sh, &ev);
		return;
	}
	/* A newer attempt makes the previous key useless. */
	creds_wipe(&sh->secret);
	sh->creds_attempt = attempt;
	j->base.run = connect_job_run;
	j->base.done = connect_job_done;
	j->sh = sh;
	j->attempt = attempt;
	j->creds = sh->creds;
	snprintf(j->host, sizeof(j->host), "%s", sh->url.host);
	j->port = sh->url.port;
	sh->n_jobs++;
	blocking_submit(sh->blocking, &j->base);
}

/* ---- actions ---- */

static void wipe_config_msg(struct shell *sh)
{
	if (sh->config_msg == NULL)
		return;
	explicit_bzero(sh->config_msg, sh->config_len);
	free(sh->config_msg);
	sh->config_msg = NULL;
	sh->config_len = 0;
}

static void open_conn(struct shell *sh, uint64_t conn)
{
	char auth[CREDS_KEY_MAX + 16];
	const char *key = sh->secret.len > 0 ? sh->secret.key : NULL;
	size_t size = 4096;
	int res;

	auth[0] = '\0';
	if (key != NULL && sh->dialect->auth_header(key, auth, sizeof(auth)) < 0)
		auth[0] = '\0';
	wipe_config_msg(sh);
	if ((sh->config_msg = malloc(size)) != NULL &&
	    (res = sh->dialect->build_config(&sh->params, key, sh->config_msg, size)) >= 0) {
		sh->config_len = (size_t)res;
	} else {
		wipe_config_msg(sh);
	}
	pw_log_debug("tap=%s conn=%" PRIu64 " open %s:%u address=%s key=<redacted:%s>", sh->tap,
			conn, sh->url.host, sh->url.port, sh->address,
			key ? sh->secret.source : "none");
	res = transport_open(sh->transport, conn, sh->address, auth[0] ? auth : NULL);
	explicit_bzero(auth, sizeof(auth));
	if (res == 0)
		pw_log_debug("tap=%s conn=%" PRIu64 " socket opened", sh->tap, conn);
	creds_wipe(&sh->secret);
	if (res < 0) {
		char msg[SESSION_TEXT_MAX];
		struct session_event ev = { .type = SESSION_EV_CONNECT_FAILED, .id = conn,
			.cls = ERR_TRANSIENT, .retry_after_ms = -1, .message = msg };
		snprintf(msg, sizeof(msg), "cannot start a connection to %.160s: %s", sh->url.host,
				strerror(-res));
		feed(sh, &ev);
	}
}

/* The current connection's audio starts at the committed position. */
static void begin_conn(struct shell *sh)
{
	if (sh->conn == 0 || sh->replay.tl.conn == sh->conn)
		return;
	replay_begin(&sh->replay, sh->conn, clock_now_ms());
	pw_log_info("tap=%s conn=%" PRIu64 " audio from stream_ms=%" PRIi64 " replay_ms=%" PRIu64,
			sh->tap, sh->conn, sh->replay.tl.committed_ms, replay_buffered_ms(&sh->replay));
}

static void send_end(struct shell *sh, uint64_t conn)
{
	const struct dialect_message *m = &sh->dialect->end_of_stream;

	/* What was captured goes out first: the service finalizes all of it. */
	size_t n;
	begin_conn(sh);
	while ((n = replay_next(&sh->replay, clock_now_ms(), sh->chunk, sh->chunk_bytes, true)) > 0) {
		if (transport_send(sh->transport, conn, sh->chunk, n, false) < 0)
			break;
		replay_sent(&sh->replay, n);
	}
	if (m->data != NULL)
		transport_send(sh->transport, conn, m->data, m->len, m->text);
}

static void timer_fired(lws_sorted_usec_list_t *sul)
{
	struct shell_timer *t = lws_container_of(sul, struct shell_timer, sul);
	struct session_event ev = { .type = SESSION_EV_TIMER, .timer = t->kind, .retry_after_ms = -1 };

	t->armed = false;
	feed(t->sh, &ev);
}

static void arm_timer(struct shell *sh, enum session_timer kind, uint64_t at_ms)
{
	struct shell_timer *t = &sh->timers[kind];
	uint64_t now = clock_now_ms();

	t->armed = true;
	lws_sul_schedule(sh->ctx, 0, &t->sul, timer_fired,
			(lws_usec_t)(at_ms > now ? at_ms - now : 0) * LWS_US_PER_MS);
}

static void cancel_timer(struct shell *sh, enum session_timer kind)
{
	if (sh->timers[kind].armed)
		lws_sul_cancel(&sh->timers[kind].sul);
	sh->timers[kind].armed = false;
}

static void log_action(struct shell *sh, const struct session_action *a)
{
	switch (a->level) {
	case SESSION_LOG_ERROR: pw_log_error("%s", a->text); break;
	case SESSION_LOG_WARN: pw_log_warn("%s", a->text); break;
	case SESSION_LOG_INFO: pw_log_info("%s", a->text); break;
	default: pw_log_debug("%s", a->text); break;
	}
}

static void push_state(struct shell *sh, const struct session_status *st)
{
	struct publish_state ps = { .state = st->state, .attempt = st->attempt,
		.max_attempts = st->max_attempts, .next_retry_ms = st->next_retry_ms };

	if (sh->out == NULL)
		return;
	snprintf(ps.error, sizeof(ps.error), "%s", st->error);
	snprintf(ps.session_id, sizeof(ps.session_id), "%s", sh->session_id);
	snprintf(ps.journal_path, sizeof(ps.journal_path), "%s",
			transcript_out_journal_path(sh->tout));
	ps.buffered_ms = replay_buffered_ms(&sh->replay);
	ps.spooled_ms = replay_spooled_ms(&sh->replay);
	ps.dropped_ms = replay_dropped_ms(&sh->replay) + sh->ring_dropped_ms;
	sh->published_ms = clock_now_ms();
	sh->published_buffered_ms = ps.buffered_ms;
	sh->published_dropped_ms = ps.dropped_ms;
	publish_queue_push_state(sh->out, sh->out_tap, &ps);
}

static void publish(struct shell *sh)
{
	struct session_status st;

	session_get_status(sh->session, clock_now_ms(), &st);
	sh->streaming = st.state == SESSION_STREAMING;
	sh->conn = st.conn;
	sh->stopped = st.state == SESSION_STOPPED || st.state == SESSION_IDLE;
	pw_log_debug("tap=%s state=%s attempt=%u/%u next_retry_ms=%" PRIi64 " error=\"%s\"",
			sh->tap, session_state_name(st.state), st.attempt, st.max_attempts,
			st.next_retry_ms, st.error);
	transcript_out_state(sh->tout, session_state_name(st.state), st.error,
			sh->replay.tl.committed_ms + (int64_t)replay_buffered_ms(&sh->replay));
	push_state(sh, &st);
}

static void pump_audio(struct shell *sh);

static void run_actions(struct shell *sh, const struct session_actions *acts)
{
	for (uint32_t i = 0; i < acts->n; i++) {
		const struct session_action *a = &acts->a[i];
		switch (a->type) {
		case SESSION_ACT_FETCH_CREDS:
			fetch_creds(sh, a->id);
			break;
		case SESSION_ACT_OPEN:
			open_conn(sh, a->id);
			break;
		case SESSION_ACT_CLOSE:
			transport_close(sh->transport, a->id, a->code, a->abort);
			break;
		case SESSION_ACT_SEND_END:
			send_end(sh, a->id);
			break;
		case SESSION_ACT_SEND_PING:
			transport_ping(sh->transport, a->id);
			break;
		case SESSION_ACT_ARM_TIMER:
			arm_timer(sh, a->timer, a->at_ms);
			break;
		case SESSION_ACT_CANCEL_TIMER:
			cancel_timer(sh, a->timer);
			break;
		case SESSION_ACT_ANSWER:
			pw_log_debug("tap=%s waiter=%" PRIu64 " answer=%d %s", sh->tap, a->id,
					a->answer, a->text);
			if (sh->out != NULL)
				publish_queue_push_answer(sh->out, sh->out_tap, a->id, a->answer, a->text);
			break;
		case SESSION_ACT_PUBLISH:
			publish(sh);
			break;
		case SESSION_ACT_LOG:
			log_action(sh, a);
			break;
		}
	}
	pump_audio(sh);
}

/* ---- audio ---- */

static void pump_audio(struct shell *sh)
{
	if (!sh->streaming || sh->conn == 0)
		return;
	begin_conn(sh);
	while (transport_queued(sh->transport, sh->conn) < SHELL_MAX_QUEUED_FRAMES &&
	       replay_next(&sh->replay, clock_now_ms(), sh->chunk, sh->chunk_bytes, false) > 0) {
		if (transport_send(sh->transport, sh->conn, sh->chunk, sh->chunk_bytes, false) < 0)
			return;
		replay_sent(&sh->replay, sh->chunk_bytes);
		sh->last_sent_ms = clock_now_ms();
		if (!sh->handling)
			feed_simple(sh, SESSION_EV_AUDIO_SENT, sh->conn);
	}
}

/* The buffer was full: the oldest audio went, and the transcript has a
 * hole there. Said once in the log (not per frame), always in the counters
 * and as a gap. */
static void record_gap(struct shell *sh, int64_t start_ms, int64_t len_ms)
{
	if (!sh->warned_drop) {
		sh->warned_drop = true;
		pw_log_warn("tap=%s service away longer than the buffers hold (buffer.memory-sec=%u, "
				"buffer.spool.max-mb=%u): dropping the oldest audio from stream_ms=%" PRIi64,
				sh->tap, sh->cfg->memory_sec, sh->cfg->spool_max_mb, start_ms);
	}
	pw_log_debug("tap=%s gap start_ms=%" PRIi64 " len_ms=%" PRIi64, sh->tap, start_ms, len_ms);
	transcript_out_gap(sh->tout, start_ms, start_ms + len_ms,
			"buffers full (buffer.memory-sec, buffer.spool.max-mb): the service was away too long");
}

void shell_audio(struct shell *sh, const void *data, uint32_t bytes)
{
	int spool_error = sh->replay.spool_error;
	int64_t gap_start, gap = replay_push(&sh->replay, data, bytes, &gap_start);

	if (sh->replay.spool_error != spool_error)
		pw_log_warn("tap=%s disk spool failed (%s): its audio is lost, memory only from now",
				sh->tap, strerror(-sh->replay.spool_error));
	if (gap > 0)
		record_gap(sh, gap_start, gap);
	pump_audio(sh);
}

/* Counters change without a state change. A status line needs them at
 * most every second, and buffered audio only when it grows or shrinks by
 * a second (it moves by a frame all the time while streaming); any loss
 * shows at once. */
static void refresh_counters(struct shell *sh)
{
	struct session_status st;
	uint64_t buffered, dropped;

	if (sh->out == NULL || clock_now_ms() - sh->published_ms < SHELL_COUNTERS_MS)
		return;
	buffered = replay_buffered_ms(&sh->replay);
	dropped = replay_dropped_ms(&sh->replay) + sh->ring_dropped_ms;
	if (dropped == sh->published_dropped_ms &&
	    buffered + SHELL_COUNTERS_MS > sh->published_buffered_ms &&
	    buffered < sh->published_buffered_ms + SHELL_COUNTERS_MS)
		return;
	session_get_status(sh->session, clock_now_ms(), &st);
	push_state(sh, &st);
}

void shell_tick(struct shell *sh)
{
	const struct dialect_message *k = &sh->dialect->keepalive;

	pump_audio(sh);
	refresh_counters(sh);
	transcript_out_tick(sh->tout, clock_now_ms());
	if (sh->streaming && sh->conn != 0 && k->len > 0 && sh->dialect->keepalive_ms > 0 &&
	    clock_now_ms() - sh->last_sent_ms >= sh->dialect->keepalive_ms) {
		transport_send(sh->transport, sh->conn, k->data, k->len, k->text);
		sh->last_sent_ms = clock_now_ms();
	}
}

/* ---- transport events ---- */

/* "socket gone" lines let tests (and people) check that a tap never has
 * two sockets at once. */
static void log_gone(struct shell *sh, uint64_t conn, const char *how)
{
	pw_log_debug("tap=%s conn=%" PRIu64 " socket gone (%s)", sh->tap, conn, how);
}


static void on_opened(void *data, uint64_t conn)
{
	struct shell *sh = data;

	feed_simple(sh, SESSION_EV_OPENED, conn);
	if (sh->config_msg != NULL) {
		transport_send(sh->transport, conn, sh->config_msg, sh->config_len, true);
		wipe_config_msg(sh);
	}
	/* Soniox has no ack: config queued before any audio means ready. */
	if (sh->dialect->ready_without_ack)
		feed_simple(sh, SESSION_EV_READY, conn);
}

static void on_connect_failed(void *data, uint64_t conn, enum err_class cls, int http_status,
		int64_t retry_after_ms, const char *message)
{
	struct shell *sh = data;
	struct session_event ev = {
		.type = SESSION_EV_CONNECT_FAILED, .id = conn,
		/* An HTTP answer classifies by status; otherwise the transport knows. */
		.cls = http_status > 0 ? ERR_NONE : cls, .http_status = http_status,
		.retry_after_ms = retry_after_ms, .message = message,
	};
	log_gone(sh, conn, "connect failed");
	feed(sh, &ev);
}

static void on_writeable(void *data, uint64_t conn)
{
	pump_audio(data);
}

static void on_message(void *data, uint64_t conn, const char *msg, size_t len, bool binary)
{
	struct shell *sh = data;
	struct dialect_result *r = sh->result;
	char err[160];

	if (binary || conn != sh->conn)
		return;
	if (sh->dialect->parse(msg, len, r, err, sizeof(err)) < 0) {
		pw_log_warn("tap=%s conn=%" PRIu64 " ignoring a bad message from the service: %s",
				sh->tap, conn, err);
		return;
	}
	if (r->n_dropped > 0)
		pw_log_warn("tap=%s conn=%" PRIu64 " %s", sh->tap, conn, err);
	/* Onto the tap's timeline, repeats from a replay dropped; then what
	 * the service made final is released from the buffer. */
	begin_conn(sh);
	r->n_tokens = timeline_map_tokens(&sh->replay.tl, r->tokens, r->n_tokens);
	transcript_out_tokens(sh->tout, r->tokens, r->n_tokens, sh->conn);
	replay_commit(&sh->replay, r->final_audio_proc_ms);
	if (r->total_audio_proc_ms > sh->last_total_ms) {
		sh->last_total_ms = r->total_audio_proc_ms;
		feed_simple(sh, SESSION_EV_PROGRESS, conn);
	}
	if (r->has_error) {
		char what[SESSION_TEXT_MAX];
		struct session_event ev = { .type = SESSION_EV_SERVICE_ERROR, .id = conn,
			.cls = r->error_class, .code = r->error_code, .retry_after_ms = -1,
			.message = what };
		snprintf(what, sizeof(what), "service error %d: %s", r->error_code, r->error_message);
		feed(sh, &ev);
	}
	if (r->finished)
		feed_simple(sh, SESSION_EV_FINISHED, conn);
}

static void on_pong(void *data, uint64_t conn)
{
	feed_simple(data, SESSION_EV_PONG, conn);
}

static void on_closed(void *data, uint64_t conn, int code, const char *reason)
{
	struct shell *sh = data;
	struct session_event ev = { .type = SESSION_EV_CLOSED, .id = conn, .code = code,
		.retry_after_ms = -1, .message = reason };

	sh->last_total_ms = -1;
	log_gone(sh, conn, "closed by the peer or the network");
	feed(sh, &ev);
}

static void on_released(void *data, uint64_t conn)
{
	log_gone(data, conn, "closed by us");
	feed_simple(data, SESSION_EV_RELEASED, conn);
}

static const struct transport_events transport_events = {
	.released = on_released,
	.opened = on_opened,
	.connect_failed = on_connect_failed,
	.writeable = on_writeable,
	.message = on_message,
	.pong = on_pong,
	.closed = on_closed,
};

/* ---- lifecycle ---- */

static void setup_params(struct shell *sh)
{
	const struct service_config *svc = &sh->cfg->service;

	sh->params.model = svc->model;
	sh->params.rate = sh->cfg->rate;
	sh->params.channels = sh->cfg->channels;
	sh->params.n_language_hints = SPA_MIN(svc->n_hints, (uint32_t)DIALECT_MAX_HINTS);
	for (uint32_t i = 0; i < sh->params.n_language_hints; i++)
		sh->params.language_hints[i] = svc->hints[i];
	sh->params.diarization = svc->diarization;
	sh->params.language_identification = svc->language_identification;
	sh->params.endpoint_detection = svc->endpoint_detection;

	snprintf(sh->creds.file, sizeof(sh->creds.file), "%s", svc->key_file);
	snprintf(sh->creds.env, sizeof(sh->creds.env), "%s", svc->key_env);
	snprintf(sh->creds.command, sizeof(sh->creds.command), "%s", svc->key_command);
	snprintf(sh->creds.temporary_key_url, sizeof(sh->creds.temporary_key_url), "%s",
			svc->temporary_key_url);
	/* The helper's work must fit in the connect deadline. */
	sh->creds.connect_timeout_ms = sh->cfg->connect_timeout_ms / 2;
	sh->creds.total_timeout_ms = sh->cfg->connect_timeout_ms - 500;
	sh->creds.temporary_key_ttl_s = 60;
}

struct shell *shell_new(const char *tap, const struct transcribe_config *cfg,
		struct lws_context *ctx, struct blocking *blocking, char *err, size_t err_size)
{
	struct shell *sh = calloc(1, sizeof(*sh));
	struct transport_config tc;
	struct session_config sc;
	char session_id[40], spool_err[256];

	if (sh == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	snprintf(sh->tap, sizeof(sh->tap), "%s", tap);
	sh->cfg = cfg;
	sh->ctx = ctx;
	sh->blocking = blocking;
	sh->last_total_ms = -1;
	if ((sh->dialect = dialect_find(cfg->service.dialect)) == NULL ||
	    url_parse(cfg->service.url, &sh->url, err, err_size) < 0) {
		if (sh->dialect == NULL)
			snprintf(err, err_size, "service.dialect: unknown dialect %s", cfg->service.dialect);
		free(sh);
		return NULL;
	}
	setup_params(sh);

	sh->frame_bytes = cfg->channels * sizeof(int16_t);
	sh->chunk_bytes = cfg->rate * SHELL_FRAME_MS / 1000 * sh->frame_bytes;
	if (replay_init(&sh->replay, cfg->rate, sh->frame_bytes, cfg->memory_sec, cfg->replay_speed,
			cfg->spool_max_mb > 0 ? cfg->journal_dir : NULL,
			(uint64_t)cfg->spool_max_mb << 20, spool_err, sizeof(spool_err)) < 0) {
		snprintf(err, err_size, "out of memory");
		free(sh);
		return NULL;
	}
	/* With speaker labels, the next session hears the last seconds again
	 * to learn what it calls whom. */
	replay_set_overlap(&sh->replay, cfg->service.diarization ? cfg->speaker_overlap_ms : 0);
	if (spool_err[0] != '\0')
		pw_log_warn("tap=%s no disk spool (%s): only buffer.memory-sec=%u s are kept while "
				"the service is away", tap, spool_err, cfg->memory_sec);
	sh->chunk = malloc(sh->chunk_bytes);
	sh->result = malloc(sizeof(*sh->result));
	sh->acts = malloc(sizeof(*sh->acts));

	spa_zero(tc);
	tc.url = sh->url;
	tc.ping_s = (cfg->ping_ms + 999) / 1000;
	tc.hangup_s = (cfg->ping_ms + cfg->pong_timeout_ms + 999) / 1000;
	tc.tcp_user_timeout_ms = cfg->ping_ms + cfg->pong_timeout_ms + SHELL_TCP_SLACK_MS;
	tc.max_message = SHELL_MAX_MESSAGE;
	sh->transport = transport_new(ctx, &tc, &transport_events, sh);

	/* A session id that is unique enough to find one run in the logs. */
	snprintf(session_id, sizeof(session_id), "%08x", (unsigned)(clock_now_ms() ^ (uintptr_t)sh));
	snprintf(sh->session_id, sizeof(sh->session_id), "%s", session_id);
	sh->tout = transcript_out_new(tap, session_id, cfg->rate,
			cfg->journal ? cfg->journal_dir : NULL);
	spa_zero(sc);
	sc.fast_attempts = cfg->fast_attempts;
	sc.base_ms = cfg->base_ms;
	sc.cap_ms = cfg->cap_ms;
	sc.offline_probe_ms = cfg->offline_probe_ms;
	sc.connect_timeout_ms = cfg->connect_timeout_ms;
	sc.stall_timeout_ms = cfg->stall_timeout_ms;
	sc.ping_timeout_ms = cfg->pong_timeout_ms;
	sc.stop_timeout_ms = SHELL_STOP_TIMEOUT_MS;
	sc.seed = clock_now_ms() * 6364136223846793005ULL + (uintptr_t)sh;
	sc.tap = sh->tap;
	sc.session_id = session_id;
	sh->session = session_new(&sc);

	if (sh->chunk == NULL || sh->result == NULL || sh->acts == NULL || sh->tout == NULL ||
	    sh->transport == NULL || sh->session == NULL) {
		snprintf(err, err_size, "out of memory");
		shell_free(sh);
		return NULL;
	}
	for (int i = 0; i < SESSION_N_TIMERS; i++) {
		sh->timers[i].sh = sh;
		sh->timers[i].kind = (enum session_timer)i;
	}
	return sh;
}

void shell_start(struct shell *sh)
{
	feed_simple(sh, SESSION_EV_START, 0);
}

void shell_notify(struct shell *sh, enum session_event_type type)
{
	feed_simple(sh, type, 0);
}

bool shell_has_socket(struct shell *sh)
{
	struct session_status st;

	session_get_status(sh->session, clock_now_ms(), &st);
	return st.conn != 0;
}

void shell_stop(struct shell *sh)
{
	feed_simple(sh, SESSION_EV_STOP, 0);
}

void shell_set_output(struct shell *sh, struct publish_queue *q, uint32_t tap)
{
	struct session_status st;

	sh->out = q;
	sh->out_tap = tap;
	transcript_out_set_queue(sh->tout, q, tap);
	session_get_status(sh->session, clock_now_ms(), &st);
	push_state(sh, &st);
}

void shell_set_ring_dropped(struct shell *sh, uint64_t ms)
{
	sh->ring_dropped_ms = ms;
}

void shell_wait(struct shell *sh, uint64_t waiter, uint32_t timeout_ms)
{
	struct session_event ev = { .type = SESSION_EV_WAIT, .id = waiter,
		.timeout_ms = timeout_ms, .retry_after_ms = -1 };

	feed(sh, &ev);
}

int shell_finalize(struct shell *sh)
{
	const struct dialect_message *f = &sh->dialect->finalize;

	if (!sh->streaming || sh->conn == 0 || f->len == 0)
		return -EAGAIN;
	pw_log_info("tap=%s conn=%" PRIu64 " finalize requested", sh->tap, sh->conn);
	return transport_send(sh->transport, sh->conn, f->data, f->len, f->text);
}

bool shell_stopped(struct shell *sh)
{
	return sh->stopped;
}

void shell_get_status(struct shell *sh, struct session_status *st)
{
	session_get_status(sh->session, clock_now_ms(), st);
}

void shell_shutdown(struct shell *sh)
{
	struct session_status st;

	for (int i = 0; i < SESSION_N_TIMERS; i++)
		cancel_timer(sh, (enum session_timer)i);
	session_get_status(sh->session, clock_now_ms(), &st);
	sh->shut_down = true;
	if (st.conn != 0)
		transport_close(sh->transport, st.conn, 1001, true);
	if (replay_dropped_ms(&sh->replay) > 0)
		pw_log_warn("tap=%s dropped %" PRIu64 " ms of audio while the service was away",
				sh->tap, replay_dropped_ms(&sh->replay));
}

void shell_free(struct shell *sh)
{
	if (sh == NULL)
		return;
	transport_destroy(sh->transport);
	session_free(sh->session);
	creds_wipe(&sh->secret);
	wipe_config_msg(sh);
	replay_clear(&sh->replay);
	transcript_out_free(sh->tout);
	free(sh->chunk);
	free(sh->result);
	free(sh->acts);
	free(sh);
}
