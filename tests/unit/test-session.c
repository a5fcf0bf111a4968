/* The session state machine under a virtual clock: every invariant of
 * DESIGN.md §5 as a named test. A small simulator plays the I/O shell: it
 * keeps the armed timers and fires them as the clock advances. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session-sim.h"

#define SPA_MIN(a, b) ((a) < (b) ? (a) : (b))

static void test_100_start_and_reconnect_requests_while_connecting_make_one_attempt(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	for (int i = 0; i < 100; i++)
		sim_feed(m, EV(.type = i % 2 ? SESSION_EV_START : SESSION_EV_RECONNECT));
	assert_int_equal(m->n_fetch, 1);
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	for (int i = 0; i < 100; i++)
		sim_feed(m, EV(.type = SESSION_EV_RECONNECT));
	assert_int_equal(m->n_open, 1);
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	sim_free(m);
}

static void test_duplicate_opened_is_ignored(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t conn = m->last_open;

	sim_feed(m, EV(.type = SESSION_EV_OPENED, .id = conn));
	sim_feed(m, EV(.type = SESSION_EV_READY, .id = conn));
	assert_int_equal(m->last.n, 0);
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	assert_int_equal(m->n_close, 0);
	sim_free(m);
}

static void test_opened_after_stop_closes_that_socket_and_changes_nothing(void **st)
{
	struct sim *m = sim_new(NULL);
	uint64_t conn;

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	conn = m->last_open;
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	assert_int_equal(sim_state(m), SESSION_STOPPED);
	uint32_t closes = m->n_close;
	sim_feed(m, EV(.type = SESSION_EV_OPENED, .id = conn));
	assert_int_equal(m->last.n, 1);
	assert_int_equal(m->last.a[0].type, SESSION_ACT_CLOSE);
	assert_int_equal(m->last.a[0].id, conn);
	assert_int_equal(m->n_close, closes + 1);
	sim_feed(m, EV(.type = SESSION_EV_READY, .id = conn));
	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = conn, .code = 1006));
	assert_int_equal(sim_state(m), SESSION_STOPPED);
	assert_int_equal(m->n_open, 1);
	sim_free(m);
}

static void test_stale_connection_callbacks_are_ignored(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t old = m->last_open;

	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = old, .code = 1006));
	sim_advance(m, m->now + 20000);
	sim_connect(m);
	assert_int_not_equal(m->last_open, old);
	/* Late news about the dead socket must not touch the new one. */
	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = old, .code = 1011));
	sim_feed(m, EV(.type = SESSION_EV_SERVICE_ERROR, .id = old, .cls = ERR_FATAL, .message = "x"));
	sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = old, .cls = ERR_FATAL));
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	assert_int_equal(m->n_open, 2);
	sim_free(m);
}

static void test_waiter_is_answered_ready_once(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 1, .timeout_ms = 10000));
	sim_connect(m);
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 2, .timeout_ms = 10000));
	sim_advance(m, m->now + 60000);
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	assert_int_equal(m->answered[1], 1);
	assert_int_equal(m->answered[2], 1);
	assert_int_equal(m->n_answers[SESSION_ANSWER_READY], 2);
	sim_free(m);
}

static void test_waiter_is_answered_error_once_on_fatal(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 1, .timeout_ms = 10000));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = m->last_open, .http_status = 404,
				.message = "HTTP 404"));
	assert_int_equal(sim_state(m), SESSION_FAILED);
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 2, .timeout_ms = 10000));
	sim_advance(m, m->now + 60000);
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	assert_int_equal(m->answered[1], 1);
	assert_int_equal(m->answered[2], 1);
	assert_int_equal(m->n_answers[SESSION_ANSWER_ERROR], 2);
	sim_free(m);
}

static void test_waiter_is_answered_timeout_once(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 1, .timeout_ms = 3000));
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 2, .timeout_ms = 5000));
	sim_advance(m, m->now + 3000);
	assert_int_equal(m->answered[1], 1);
	assert_int_equal(m->answered[2], 0);
	sim_advance(m, m->now + 2000);
	assert_int_equal(m->answered[2], 1);
	sim_connect(m);
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	assert_int_equal(m->n_answers[SESSION_ANSWER_TIMEOUT], 2);
	assert_int_equal(m->n_answers[SESSION_ANSWER_READY], 0);
	sim_free(m);
}

