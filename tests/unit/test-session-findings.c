/* Regression tests for the session's second pass (issue 12 and issue 14
 * item 5): each finding as a named test on the virtual clock, and every
 * minimal sequence the model checker (test-session-model.c) shrank a
 * violation to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session-model.h"
#include "session-sim.h"

#include <spa/utils/defs.h>

static struct session_status status_of(struct sim *m)
{
	struct session_status st;

	session_get_status(m->s, m->now, &st);
	return st;
}

/* Connects and lets the service refuse with ev right after the upgrade,
 * until the tap gives up or max connections were made. */
static uint32_t refuse_after_upgrade(struct sim *m, struct session_event ev, uint32_t max)
{
	uint32_t conns = 0;

	while (conns < max) {
		enum session_state s = sim_state(m);
		if (s == SESSION_OFFLINE || s == SESSION_FAILED)
			break;
		if (s == SESSION_RECONNECTING) {
			sim_advance(m, m->timer_at[SESSION_TIMER_RETRY]);
			continue;
		}
		ev.id = sim_connect(m);
		conns++;
		assert_int_equal(sim_state(m), SESSION_STREAMING);
		sim_feed(m, ev);
		sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = ev.id));
	}
	return conns;
}

static void test_json_error_after_the_upgrade_climbs_the_backoff_to_offline(void **st)
{
	static const int transient[] = { 408, 429, 500, 503 };

	for (size_t i = 0; i < SPA_N_ELEMENTS(transient); i++) {
		struct sim *m = sim_new(NULL);
		sim_feed(m, EV(.type = SESSION_EV_START));
		uint32_t n = refuse_after_upgrade(m, EV(.type = SESSION_EV_SERVICE_ERROR,
				.cls = transient[i] == 503 ? ERR_TRANSIENT_NOW : ERR_TRANSIENT,
				.code = transient[i], .message = "service error: busy"), 50);
		/* Finding 1: the queued config made it `streaming`, which reset
		 * the counter; every error was the first one (371 connections
		 * in 10 s). */
		assert_int_equal(sim_state(m), SESSION_OFFLINE);
		assert_int_equal(n, m->cfg.fast_attempts);
		assert_non_null(strstr(status_of(m).error, "busy"));
		sim_free(m);
	}
}

static void test_json_401_after_the_upgrade_is_fatal_after_one_refresh(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	uint32_t n = refuse_after_upgrade(m, EV(.type = SESSION_EV_SERVICE_ERROR, .cls = ERR_AUTH,
			.code = 401, .message = "service error 401: Invalid API key"), 50);
	assert_int_equal(sim_state(m), SESSION_FAILED);
	assert_int_equal(n, 2);
	assert_int_equal(m->n_refresh, 1);
	assert_non_null(strstr(status_of(m).error, "Invalid API key"));
	sim_free(m);
}

static void test_close_1008_after_ready_is_fatal_after_one_refresh(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	uint32_t n = refuse_after_upgrade(m, EV(.type = SESSION_EV_CLOSED, .code = 1008,
			.message = "policy"), 50);
	assert_int_equal(sim_state(m), SESSION_FAILED);
	assert_int_equal(n, 2);
	sim_free(m);
}

static void test_progress_ends_the_run_of_failures_and_ready_does_not(void **st)
{
	struct sim *m = sim_new(NULL);
	uint64_t conn;

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_advance(m, m->now + 10000);		/* a failed attempt */
	sim_advance(m, m->timer_at[SESSION_TIMER_RETRY]);
	conn = sim_connect(m);
	sim_feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn));	/* no tokens, no progress */
	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = conn, .code = 1011));
	/* Streaming was not progress: this is the second failure of the run. */
	assert_int_equal(status_of(m).attempt, 2);
	assert_int_equal(sim_state(m), SESSION_RECONNECTING);
	sim_advance(m, m->timer_at[SESSION_TIMER_RETRY]);
	conn = sim_connect(m);
	sim_feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn, .count = 1));
	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = conn, .code = 1011));
	/* A word was progress: the run starts over, the retry comes at once. */
	assert_int_equal(status_of(m).attempt, 0);
	assert_int_equal(m->timer_at[SESSION_TIMER_RETRY], m->now);
	sim_free(m);
}

