/* Timeline sanity against recorded service messages (soniox-messages/,
 * parsed by the real dialect): token times are clamped to the audio sent
 * on the connection, a token or a final position beyond it is dropped and
 * never moves the committed position, start <= end, and a final without
 * times is journaled once however often a replay repeats it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dialect.h"
#include "timeline.h"

#ifndef SONIOX_MESSAGES_DIR
#error "SONIOX_MESSAGES_DIR must name the directory of sample messages"
#endif

static struct dialect_result res;	/* ~90 KB: not on the stack */
static struct timeline tl;

/* Parses a recorded message into res. */
static void recorded(const char *name)
{
	char path[512], buf[4096], err[160];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", SONIOX_MESSAGES_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (dialect_soniox.parse(NULL, buf, n, &res, err, sizeof(err)) != 0)
		fail_msg("%s: %s", name, err);
}

/* A message built here, in the service's format. */
static void message(const char *json)
{
	char err[160];

	if (dialect_soniox.parse(NULL, json, strlen(json), &res, err, sizeof(err)) != 0)
		fail_msg("%s: %s", json, err);
}

/* What the session shell does with a message: map, then commit. Returns
 * the tokens left. */
static uint32_t feed(void)
{
	res.n_tokens = timeline_map_tokens(&tl, res.tokens, res.n_tokens);
	timeline_commit(&tl, res.final_audio_proc_ms);
	return res.n_tokens;
}

static void final_word(const char *text, int64_t start, int64_t end, int64_t final_ms)
{
	char json[256];

	snprintf(json, sizeof(json), "{\"tokens\":[{\"text\":\"%s\",\"start_ms\":%lld,"
			"\"end_ms\":%lld,\"is_final\":true}],\"final_audio_proc_ms\":%lld}",
			text, (long long)start, (long long)end, (long long)final_ms);
	message(json);
}

static void begin(uint64_t conn, int64_t sent_ms)
{
	timeline_begin(&tl, conn, tl.committed_ms);
	timeline_sent(&tl, sent_ms);
}

static int setup(void **state)
{
	timeline_init(&tl);
	return 0;
}

/* The issue: one final ending at 2^40-1 was accepted and every later final
 * of the session (18 of 18) was dropped as "already said". */
static void test_an_absurd_end_is_clamped_and_later_finals_still_count(void **state)
{
	const char *anomaly;

	begin(1, 10000);
	final_word(" go", 200, 600, 600);
	assert_int_equal(feed(), 1);
	assert_int_equal(tl.committed_ms, 600);

	recorded("hostile-absurd-end.json");	/* start 1000, end 2^40-1, final 2^40-1 */
	assert_int_equal(feed(), 1);
	/* the word is real, its end is clamped to the audio sent */
	assert_int_equal(res.tokens[0].start_ms, 1000);
	assert_int_equal(res.tokens[0].end_ms, 10000);
	/* the final position is refused: C stays */
	assert_int_equal(tl.committed_ms, 600);
	anomaly = timeline_take_anomaly(&tl);
	assert_non_null(anomaly);
	assert_non_null(strstr(anomaly, "1099511627775"));
	assert_non_null(strstr(anomaly, "10000"));
	assert_null(timeline_take_anomaly(&tl));	/* once */

	/* more audio goes out, more words come: none is lost */
	timeline_sent(&tl, 30000);
	for (int i = 0; i < 18; i++) {
		final_word(" w", 10100 + i * 1000, 10600 + i * 1000, 10600 + i * 1000);
		assert_int_equal(feed(), 1);
	}
	assert_int_equal(tl.committed_ms, 10600 + 17 * 1000);
}

static void test_a_token_beyond_the_audio_sent_is_dropped(void **state)
{
	begin(1, 12000);
	recorded("hostile-beyond-sent.json");	/* final at 2^40-1, partial at 900 s */
	assert_int_equal(feed(), 0);
	assert_int_equal(tl.committed_ms, 0);
	assert_int_equal(tl.last_final_end_ms, -1);
	assert_true(tl.n_anomalies >= 2);
	assert_non_null(strstr(timeline_take_anomaly(&tl), "dropped"));

	/* within the slack: clamped, not dropped */
	final_word(" edge", 11900, 12000 + TIMELINE_SLACK_MS, 12000 + TIMELINE_SLACK_MS);
	assert_int_equal(feed(), 1);
	assert_int_equal(res.tokens[0].end_ms, 12000);
	assert_int_equal(tl.committed_ms, 12000);
	final_word(" past", 12000 + TIMELINE_SLACK_MS + 1, 12500 + TIMELINE_SLACK_MS,
			12000 + TIMELINE_SLACK_MS + 1);
	assert_int_equal(feed(), 0);
	assert_int_equal(tl.committed_ms, 12000);
}

static void test_start_after_end_ends_where_it_starts(void **state)
{
	begin(1, 6000);
	recorded("hostile-start-after-end.json");	/* start 5000, end 100 */
	assert_int_equal(feed(), 1);
	assert_int_equal(res.tokens[0].start_ms, 5000);
	assert_int_equal(res.tokens[0].end_ms, 5000);
	assert_string_equal(res.tokens[0].text, " back");
	assert_non_null(strstr(timeline_take_anomaly(&tl), "before its start"));
}