static void test_waiter_is_answered_cancelled_once_on_stop(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 1, .timeout_ms = 10000));
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	sim_feed(m, EV(.type = SESSION_EV_WAIT, .id = 2, .timeout_ms = 10000));
	sim_advance(m, m->now + 60000);
	assert_int_equal(m->answered[1], 1);
	assert_int_equal(m->answered[2], 1);
	assert_int_equal(m->n_answers[SESSION_ANSWER_CANCELLED], 2);
	sim_free(m);
}

/* Drives a fresh session into `target` by the shortest script. */
static struct sim *reach(enum session_state target)
{
	struct sim *m = sim_new(NULL);

	if (target == SESSION_IDLE)
		return m;
	sim_feed(m, EV(.type = SESSION_EV_START));
	switch (target) {
	case SESSION_CONNECTING:
		break;
	case SESSION_STREAMING:
		sim_connect(m);
		break;
	case SESSION_RECONNECTING:
		sim_connect(m);
		sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = m->last_open, .code = 1006));
		sim_feed(m, EV(.type = SESSION_EV_CREDS_FAILED, .id = m->last_fetch, .cls = ERR_TRANSIENT,
					.retry_after_ms = -1));
		break;
	case SESSION_OFFLINE:
		for (int i = 0; i < 6; i++) {
			sim_feed(m, EV(.type = SESSION_EV_CREDS_FAILED, .id = m->last_fetch,
						.cls = ERR_TRANSIENT, .retry_after_ms = -1));
			if (sim_state(m) == SESSION_RECONNECTING)
				sim_advance(m, m->now + 20000);
		}
		break;
	case SESSION_FAILED:
		sim_feed(m, EV(.type = SESSION_EV_CREDS_FAILED, .id = m->last_fetch, .cls = ERR_FATAL,
					.retry_after_ms = -1));
		break;
	case SESSION_STOPPING:
		sim_connect(m);
		sim_feed(m, EV(.type = SESSION_EV_STOP));
		break;
	case SESSION_STOPPED:
		sim_feed(m, EV(.type = SESSION_EV_STOP));
		break;
	default:
		break;
	}
	assert_int_equal(sim_state(m), target);
	return m;
}

static void test_stop_works_in_every_state_and_nothing_changes_after(void **st)
{
	for (int target = SESSION_IDLE; target <= SESSION_STOPPED; target++) {
		struct sim *m = reach((enum session_state)target);
		uint64_t conn = m->last_open, opens = m->n_open;

		sim_feed(m, EV(.type = SESSION_EV_STOP));
		sim_advance(m, m->now + 60000);	/* the stop grace and the hold expire */
		assert_int_equal(sim_state(m), target == SESSION_IDLE ? SESSION_STOPPED : SESSION_STOPPED);
		for (int t = 0; t < SESSION_N_TIMERS; t++)
			assert_int_equal(m->timer_at[t], 0);
		/* Late callbacks of every kind change nothing. */
		sim_feed(m, EV(.type = SESSION_EV_READY, .id = conn));
		sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = conn, .code = 1006));
		sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
		sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
		sim_feed(m, EV(.type = SESSION_EV_RESUMED));
		sim_feed(m, EV(.type = SESSION_EV_TIMER, .timer = SESSION_TIMER_RETRY));
		sim_advance(m, m->now + 100000);
		assert_int_equal(sim_state(m), SESSION_STOPPED);
		assert_int_equal(m->n_open, opens);
		sim_free(m);
	}
}

