/* I/O shell of a tap's session (see session-shell.h): two dispatch
 * switches, the machine's actions out and the transport's events in.
 * Nothing here calls back into the machine while it carries out an action:
 * the transport reports only from the loop, the helper thread through
 * blocking_collect(). */
#include "session-shell.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <pipewire/log.h>
#include <spa/utils/defs.h>

#include "clock.h"
#include "config-map.h"
#include "publish-queue.h"
#include "session-timers.h"
#include "tap-state.h"
#include "transcript-out.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

struct shell {
	char tap[CONFIG_NAME_MAX];
	char session_id[40];
	struct lws_context *ctx;
	struct blocking *blocking;
	struct dialect_params params;
	struct connect_job_params job;

	struct session *session;
	struct session_status st;	/* as of the last event */
	struct session_actions acts;
	struct transport *transport;
	struct datapath *dp;
	struct transcript_out *tout;
	struct tap_state state;
	struct session_timers timers;

	/* The newest attempt: its job runs, older ones stop. What it brought
	 * (key material, addresses) is kept until its socket is upgraded. */
	_Atomic uint64_t attempt;
	struct connect_result next;
	lws_sorted_usec_list_t job_failed;	/* a job that could not even start */
	bool shut_down;			/* after shell_shutdown(): ignore everything */
};

static void run_action(struct shell *sh, const struct session_action *a);

static void feed(struct shell *sh, const struct session_event *ev)
{
	if (sh->shut_down)
		return;
	session_handle(sh->session, clock_now_ms(), ev, &sh->acts);
	for (uint32_t i = 0; i < sh->acts.n; i++)
		run_action(sh, &sh->acts.a[i]);
	session_get_status(sh->session, clock_now_ms(), &sh->st);
	datapath_follow(sh->dp, &sh->st, clock_now_ms());
}

/* After every event: what is due goes out, and the machine hears of it. */
static void pump(struct shell *sh)
{
	struct datapath_sent sent;

	datapath_pump(sh->dp, clock_now_ms(), &sent);
	if (sent.conn != 0)
		feed(sh, &(struct session_event){ .type = SESSION_EV_AUDIO_SENT, .id = sent.conn,
				.voiced = sent.voiced });
	if (sent.end_sent)
		feed(sh, &(struct session_event){ .type = SESSION_EV_END_SENT, .id = sent.conn });
}

/* ---- connect job: credentials and DNS on the helper thread ---- */

static void job_done(void *owner, uint64_t attempt, int res, const struct creds_error *err,
		struct connect_result *r)
{
	struct shell *sh = owner;

	/* Only the newest attempt can still open. */
	if (res == 0 && attempt == atomic_load(&sh->attempt)) {
		connect_result_wipe(&sh->next);
		sh->next = *r;
		r->config = NULL;
	}
	shell_event(sh, &(struct session_event){
		.type = res == 0 ? SESSION_EV_CREDS_READY : SESSION_EV_CREDS_FAILED,
		.id = attempt, .count = r->n_addresses, .cls = err->cls,
		.retry_after_ms = SPA_MAX(err->retry_after_ms, (int64_t)0), .message = err->message });
}

static void job_failed(lws_sorted_usec_list_t *sul)
{
	struct shell *sh = lws_container_of(sul, struct shell, job_failed);

	feed(sh, &(struct session_event){ .type = SESSION_EV_CREDS_FAILED,
			.id = atomic_load(&sh->attempt), .cls = ERR_TRANSIENT, .message = "out of memory" });
}

/* Every attempt reads the key source again and fetches a new temporary key,
 * so a refresh after a 401 needs nothing special here. */
static void fetch_creds(struct shell *sh, uint64_t attempt)
{
	connect_result_wipe(&sh->next);		/* a newer attempt makes it useless */
	atomic_store(&sh->attempt, attempt);
	if (connect_job_submit(sh->blocking, &sh->job, attempt, &sh->attempt, job_done, sh) < 0)
		lws_sul_schedule(sh->ctx, 0, &sh->job_failed, job_failed, 0);
}

static void open_conn(struct shell *sh, uint64_t conn, uint32_t index)
{
	const char *address = index < sh->next.n_addresses ? sh->next.addresses[index] : "";

	transport_open(sh->transport, conn, address, sh->next.auth[0] ? sh->next.auth : NULL);
	/* "socket opened"/"socket gone" let tests check one socket at a time. */
	pw_log_debug("tap=%s conn=%" PRIu64 " socket opened to %s:%u address=%s key=<redacted:%s>",
			sh->tap, conn, sh->job.host, sh->job.port, address, sh->next.key_source);
}


static const enum spa_log_level log_levels[] = {
	[SESSION_LOG_DEBUG] = SPA_LOG_LEVEL_DEBUG, [SESSION_LOG_INFO] = SPA_LOG_LEVEL_INFO,
	[SESSION_LOG_WARN] = SPA_LOG_LEVEL_WARN, [SESSION_LOG_ERROR] = SPA_LOG_LEVEL_ERROR,
};