static void test_negative_and_decreasing_positions_never_move_c(void **state)
{
	begin(1, 8000);
	final_word(" a", 100, 500, 4000);
	feed();
	assert_int_equal(tl.committed_ms, 4000);
	recorded("hostile-negative.json");	/* all times negative: unknown */
	feed();
	assert_int_equal(tl.committed_ms, 4000);
	final_word(" b", 600, 700, 3000);	/* decreasing */
	feed();
	assert_int_equal(tl.committed_ms, 4000);
	assert_int_equal(timeline_commit(&tl, -1), 0);
	assert_int_equal(tl.committed_ms, 4000);
}

/* A final without times cannot be placed on the audio: it is put at the
 * last final's end, journaled once, and a replay that repeats it (C did
 * not move past it) does not journal it again, on any later connection. */
static void test_finals_without_times_are_never_journaled_twice(void **state)
{
	begin(1, 5000);
	final_word(" first", 100, 400, 400);
	assert_int_equal(feed(), 1);
	recorded("hostile-no-times.json");	/* " untimed", " also": no usable times */
	assert_int_equal(feed(), 2);
	assert_int_equal(res.tokens[0].start_ms, 400);
	assert_int_equal(res.tokens[0].end_ms, 400);
	assert_int_equal(res.tokens[1].start_ms, 400);
	assert_int_equal(tl.committed_ms, 400);

	for (uint64_t conn = 2; conn <= 4; conn++) {
		/* reconnect: the replay from C makes the service say them again */
		begin(conn, 5000);
		recorded("hostile-no-times.json");
		assert_int_equal(feed(), 0);
	}
	/* a new word after the replay, and the same text said anew later */
	final_word(" next", 4500, 4800, 4800);
	assert_int_equal(feed(), 1);
	recorded("hostile-no-times.json");
	assert_int_equal(feed(), 2);
	assert_int_equal(res.tokens[0].start_ms, 400 + 4800);
}

static void test_partials_without_times_stay_unplaced(void **state)
{
	begin(1, 5000);
	message("{\"tokens\":[{\"text\":\" maybe\",\"is_final\":false}]}");
	assert_int_equal(feed(), 1);
	assert_int_equal(res.tokens[0].start_ms, -1);
	assert_int_equal(res.tokens[0].end_ms, -1);
}

/* Each connection gets its first anomaly described (once), the rest counted. */
static void test_each_connection_describes_its_first_anomaly_once(void **state)
{
	begin(1, 1000);
	for (int i = 0; i < 5; i++) {
		recorded("hostile-beyond-sent.json");
		feed();
	}
	assert_non_null(timeline_take_anomaly(&tl));
	assert_null(timeline_take_anomaly(&tl));
	/* a final and a partial beyond the audio, and a final position */
	assert_int_equal(tl.conn_anomalies, 15);
	begin(2, 1000);
	assert_null(timeline_take_anomaly(&tl));
	recorded("hostile-absurd-end.json");
	feed();
	assert_non_null(timeline_take_anomaly(&tl));
	/* the end clamped, and the final position refused */
	assert_int_equal(tl.n_anomalies, 17);
}

/* The typical recorded messages pass unchanged. */
static void test_good_messages_are_untouched(void **state)
{
	begin(1, 720);
	recorded("typical.json");
	assert_int_equal(feed(), 4);
	assert_int_equal(res.tokens[0].start_ms, 120);
	assert_int_equal(res.tokens[3].end_ms, 660);
	assert_int_equal(tl.committed_ms, 420);
	assert_null(timeline_take_anomaly(&tl));
	assert_int_equal(tl.n_anomalies, 0);
}

/* Without timeline_sent() (nothing tracks the audio sent) only values past
 * TIMELINE_MS_MAX are refused. */
static void test_untracked_connections_still_never_overflow(void **state)
{
	timeline_begin(&tl, 1, 0);
	final_word(" a", 100, 200, 1099511627775LL);
	assert_int_equal(feed(), 1);
	assert_int_equal(tl.committed_ms, 1099511627775LL);
	assert_int_equal(timeline_commit(&tl, TIMELINE_MS_MAX + 1), 0);
	assert_int_equal(tl.committed_ms, 1099511627775LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_an_absurd_end_is_clamped_and_later_finals_still_count, setup),
		cmocka_unit_test_setup(test_a_token_beyond_the_audio_sent_is_dropped, setup),
		cmocka_unit_test_setup(test_start_after_end_ends_where_it_starts, setup),
		cmocka_unit_test_setup(test_negative_and_decreasing_positions_never_move_c, setup),
		cmocka_unit_test_setup(test_finals_without_times_are_never_journaled_twice, setup),
		cmocka_unit_test_setup(test_partials_without_times_stay_unplaced, setup),
		cmocka_unit_test_setup(test_each_connection_describes_its_first_anomaly_once, setup),
		cmocka_unit_test_setup(test_good_messages_are_untouched, setup),
		cmocka_unit_test_setup(test_untracked_connections_still_never_overflow, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