static void test_each_connection_has_its_own_progress_mark(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t conn = m->last_open;

	sim_feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn, .progress_ms = 60000));
	sim_feed(m, EV(.type = SESSION_EV_RECONNECT));		/* our own close */
	sim_finished(m, conn);
	sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = conn));
	conn = sim_connect(m);
	/* Finding 2: the new connection counts from 0 again; that is
	 * progress, not a stall. */
	for (int i = 1; i <= 100; i++) {
		sim_feed(m, EV(.type = SESSION_EV_AUDIO_SENT, .id = conn, .voiced = true));
		sim_feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn, .progress_ms = i * 100));
		sim_advance(m, m->now + 100);
	}
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	assert_int_equal(m->last_open, conn);
	sim_free(m);
}

static void test_fatal_errors_carry_the_message(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 1, .timeout_ms = 10000));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = m->last_open, .http_status = 402,
			.message = "the server answered the upgrade with HTTP 402"));
	/* Finding 3: the message was copied onto itself and came out "". */
	assert_int_equal(sim_state(m), SESSION_FAILED);
	assert_string_equal(status_of(m).error, "the server answered the upgrade with HTTP 402");
	assert_non_null(strstr(m->log, "HTTP 402"));
	assert_int_equal(m->n_answers[SESSION_ANSWER_ERROR], 1);
	sim_free(m);

	m = sim_streaming(NULL);
	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = m->last_open, .code = 1003, .message = "binary"));
	assert_int_equal(sim_state(m), SESSION_FAILED);
	assert_non_null(strstr(status_of(m).error, "1003: binary"));
	sim_free(m);
}

static void test_a_graceful_close_holds_the_next_open_until_it_is_released(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t old = m->last_open;

	/* Reconnect ends the connection cleanly: end of stream, `finished`,
	 * and the service closes; one that does not is closed with "bye". */
	sim_feed(m, EV(.type = SESSION_EV_RECONNECT));
	assert_int_equal(m->n_end, 1);
	assert_int_equal(m->n_close, 0);
	sim_feed(m, EV(.type = SESSION_EV_FINISHED, .id = old));
	sim_advance(m, m->now + m->cfg.stop_timeout_ms);
	assert_int_equal(m->last_close, old);
	assert_int_equal(m->n_abort, 0);
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	/* Finding 4: only aborts held it; a "bye" let the next one open. */
	assert_int_equal(m->n_open, 1);
	assert_int_equal(status_of(m).sockets, 1);
	sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = old));
	assert_int_equal(m->n_open, 2);
	sim_free(m);
}

static void test_the_last_of_start_and_stop_wins(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t conn = m->last_open;

	sim_feed(m, EV(.type = SESSION_EV_STOP));
	assert_int_equal(sim_state(m), SESSION_STOPPING);
	/* Finding 5: a Start while stopping was dropped without a word. */
	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_finished(m, conn);
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = conn));
	sim_connect(m);
	assert_int_equal(sim_state(m), SESSION_STREAMING);

	conn = m->last_open;
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	sim_finished(m, conn);
	assert_int_equal(sim_state(m), SESSION_STOPPED);
	sim_free(m);
}

static void test_a_network_change_while_connecting_starts_over_at_once(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	uint64_t stuck = m->last_open;
	sim_advance(m, m->now + 3000);		/* a SYN lost on the old path */
	sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
	/* Finding 8: it waited out the 10 s connect timeout. */
	assert_int_equal(m->last_close, stuck);
	assert_int_equal(m->n_fetch, 2);
	assert_int_equal(status_of(m).attempt, 1);	/* not a failure */
	sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = stuck));
	sim_connect(m);
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	sim_free(m);
}

static void test_a_resume_that_never_comes_is_not_waited_for_forever(void **st)
{
	struct sim *m = sim_streaming(NULL);

	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = m->last_open, .code = 1006));
	sim_feed(m, EV(.type = SESSION_EV_SUSPENDING));
	assert_int_equal(sim_state(m), SESSION_RECONNECTING);
	assert_int_not_equal(m->timer_at[SESSION_TIMER_RESUME], 0);
	sim_advance(m, m->now + m->cfg.resume_timeout_ms);
	/* Finding 8: reconnecting with no timer, for ever. */
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_non_null(strstr(m->log, "no resume signal"));
	sim_free(m);
}