static void run_action(struct shell *sh, const struct session_action *a)
{
	const struct dialect_message *f = &sh->job.dialect->finalize;

	switch (a->type) {
	case SESSION_ACT_FETCH_CREDS:
		fetch_creds(sh, a->id);
		break;
	case SESSION_ACT_OPEN:
		open_conn(sh, a->id, a->index);
		break;
	case SESSION_ACT_SEND_CONFIG:
		/* A dialect whose config rides in the URL (Deepgram) has no
		 * message: never an empty one, which some services take for
		 * the end of the stream. */
		if (sh->next.config != NULL && sh->next.config_len > 0)
			transport_send(sh->transport, a->id, sh->next.config, sh->next.config_len, true);
		connect_result_wipe(&sh->next);		/* the key is on the wire now */
		break;
	case SESSION_ACT_CLOSE:
		transport_close(sh->transport, a->id, a->code, a->abort);
		break;
	case SESSION_ACT_SEND_END:
		datapath_end(sh->dp, a->id, a->backlog, clock_now_ms());
		break;
	case SESSION_ACT_SEND_FINALIZE:
		if (f->len > 0)
			transport_send(sh->transport, a->id, f->data, f->len, f->text);
		break;
	case SESSION_ACT_SEND_PING:
		transport_ping(sh->transport, a->id, a->seq);
		break;
	case SESSION_ACT_ARM_TIMER:
		session_timers_arm(&sh->timers, a->timer, a->at_ms);
		break;
	case SESSION_ACT_CANCEL_TIMER:
		session_timers_cancel(&sh->timers, a->timer);
		break;
	case SESSION_ACT_ANSWER:
		if (sh->state.out != NULL)
			publish_queue_push_answer(sh->state.out, sh->state.tap, a->id, a->answer, a->text);
		break;
	case SESSION_ACT_PUBLISH:
		session_get_status(sh->session, clock_now_ms(), &sh->st);
		tap_state_publish(&sh->state, &sh->st, sh->dp, sh->tout, clock_now_ms());
		break;
	case SESSION_ACT_LOG:
		pw_log(log_levels[a->level], "%s", a->text);
		break;
	}
}

static void timer_fired(void *data, enum session_timer kind)
{
	shell_event(data, &(struct session_event){ .type = SESSION_EV_TIMER, .timer = kind });
}

/* ---- transport events ---- */

static void log_gone(struct shell *sh, uint64_t conn, const char *how)
{
	pw_log_debug("tap=%s conn=%" PRIu64 " socket gone (%s)", sh->tap, conn, how);
}

static void on_opened(void *data, uint64_t conn)
{
	shell_event(data, &(struct session_event){ .type = SESSION_EV_OPENED, .id = conn });
}

static void on_connect_failed(void *data, uint64_t conn, enum err_class cls, int http_status,
		int64_t retry_after_ms, const char *message)
{
	struct shell *sh = data;

	log_gone(sh, conn, "connect failed");
	/* An HTTP answer classifies by status; otherwise the transport knows. */
	shell_event(sh, &(struct session_event){ .type = SESSION_EV_CONNECT_FAILED, .id = conn,
			.cls = http_status > 0 ? ERR_NONE : cls, .http_status = http_status,
			.retry_after_ms = retry_after_ms, .message = message });
}

static void on_writeable(void *data, uint64_t conn)
{
	pump(data);
}

static void on_message(void *data, uint64_t conn, const char *msg, size_t len, bool binary)
{
	struct shell *sh = data;
	struct session_event ev[DATAPATH_MAX_EVENTS];
	uint32_t n = 0;

	if (!binary && conn == sh->st.conn)
		n = datapath_message(sh->dp, conn, msg, len, clock_now_ms(), ev);
	for (uint32_t i = 0; i < n; i++)
		feed(sh, &ev[i]);
	pump(sh);
}

static void on_pong(void *data, uint64_t conn, uint64_t seq)
{
	feed(data, &(struct session_event){ .type = SESSION_EV_PONG, .id = conn, .seq = seq });
}

static void on_closed(void *data, uint64_t conn, int code, const char *reason)
{
	log_gone(data, conn, "closed by the peer or the network");
	shell_event(data, &(struct session_event){ .type = SESSION_EV_CLOSED, .id = conn,
			.code = code, .message = reason });
}