static void test_stop_while_streaming_sends_end_and_waits_for_finished(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t conn = m->last_open;

	sim_feed(m, EV(.type = SESSION_EV_STOP));
	assert_int_equal(sim_state(m), SESSION_STOPPING);
	assert_int_equal(m->n_end, 1);
	assert_int_equal(m->n_close, 0);
	sim_finished(m, conn);
	assert_int_equal(sim_state(m), SESSION_STOPPED);
	assert_int_equal(m->n_close, 0);	/* the service closed it */
	sim_free(m);

	/* A service that says `finished` but does not close gets our close. */
	m = sim_streaming(NULL);
	conn = m->last_open;
	sim_feed(m, EV(.type = SESSION_EV_STOP));
	sim_feed(m, EV(.type = SESSION_EV_FINISHED, .id = conn));
	assert_int_equal(m->n_close, 0);
	sim_advance(m, m->now + m->cfg.stop_timeout_ms);
	assert_int_equal(sim_state(m), SESSION_STOPPED);
	assert_int_equal(m->last_close, conn);
	assert_int_equal(m->n_abort, 0);
	sim_free(m);
}

static void test_backoff_first_retry_is_immediate_then_full_jitter_within_bounds(void **st)
{
	struct session_config c;
	sim_defaults(&c);

	assert_int_equal(session_backoff_ms(&c, 1, 12345), 0);
	for (uint32_t n = 2; n < 40; n++) {
		uint64_t ceiling = n - 2 >= 32 ? c.cap_ms : (uint64_t)c.base_ms << (n - 2);
		if (ceiling > c.cap_ms)
			ceiling = c.cap_ms;
		assert_int_equal(session_backoff_ms(&c, n, 0), 0);
		assert_int_equal(session_backoff_ms(&c, n, ceiling), ceiling);
		assert_int_equal(session_backoff_ms(&c, n, UINT64_MAX), UINT64_MAX % (ceiling + 1));
		for (uint64_t r = 0; r < 1000; r++)
			assert_true(session_backoff_ms(&c, n, r * 2654435761u) <= ceiling);
	}
}

static void test_failed_attempts_follow_the_schedule_then_go_offline(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	for (uint32_t n = 1; n <= 6; n++) {
		uint64_t at = m->now;
		sim_feed(m, EV(.type = SESSION_EV_CREDS_FAILED, .id = m->last_fetch, .cls = ERR_TRANSIENT,
					.retry_after_ms = -1, .message = "refused"));
		if (n < 6) {
			uint64_t ceiling = (uint64_t)1000 << (n - 1);
			assert_int_equal(sim_state(m), SESSION_RECONNECTING);
			assert_true(m->timer_at[SESSION_TIMER_RETRY] - at <= (ceiling > 16000 ? 16000 : ceiling));
			sim_advance(m, m->timer_at[SESSION_TIMER_RETRY]);
			assert_int_equal(m->n_fetch, n + 1);
		}
	}
	assert_int_equal(sim_state(m), SESSION_OFFLINE);
	uint64_t probe = m->timer_at[SESSION_TIMER_RETRY] - m->now;
	assert_true(probe >= 15000 && probe <= 45000);
	sim_advance(m, m->timer_at[SESSION_TIMER_RETRY]);
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	sim_connect(m);
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	sim_free(m);
}

static void test_close_codes_classify_as_the_table_says(void **st)
{
	static const struct { int code; enum err_class cls; } rows[] = {
		{ 1000, ERR_TRANSIENT }, { 1001, ERR_TRANSIENT_NOW }, { 1002, ERR_TRANSIENT },
		{ 1003, ERR_FATAL }, { 1006, ERR_TRANSIENT }, { 1007, ERR_FATAL },
		{ 1008, ERR_AUTH }, { 1009, ERR_FATAL }, { 1011, ERR_TRANSIENT },
		{ 1012, ERR_TRANSIENT_NOW }, { 1013, ERR_TRANSIENT }, { 1014, ERR_TRANSIENT },
		{ 4000, ERR_TRANSIENT },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (session_classify_close(rows[i].code) != rows[i].cls)
			fail_msg("close %d: got %d want %d", rows[i].code,
					session_classify_close(rows[i].code), rows[i].cls);
	}
}