static void test_before_sleep_the_last_finals_are_kept(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t conn = m->last_open;
	struct session_status s;

	sim_feed(m, EV(.type = SESSION_EV_SUSPENDING));
	assert_int_equal(m->n_end, 1);
	/* Finding 8: closed in the same breath, its finals were dropped. */
	assert_int_equal(m->n_close, 0);
	s = status_of(m);
	assert_int_equal(s.conn, conn);
	assert_int_equal(s.audio_conn, 0);	/* nothing new goes to it */
	sim_feed(m, EV(.type = SESSION_EV_END_SENT, .id = conn));
	sim_feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn, .count = 3));
	sim_finished(m, conn);
	assert_int_equal(m->n_close, 0);	/* the service closed it */
	assert_int_equal(sim_state(m), SESSION_RECONNECTING);
	sim_feed(m, EV(.type = SESSION_EV_RESUMED));
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	sim_free(m);
}

static struct sim *pinging(void)
{
	struct session_config c;

	sim_defaults(&c);
	c.ping_ms = 500;
	c.pong_timeout_ms = 2000;
	return sim_streaming(&c);
}

static void test_a_pong_to_an_older_ping_does_not_prove_a_new_path(void **st)
{
	struct sim *m = pinging();
	uint64_t conn = m->last_open, before;

	sim_advance(m, m->now + 500);		/* a periodic ping is out */
	before = m->last_ping;
	sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
	assert_int_equal(m->last_ping, before + 1);
	/* Finding 8: lws's own pong cancelled the check. */
	sim_feed(m, EV(.type = SESSION_EV_PONG, .id = conn, .seq = before));
	sim_feed(m, EV(.type = SESSION_EV_PONG, .id = conn, .seq = 0));
	sim_advance(m, m->now + 2000);
	assert_int_not_equal(sim_state(m), SESSION_STREAMING);
	assert_non_null(strstr(m->log, "after a network change"));
	sim_free(m);
}

static void test_a_half_open_socket_is_found_within_ping_plus_pong_timeout(void **st)
{
	struct sim *m = pinging();
	uint64_t conn = m->last_open, start;

	for (int i = 0; i < 20; i++) {		/* 10 s of answered pings */
		sim_advance(m, m->timer_at[SESSION_TIMER_PING]);
		sim_feed(m, EV(.type = SESSION_EV_PONG, .id = conn, .seq = m->last_ping));
	}
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	start = m->now;				/* the path dies now */
	while (sim_state(m) == SESSION_STREAMING)
		sim_advance(m, m->now + 10);
	assert_true(m->now - start <= m->cfg.ping_ms + m->cfg.pong_timeout_ms);
	assert_int_equal(m->last_close, conn);
	assert_int_equal(m->n_abort, 1);
	sim_free(m);
}

static struct sim *with_silence_handling(uint32_t max_session_ms)
{
	struct session_config c;

	sim_defaults(&c);
	c.idle_finalize_ms = 1500;
	c.idle_close_ms = 60000;
	c.max_session_ms = max_session_ms;
	return sim_streaming(&c);
}

/* ms of captured audio in 100 ms blocks, sent at once when a connection
 * takes it; the service processes speech as it comes (it may not report
 * progress on silence). */
static void audio(struct sim *m, bool voiced, uint32_t ms)
{
	struct session_status s;

	for (uint32_t t = 0; t < ms; t += 100) {
		sim_feed(m, EV(.type = SESSION_EV_AUDIO, .voiced = voiced));
		s = status_of(m);
		if (s.audio_conn != 0) {
			sim_feed(m, EV(.type = SESSION_EV_AUDIO_SENT, .id = s.audio_conn, .voiced = voiced));
			if (voiced)
				sim_progress(m, s.audio_conn);
		}
		sim_advance(m, m->now + 100);
	}
}

static void test_when_the_speech_stops_the_last_words_become_final(void **st)
{
	struct sim *m = with_silence_handling(0);

	audio(m, true, 3000);
	assert_int_equal(m->n_finalize, 0);
	audio(m, false, 1300);		/* the last speech ended 100 ms before */
	assert_int_equal(m->n_finalize, 0);
	audio(m, false, 200);
	assert_int_equal(m->n_finalize, 1);
	/* Issue 14 item 5: silence is not a stall, however long (no
	 * progress comes for silence, nothing expects it). */
	audio(m, false, 55000);
	assert_int_equal(m->n_finalize, 1);
	assert_int_equal(m->n_open, 1);
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	sim_free(m);
}

static void test_no_audio_at_all_finalizes_too(void **st)
{
	struct sim *m = with_silence_handling(0);

	audio(m, true, 1000);
	sim_advance(m, m->now + 1600);		/* the stream stopped: nothing comes */
	assert_int_equal(m->n_finalize, 1);
	sim_free(m);
}