static void on_released(void *data, uint64_t conn)
{
	log_gone(data, conn, "closed by us");
	shell_event(data, &(struct session_event){ .type = SESSION_EV_RELEASED, .id = conn });
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

/* ---- audio in ---- */

static int dp_send(void *data, uint64_t conn, const void *buf, size_t len, bool text)
{
	return transport_send(((struct shell *)data)->transport, conn, buf, len, text);
}

static uint32_t dp_queued(void *data, uint64_t conn)
{
	return transport_queued(((struct shell *)data)->transport, conn);
}

static const struct datapath_ops datapath_ops = { .send = dp_send, .queued = dp_queued };

void shell_audio(struct shell *sh, const void *data, uint32_t bytes)
{
	shell_event(sh, &(struct session_event){ .type = SESSION_EV_AUDIO,
			.voiced = datapath_push(sh->dp, data, bytes) });
}

void shell_died(struct shell *sh, const char *why)
{
	struct session_status st = sh->st;

	st.state = SESSION_FAILED;
	st.next_retry_ms = -1;
	snprintf(st.error, sizeof(st.error), "%s", why);
	tap_state_publish(&sh->state, &st, sh->dp, sh->tout, clock_now_ms());
}

void shell_gap(struct shell *sh, uint64_t at_ms, uint64_t len_ms, const char *reason)
{
	transcript_out_gap(sh->tout, (int64_t)at_ms, (int64_t)(at_ms + len_ms), reason);
}

void shell_tick(struct shell *sh)
{
	pump(sh);
	transcript_out_tick(sh->tout, clock_now_ms());
	tap_state_refresh(&sh->state, &sh->st, sh->dp, sh->tout, clock_now_ms(), false);
}

/* ---- lifecycle ---- */

struct shell *shell_new(const char *tap, const struct transcribe_config *cfg,
		struct lws_context *ctx, struct blocking *blocking, struct iothread *io,
		char *err, size_t err_size)
{
	struct shell *sh = calloc(1, sizeof(*sh));
	uint64_t now = clock_now_ms();
	struct config_map map;

	if (sh == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	snprintf(sh->tap, sizeof(sh->tap), "%s", tap);
	/* A session id that is unique enough to find one run in the logs. */
	snprintf(sh->session_id, sizeof(sh->session_id), "%08x", (unsigned)(now ^ (uintptr_t)sh));
	if (config_map_all(cfg, sh->tap, sh->session_id, now * 6364136223846793005ULL + (uintptr_t)sh,
			&sh->params, &map, err, err_size) < 0) {
		free(sh);
		return NULL;
	}
	sh->ctx = ctx;
	sh->blocking = blocking;
	sh->job = map.job;
	sh->state.session_id = sh->session_id;
	sh->tout = transcript_out_new(tap, sh->session_id, cfg->rate,
			cfg->journal ? cfg->journal_dir : NULL, io);
	if (sh->tout != NULL)
		transcript_out_set_journal_limit(sh->tout, (uint64_t)cfg->journal_max_mb << 20);
	sh->transport = transport_new(ctx, &map.transport, &transport_events, sh);
	sh->session = session_new(&map.session);
	map.datapath.io = io;
	if (sh->tout == NULL || sh->transport == NULL || sh->session == NULL ||
	    (sh->dp = datapath_new(&map.datapath, map.dialect, sh->tout, &datapath_ops, sh,
			err, err_size)) == NULL) {
		snprintf(err, err_size, "out of memory");
		shell_free(sh);
		return NULL;
	}
	session_timers_init(&sh->timers, ctx, timer_fired, sh);
	session_get_status(sh->session, now, &sh->st);
	return sh;
}

void shell_event(struct shell *sh, const struct session_event *ev)
{
	feed(sh, ev);
	pump(sh);
}

bool shell_has_socket(struct shell *sh)
{
	return sh->st.sockets > 0;
}

bool shell_stopped(struct shell *sh)
{
	return sh->st.state == SESSION_STOPPED || sh->st.state == SESSION_IDLE;
}

void shell_set_output(struct shell *sh, struct publish_queue *q, uint32_t tap)
{
	sh->state.out = q;
	sh->state.tap = tap;
	transcript_out_set_queue(sh->tout, q, tap);
	tap_state_refresh(&sh->state, &sh->st, sh->dp, sh->tout, clock_now_ms(), true);
}

void shell_set_ring_dropped(struct shell *sh, uint64_t ms)
{
	sh->state.ring_dropped_ms = ms;
}

void shell_shutdown(struct shell *sh)
{
	session_timers_cancel_all(&sh->timers);
	lws_sul_cancel(&sh->job_failed);
	sh->shut_down = true;
	datapath_flush(sh->dp);
	if (sh->st.conn != 0)
		transport_close(sh->transport, sh->st.conn, 1001, true);
	if (datapath_dropped_ms(sh->dp) > 0)
		pw_log_warn("tap=%s dropped %" PRIu64 " ms of audio while the service was away",
				sh->tap, datapath_dropped_ms(sh->dp));
}

void shell_free(struct shell *sh)
{
	if (sh == NULL)
		return;
	transport_destroy(sh->transport);
	session_free(sh->session);
	datapath_free(sh->dp);
	connect_result_wipe(&sh->next);
	transcript_out_free(sh->tout);
	free(sh);
}