static void test_upgrade_statuses_classify_as_the_table_says(void **st)
{
	static const struct { int status; enum err_class cls; } rows[] = {
		{ 400, ERR_FATAL }, { 401, ERR_AUTH }, { 402, ERR_FATAL }, { 403, ERR_AUTH },
		{ 404, ERR_FATAL }, { 408, ERR_TRANSIENT }, { 429, ERR_TRANSIENT },
		{ 500, ERR_TRANSIENT }, { 502, ERR_TRANSIENT }, { 503, ERR_TRANSIENT },
		{ 504, ERR_TRANSIENT },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(session_classify_http(rows[i].status), rows[i].cls);
}

static void test_1012_and_1001_reconnect_at_once(void **st)
{
	int codes[] = { 1001, 1012 };
	for (int i = 0; i < 2; i++) {
		struct sim *m = sim_streaming(NULL);
		sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = m->last_open, .code = codes[i]));
		assert_int_equal(sim_state(m), SESSION_CONNECTING);
		assert_int_equal(m->n_fetch, 2);
		sim_free(m);
	}
}

static void test_401_gets_one_refresh_then_is_fatal(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = m->last_open, .http_status = 401,
				.message = "HTTP 401"));
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_int_equal(m->n_refresh, 1);
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = m->last_open, .http_status = 401,
				.message = "HTTP 401"));
	assert_int_equal(sim_state(m), SESSION_FAILED);
	assert_int_equal(m->n_open, 2);
	sim_advance(m, m->now + 600000);
	assert_int_equal(m->n_open, 2);
	struct session_status stt;
	session_get_status(m->s, m->now, &stt);
	assert_non_null(strstr(stt.error, "credentials refused"));
	sim_free(m);
}

static void test_1008_close_counts_as_401(void **st)
{
	struct sim *m = sim_streaming(NULL);

	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = m->last_open, .code = 1008));
	assert_int_equal(m->n_refresh, 1);
	sim_free(m);
}

static void test_retry_after_is_honoured(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	sim_feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = m->last_open, .http_status = 503,
				.retry_after_ms = 7000, .message = "HTTP 503"));
	assert_int_equal(sim_state(m), SESSION_RECONNECTING);
	assert_true(m->timer_at[SESSION_TIMER_RETRY] - m->now >= 7000);
	sim_advance(m, m->now + 6999);
	assert_int_equal(m->n_fetch, 1);
	sim_free(m);
}

static void test_network_event_during_backoff_attempts_at_once(void **st)
{
	struct sim *m = reach(SESSION_RECONNECTING);
	uint32_t fetches = m->n_fetch;

	sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_int_equal(m->n_fetch, fetches + 1);
	assert_int_equal(m->timer_at[SESSION_TIMER_RETRY], 0);
	sim_free(m);
}

static void test_network_event_while_offline_probes_at_once(void **st)
{
	struct sim *m = reach(SESSION_OFFLINE);
	uint32_t fetches = m->n_fetch;

	sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_int_equal(m->n_fetch, fetches + 1);
	sim_free(m);
}

static void test_network_event_while_streaming_validates_the_path_with_a_ping(void **st)
{
	struct sim *m = sim_streaming(NULL);

	sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
	assert_int_equal(m->n_ping, 1);
	sim_feed(m, EV(.type = SESSION_EV_PONG, .id = m->last_open, .seq = m->last_ping));
	sim_advance(m, m->now + 10000);
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
	sim_advance(m, m->now + 2000);		/* no pong: the path is gone */
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	sim_free(m);
}

static void test_no_progress_while_audio_flows_is_a_half_open_socket(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t conn = m->last_open;

	for (int i = 0; i < 50; i++) {		/* 5 s of audio with progress */
		sim_feed(m, EV(.type = SESSION_EV_AUDIO_SENT, .id = conn, .voiced = true));
		sim_progress(m, conn);
		sim_advance(m, m->now + 100);
	}
	assert_int_equal(sim_state(m), SESSION_STREAMING);
	for (int i = 0; i < 81; i++) {		/* 8.1 s without */
		sim_feed(m, EV(.type = SESSION_EV_AUDIO_SENT, .id = conn, .voiced = true));
		sim_advance(m, m->now + 100);
	}
	assert_int_not_equal(sim_state(m), SESSION_STREAMING);
	assert_true(m->n_close >= 1);
	sim_free(m);
}