static void test_a_long_silence_closes_and_speech_reopens_with_its_start(void **st)
{
	struct sim *m = with_silence_handling(0);
	uint64_t conn = m->last_open;

	audio(m, true, 1000);
	sim_progress(m, conn);
	audio(m, false, 61400);
	assert_int_equal(m->n_end, 1);		/* finalize and end of stream */
	sim_feed(m, EV(.type = SESSION_EV_END_SENT, .id = conn));
	sim_finished(m, conn);
	assert_int_equal(m->n_close, 0);	/* the service closed it */
	assert_int_equal(sim_state(m), SESSION_IDLE);
	assert_int_equal(status_of(m).audio, SESSION_AUDIO_PREROLL);
	sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = conn));
	audio(m, false, 30000);
	assert_int_equal(m->n_fetch, 1);	/* nobody speaks: nothing opens */
	audio(m, true, 100);
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_int_equal(status_of(m).audio, SESSION_AUDIO_KEEP);
	sim_free(m);
}

static void test_rollover_comes_at_a_pause_before_the_cap(void **st)
{
	struct sim *m = with_silence_handling(20000);
	uint64_t conn = m->last_open, at;

	audio(m, true, 15500);			/* the window opens at 15 s */
	assert_int_equal(m->n_end, 0);
	audio(m, false, 300);
	at = m->now;
	assert_int_equal(m->n_end, 1);
	assert_true(at < m->cfg.max_session_ms + 1000 + 1000);
	sim_feed(m, EV(.type = SESSION_EV_END_SENT, .id = conn));
	sim_finished(m, conn);
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_int_equal(m->n_abort, 0);
	assert_non_null(strstr(m->log, "a pause before the session cap"));
	sim_free(m);
}

static void test_rollover_comes_at_the_cap_without_a_pause(void **st)
{
	struct sim *m = with_silence_handling(20000);

	audio(m, true, 19900);
	assert_int_equal(m->n_end, 0);
	audio(m, true, 200);
	assert_int_equal(m->n_end, 1);
	assert_non_null(strstr(m->log, "reason=\"session cap\""));
	sim_free(m);
}

static void test_every_address_gets_a_try_within_the_attempt(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch, .count = 3));
	assert_int_equal(m->last.a[0].index, 0);
	for (uint32_t i = 1; i < 3; i++) {
		sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = m->last_open,
				.cls = ERR_TRANSIENT, .message = "refused"));
		assert_int_equal(sim_state(m), SESSION_CONNECTING);
		assert_int_equal(m->n_open, i + 1);
	}
	sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = m->last_open, .cls = ERR_TRANSIENT,
			.message = "refused"));
	assert_int_equal(sim_state(m), SESSION_RECONNECTING);
	sim_free(m);
}

static void test_a_stopped_tap_keeps_audio_for_a_quick_start_only(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	assert_int_equal(status_of(m).audio, SESSION_AUDIO_KEEP);
	sim_advance(m, m->now + m->cfg.hold_ms);
	assert_int_equal(status_of(m).audio, SESSION_AUDIO_DISCARD);
	sim_feed(m, EV(.type = SESSION_EV_START));
	assert_int_equal(status_of(m).audio, SESSION_AUDIO_KEEP);
	sim_free(m);
}

static void test_dropped_words_are_heard_again_without_counting_a_failure(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t conn = m->last_open;

	sim_feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn, .count = 256));
	sim_feed(m, EV(.type = SESSION_EV_RESYNC, .id = conn));
	assert_int_equal(m->last_close, conn);
	assert_int_equal(m->n_abort, 0);
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_int_equal(status_of(m).attempt, 1);
	sim_free(m);
}

/* Every violation the model checker found, as the minimal sequence it
 * shrank it to (the first ones on the first pass's machine). */