static void test_connect_timeout_retries(void **st)
{
	struct sim *m = sim_new(NULL);

	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	sim_advance(m, m->now + 10000);
	assert_int_equal(m->n_close, 1);
	assert_int_equal(sim_state(m), SESSION_RECONNECTING);
	sim_free(m);
}

static void test_suspend_closes_cleanly_and_resume_reconnects_at_once(void **st)
{
	struct sim *m = sim_streaming(NULL);

	sim_feed(m, EV(.type = SESSION_EV_SUSPENDING));
	assert_int_equal(m->n_end, 1);
	assert_int_equal(m->n_close, 0);	/* its last finals are still to come */
	sim_finished(m, m->last_open);
	assert_int_equal(m->n_close, 0);	/* the service closed it */
	assert_int_equal(sim_state(m), SESSION_RECONNECTING);
	sim_advance(m, m->now + 20000);		/* asleep: the clock barely moves */
	assert_int_equal(m->n_fetch, 1);
	sim_feed(m, EV(.type = SESSION_EV_RESUMED));
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	assert_int_equal(m->n_fetch, 2);
	sim_free(m);
}

static void test_log_lines_carry_the_correlation_ids(void **st)
{
	struct sim *m = sim_streaming(NULL);
	char *line = m->log;

	while (*line) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		assert_non_null(strstr(line, "tap=t session=s1 attempt="));
		assert_non_null(strstr(line, " conn="));
		line = nl + 1;
	}
	sim_free(m);
}

/* 10 000 clients lose the same server at the same instant: how spread out
 * are their reconnects? Full jitter vs. the "2^n s + 0–500 ms" schedule. */
static void test_full_jitter_spreads_a_fleet_better_than_fixed_steps(void **st)
{
	enum { N = 10000, ATTEMPTS = 5 };
	struct session_config c;
	uint64_t rng = 7;
	double worst_ours = 0, worst_seed = 0;

	sim_defaults(&c);
	for (int n = 2; n <= ATTEMPTS; n++) {
		static uint32_t ours[64], seed[64];	/* arrivals per 250 ms bucket */
		memset(ours, 0, sizeof(ours));
		memset(seed, 0, sizeof(seed));
		for (int i = 0; i < N; i++) {
			rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
			uint64_t a = session_backoff_ms(&c, (uint32_t)n, rng);
			uint64_t b = ((uint64_t)1000 << (n - 1)) + rng % 501;
			ours[SPA_MIN(a / 250, 63u)]++;
			seed[SPA_MIN(b / 250, 63u)]++;
		}
		uint32_t peak_ours = 0, peak_seed = 0;
		for (int k = 0; k < 64; k++) {
			peak_ours = ours[k] > peak_ours ? ours[k] : peak_ours;
			peak_seed = seed[k] > peak_seed ? seed[k] : peak_seed;
		}
		printf("attempt %d: peak reconnects per 250 ms: full jitter %u, 2^n s + 0-500 ms %u\n",
				n, peak_ours, peak_seed);
		worst_ours = fmax(worst_ours, peak_ours);
		worst_seed = fmax(worst_seed, peak_seed);
	}
	/* Fixed steps put a third or more of the fleet into one 250 ms window. */
	assert_true(worst_ours < worst_seed / 2);
}

static void test_next_socket_opens_only_after_the_old_one_is_released(void **st)
{
	struct sim *m = sim_streaming(NULL);
	uint64_t old = m->last_open;

	/* Half-open: the old socket is aborted, but it still exists until the
	 * transport says it is gone. */
	sim_feed(m, EV(.type = SESSION_EV_AUDIO_SENT, .id = old, .voiced = true));
	sim_advance(m, m->now + 8000);
	assert_int_equal(m->last_close, old);
	assert_int_equal(m->n_abort, 1);
	assert_int_equal(sim_state(m), SESSION_CONNECTING);
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	assert_int_equal(m->n_open, 1);
	sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = old + 100));	/* not that one */
	assert_int_equal(m->n_open, 1);
	sim_feed(m, EV(.type = SESSION_EV_RELEASED, .id = old));
	assert_int_equal(m->n_open, 2);
	assert_int_not_equal(m->last_open, old);
	sim_free(m);
}