static const struct {
	const char *violation;
	uint32_t variant;
	struct model_op ops[16];
	size_t n;
} found[] = {
	{ "reconnecting with no timer armed (sleep, resume never came)", 0,
	  { { OP_START, 0, 0 }, { OP_SUSPEND, 0, 0 } }, 2 },
	{ "failed without a reason (close 1003)", 0,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_CLOSED, 0, 3 } }, 4 },
	{ "failed without a reason (HTTP 402)", 0,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_CONNECT_FAILED, 1, 13 } }, 3 },
	{ "waiter answered with an error without a reason", 0,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_WAIT, 0, 0 },
	    { OP_CLOSED, 0, 3 }, { OP_WAIT, 0, 0 } }, 6 },
	{ "SEND_END to a connection closed in the same step (pre-sleep finals lost)", 1,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_READY, 0, 0 },
	    { OP_SUSPEND, 0, 0 } }, 5 },
	{ "the last call was Start but the tap is stopped", 1,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_READY, 0, 0 },
	    { OP_STOP, 0, 0 }, { OP_START, 0, 0 } }, 6 },
	{ "attempt 8 without progress (ready reset the counter)", 1,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_ADVANCE, 7, 15 }, { OP_CREDS_OK, 0, 0 },
	    { OP_ADVANCE, 7, 3 }, { OP_ADVANCE, 7, 4 }, { OP_STOP, 0, 0 }, { OP_START, 0, 0 },
	    { OP_ADVANCE, 3, 4 }, { OP_ADVANCE, 6, 2 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 },
	    { OP_READY, 0, 0 }, { OP_AUDIO, 0, 1 } }, 14 },
	/* Found on the second pass's machine while it was written. */
	{ "closed before its end of stream was acknowledged (error while stopping)", 2,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_STOP, 0, 0 },
	    { OP_SERVICE_ERROR, 0, 0 } }, 5 },
	{ "the last call was Stop but the tap is offline (failure while stopping)", 2,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_STOP, 0, 0 },
	    { OP_NETWORK, 0, 0 }, { OP_ADVANCE, 5, 0 } }, 6 },
	{ "the machine claims progress that did not happen (stable period without answers)", 6,
	  { { OP_START, 0, 0 }, { OP_ADVANCE, 7, 3 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 } }, 4 },
	{ "the machine claims progress that did not happen (pings off)", 2,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_ADVANCE, 7, 5 },
	    { OP_AUDIO, 0, 13 } }, 5 },
	{ "the machine claims progress that did not happen (progress counted after the close)", 3,
	  { { OP_START, 0, 0 }, { OP_CREDS_OK, 0, 0 }, { OP_OPENED, 0, 0 }, { OP_READY, 0, 0 },
	    { OP_ADVANCE, 7, 12 }, { OP_NETWORK, 0, 0 }, { OP_PONG, 0, 0 }, { OP_CLOSED, 0, 0 } }, 8 },
};

static void test_every_sequence_the_model_checker_found_now_holds(void **st)
{
	for (size_t i = 0; i < SPA_N_ELEMENTS(found); i++) {
		struct session_config cfg;
		char v[1024];

		model_config(&cfg, found[i].variant);
		if (model_run(&cfg, FAULT_ANY, found[i].ops, found[i].n, v, sizeof(v)) >= 0)
			fail_msg("%s: %s", found[i].violation, v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_error_after_the_upgrade_climbs_the_backoff_to_offline),
		cmocka_unit_test(test_json_401_after_the_upgrade_is_fatal_after_one_refresh),
		cmocka_unit_test(test_close_1008_after_ready_is_fatal_after_one_refresh),
		cmocka_unit_test(test_progress_ends_the_run_of_failures_and_ready_does_not),
		cmocka_unit_test(test_each_connection_has_its_own_progress_mark),
		cmocka_unit_test(test_fatal_errors_carry_the_message),
		cmocka_unit_test(test_a_graceful_close_holds_the_next_open_until_it_is_released),
		cmocka_unit_test(test_the_last_of_start_and_stop_wins),
		cmocka_unit_test(test_a_network_change_while_connecting_starts_over_at_once),
		cmocka_unit_test(test_a_resume_that_never_comes_is_not_waited_for_forever),
		cmocka_unit_test(test_before_sleep_the_last_finals_are_kept),
		cmocka_unit_test(test_a_pong_to_an_older_ping_does_not_prove_a_new_path),
		cmocka_unit_test(test_a_half_open_socket_is_found_within_ping_plus_pong_timeout),
		cmocka_unit_test(test_when_the_speech_stops_the_last_words_become_final),
		cmocka_unit_test(test_no_audio_at_all_finalizes_too),
		cmocka_unit_test(test_a_long_silence_closes_and_speech_reopens_with_its_start),
		cmocka_unit_test(test_rollover_comes_at_a_pause_before_the_cap),
		cmocka_unit_test(test_rollover_comes_at_the_cap_without_a_pause),
		cmocka_unit_test(test_every_address_gets_a_try_within_the_attempt),
		cmocka_unit_test(test_a_stopped_tap_keeps_audio_for_a_quick_start_only),
		cmocka_unit_test(test_dropped_words_are_heard_again_without_counting_a_failure),
		cmocka_unit_test(test_every_sequence_the_model_checker_found_now_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