static void test_an_unreleased_socket_does_not_block_forever(void **st)
{
	struct sim *m = sim_streaming(NULL);

	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = m->last_open, .code = 1011));
	sim_advance(m, m->now + 1);			/* first retry: no backoff */
	/* Closed by the peer: nothing to wait for. */
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	assert_int_equal(m->n_open, 2);
	sim_free(m);
	/* Our own close that is never confirmed: the connect deadline ends the wait. */
	m = sim_streaming(NULL);
	sim_feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED));
	sim_advance(m, m->now + 2000);		/* no pong: aborted, reconnecting */
	assert_int_equal(m->n_abort, 1);
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	assert_int_equal(m->n_open, 1);
	sim_advance(m, m->now + 10000);		/* connect deadline */
	sim_advance(m, m->timer_at[SESSION_TIMER_RETRY]);
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	assert_int_equal(m->n_open, 2);
	sim_free(m);
}

static void test_stop_closes_gracefully_and_failures_abort(void **st)
{
	struct sim *m = sim_streaming(NULL);

	sim_feed(m, EV(.type = SESSION_EV_STOP));
	sim_feed(m, EV(.type = SESSION_EV_FINISHED, .id = m->last_open));
	sim_advance(m, m->now + m->cfg.stop_timeout_ms);	/* it does not close: we do */
	assert_int_equal(m->n_close, 1);
	assert_int_equal(m->n_abort, 0);
	sim_free(m);
	m = sim_streaming(NULL);
	sim_feed(m, EV(.type = SESSION_EV_SERVICE_ERROR, .id = m->last_open, .cls = ERR_TRANSIENT,
				.message = "500"));
	assert_int_equal(m->n_abort, 1);
	sim_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_100_start_and_reconnect_requests_while_connecting_make_one_attempt),
		cmocka_unit_test(test_duplicate_opened_is_ignored),
		cmocka_unit_test(test_opened_after_stop_closes_that_socket_and_changes_nothing),
		cmocka_unit_test(test_stale_connection_callbacks_are_ignored),
		cmocka_unit_test(test_waiter_is_answered_ready_once),
		cmocka_unit_test(test_waiter_is_answered_error_once_on_fatal),
		cmocka_unit_test(test_waiter_is_answered_timeout_once),
		cmocka_unit_test(test_waiter_is_answered_cancelled_once_on_stop),
		cmocka_unit_test(test_stop_works_in_every_state_and_nothing_changes_after),
		cmocka_unit_test(test_stop_while_streaming_sends_end_and_waits_for_finished),
		cmocka_unit_test(test_backoff_first_retry_is_immediate_then_full_jitter_within_bounds),
		cmocka_unit_test(test_failed_attempts_follow_the_schedule_then_go_offline),
		cmocka_unit_test(test_close_codes_classify_as_the_table_says),
		cmocka_unit_test(test_upgrade_statuses_classify_as_the_table_says),
		cmocka_unit_test(test_1012_and_1001_reconnect_at_once),
		cmocka_unit_test(test_401_gets_one_refresh_then_is_fatal),
		cmocka_unit_test(test_1008_close_counts_as_401),
		cmocka_unit_test(test_retry_after_is_honoured),
		cmocka_unit_test(test_network_event_during_backoff_attempts_at_once),
		cmocka_unit_test(test_network_event_while_offline_probes_at_once),
		cmocka_unit_test(test_network_event_while_streaming_validates_the_path_with_a_ping),
		cmocka_unit_test(test_no_progress_while_audio_flows_is_a_half_open_socket),
		cmocka_unit_test(test_connect_timeout_retries),
		cmocka_unit_test(test_suspend_closes_cleanly_and_resume_reconnects_at_once),
		cmocka_unit_test(test_log_lines_carry_the_correlation_ids),
		cmocka_unit_test(test_full_jitter_spreads_a_fleet_better_than_fixed_steps),
		cmocka_unit_test(test_next_socket_opens_only_after_the_old_one_is_released),
		cmocka_unit_test(test_an_unreleased_socket_does_not_block_forever),
		cmocka_unit_test(test_stop_closes_gracefully_and_failures_abort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
