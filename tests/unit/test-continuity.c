/* Continuity without I/O: the one timeline across connections, dedupe at
 * the seam, and the replay buffer (order across wrap-around, pacing,
 * release on commit, gap accounting). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay.h"
#include "timeline.h"

#define RATE	1000	/* one frame a millisecond keeps the arithmetic readable */
#define FRAME	2	/* S16 mono */
#define CHUNK	(100 * FRAME)

static struct transcript_token tok(const char *text, int64_t start, int64_t end, bool final)
{
	struct transcript_token t = { .start_ms = start, .end_ms = end, .is_final = final,
		.confidence = -1 };

	snprintf(t.text, sizeof(t.text), "%s", text);
	return t;
}

static void test_token_times_follow_one_timeline_across_three_connections(void **state)
{
	struct timeline tl;
	struct transcript_token t[2];

	timeline_init(&tl);
	timeline_begin(&tl, 1, tl.committed_ms);
	t[0] = tok(" a", 100, 400, true);
	assert_int_equal(timeline_map_tokens(&tl, t, 1), 1);
	assert_int_equal(t[0].start_ms, 100);
	assert_int_equal(timeline_commit(&tl, 1200), 1200);

	timeline_begin(&tl, 2, tl.committed_ms);		/* starts where the service had finalized */
	assert_int_equal(tl.base_ms, 1200);
	t[0] = tok(" b", 100, 300, true);
	timeline_map_tokens(&tl, t, 1);
	assert_int_equal(t[0].start_ms, 1300);
	assert_int_equal(t[0].end_ms, 1500);
	assert_int_equal(timeline_commit(&tl, 800), 800);
	assert_int_equal(tl.committed_ms, 2000);

	timeline_begin(&tl, 3, tl.committed_ms);
	t[0] = tok(" c", 0, 250, true);
	t[1] = tok(" d", 300, 350, false);
	assert_int_equal(timeline_map_tokens(&tl, t, 2), 2);
	assert_int_equal(t[0].start_ms, 2000);
	assert_int_equal(t[1].start_ms, 2300);
}

static void test_commit_never_moves_backwards(void **state)
{
	struct timeline tl;

	timeline_init(&tl);
	assert_int_equal(timeline_commit(&tl, 500), 0);	/* no connection yet */
	timeline_begin(&tl, 1, tl.committed_ms);
	assert_int_equal(timeline_commit(&tl, 500), 500);
	assert_int_equal(timeline_commit(&tl, 400), 0);
	assert_int_equal(timeline_commit(&tl, -1), 0);	/* the service gave none */
	assert_int_equal(tl.committed_ms, 500);
}

static void test_finals_repeated_by_a_new_connection_are_dropped_partials_kept(void **state)
{
	struct timeline tl;
	struct transcript_token t[4];

	timeline_init(&tl);
	timeline_begin(&tl, 1, tl.committed_ms);
	t[0] = tok(" one", 0, 500, true);
	t[1] = tok(" two", 600, 900, true);
	timeline_map_tokens(&tl, t, 2);
	/* The old socket died before its commit reached us: C is still 0, the
	 * new connection hears "two" again, and more. */
	timeline_begin(&tl, 2, tl.committed_ms);
	t[0] = tok(" one", 0, 500, true);
	t[1] = tok(" two", 610, 900, true);
	t[2] = tok(" three", 1000, 1300, true);
	t[3] = tok(" fo", 1400, 1500, false);
	assert_int_equal(timeline_map_tokens(&tl, t, 4), 2);
	assert_string_equal(t[0].text, " three");
	assert_true(t[0].is_final);
	assert_string_equal(t[1].text, " fo");
	assert_false(t[1].is_final);
	assert_int_equal(tl.last_final_end_ms, 1300);
}

static void test_a_final_straddling_the_seam_is_kept_once(void **state)
{
	struct timeline tl;
	struct transcript_token t[1];

	timeline_init(&tl);
	timeline_begin(&tl, 1, tl.committed_ms);
	t[0] = tok(" a", 0, 1000, true);
	timeline_map_tokens(&tl, t, 1);
	timeline_commit(&tl, 900);	/* a service may commit less than it said */
	timeline_begin(&tl, 2, tl.committed_ms);
	t[0] = tok(" b", 50, 400, true);	/* 950..1300: ends after "a" did */
	assert_int_equal(timeline_map_tokens(&tl, t, 1), 1);
	t[0] = tok(" b", 50, 400, true);	/* and once only */
	assert_int_equal(timeline_map_tokens(&tl, t, 1), 0);
}

static struct transcript_token said(const char *text, int64_t start, const char *speaker)
{
	struct transcript_token t = tok(text, start, start + 200, true);

	snprintf(t.speaker, sizeof(t.speaker), "%s", speaker);
	return t;
}

static void test_speaker_labels_of_a_new_session_are_mapped_through_the_overlap(void **state)
{
	struct timeline tl;
	struct transcript_token t[4];

	timeline_init(&tl);
	timeline_begin(&tl, 1, 0);
	t[0] = said(" low", 0, "1");
	t[1] = said(" high", 500, "2");
	t[2] = said(" low", 1000, "1");
	assert_int_equal(timeline_map_tokens(&tl, t, 3), 3);
	assert_string_equal(t[1].speaker, "2");
	timeline_commit(&tl, 1200);
	/* The next session starts 700 ms before C and numbers voices anew:
	 * it hears the high voice first. */
	timeline_begin(&tl, 2, 500);
	t[0] = said(" high", 0, "1");		/* 500: a repeat, teaches 1 -> 2 */
	t[1] = said(" low", 500, "2");		/* 1000: a repeat, teaches 2 -> 1 */
	t[2] = said(" high", 1000, "1");	/* new */
	t[3] = said(" low", 1500, "2");		/* new */
	assert_int_equal(timeline_map_tokens(&tl, t, 4), 2);
	assert_string_equal(t[0].text, " high");
	assert_string_equal(t[0].speaker, "2");
	assert_string_equal(t[1].text, " low");
	assert_string_equal(t[1].speaker, "1");
}

static void test_a_voice_missing_from_the_overlap_gets_the_label_left_over(void **state)
{
	struct timeline tl;
	struct transcript_token t[3];

	timeline_init(&tl);
	timeline_begin(&tl, 1, 0);
	t[0] = said(" low", 0, "1");
	t[1] = said(" high", 500, "2");
	timeline_map_tokens(&tl, t, 2);
	timeline_commit(&tl, 700);
	timeline_begin(&tl, 2, 400);
	t[0] = said(" high", 100, "1");		/* 500: the only repeat: 1 -> 2 */
	t[1] = said(" low", 600, "2");		/* unknown to the overlap: gets "1" */
	t[2] = said(" other", 900, "3");	/* a third voice: its own label */
	assert_int_equal(timeline_map_tokens(&tl, t, 3), 2);
	assert_string_equal(t[0].speaker, "1");
	assert_string_equal(t[1].speaker, "3");
}

static void fill(uint8_t *buf, size_t frames, uint16_t first)
{
	for (size_t i = 0; i < frames; i++) {
		uint16_t v = (uint16_t)(first + i);
		memcpy(buf + i * FRAME, &v, FRAME);
	}
}

static uint16_t frame_at(const uint8_t *buf, size_t i)
{
	uint16_t v;

	memcpy(&v, buf + i * FRAME, FRAME);
	return v;
}

static void test_replay_sends_from_the_committed_position_in_order(void **state)
{
	static uint8_t in[3000 * FRAME], out[CHUNK];
	struct replay r;
	size_t n;

	assert_int_equal(replay_init(&r, RATE, FRAME, 3, 1000, NULL, 0, NULL, NULL, 0), 0);
	fill(in, 3000, 0);
	replay_push(&r, in, sizeof(in), NULL);
	replay_begin(&r, 1, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(n = replay_next(&r, 0, out, CHUNK, false), CHUNK);
		assert_int_equal(frame_at(out, 0), i * 100);
		replay_sent(&r, n);
	}
	replay_commit(&r, 250);		/* frames 0..249 are final */
	assert_int_equal(replay_buffered_ms(&r), 2750);
	replay_begin(&r, 2, 0);		/* the socket died: again from 250 */
	assert_int_equal(replay_next(&r, 0, out, CHUNK, false), CHUNK);
	assert_int_equal(frame_at(out, 0), 250);
	replay_clear(&r);
}

static void test_replay_order_survives_the_buffer_wrapping(void **state)
{
	static uint8_t in[700 * FRAME], out[CHUNK];
	struct replay r;
	uint16_t expect = 0;

	assert_int_equal(replay_init(&r, RATE, FRAME, 1, 1000, NULL, 0, NULL, NULL, 0), 0);	/* 1000 frames */
	replay_begin(&r, 1, 0);
	for (int round = 0; round < 6; round++) {
		size_t n;
		fill(in, 700, (uint16_t)(round * 700));
		replay_push(&r, in, sizeof(in), NULL);
		while ((n = replay_next(&r, (uint64_t)round * 1000, out, CHUNK, false)) > 0) {
			for (size_t i = 0; i < n / FRAME; i++)
				assert_int_equal(frame_at(out, i), expect++);
			replay_sent(&r, n);
		}
		replay_commit(&r, expect);	/* everything sent is final */
	}
	assert_int_equal(expect, 4200);
	assert_int_equal(replay_dropped_ms(&r), 0);
	replay_clear(&r);
}

static size_t unsent_bytes(const struct replay *r)
{
	return replay_buffered_ms(r) * RATE / 1000 * FRAME - r->sent_off;
}

static void test_catching_up_is_paced_live_audio_is_not(void **state)
{
	static uint8_t in[20000 * FRAME], out[CHUNK];
	struct replay r;
	size_t sent = 0;

	assert_int_equal(replay_init(&r, RATE, FRAME, 30, 4, NULL, 0, NULL, NULL, 0), 0);
	replay_push(&r, in, sizeof(in), NULL);	/* 20 s waiting */
	replay_begin(&r, 1, 1000);
	while (replay_next(&r, 1000, out, CHUNK, false) > 0) {
		replay_sent(&r, CHUNK);
		sent += 100;
	}
	assert_int_equal(sent, REPLAY_LEAD_MS);		/* the lead at once */
	while (replay_next(&r, 2000, out, CHUNK, false) > 0) {
		replay_sent(&r, CHUNK);
		sent += 100;
	}
	assert_int_equal(sent, REPLAY_LEAD_MS + 4000);	/* 4 × the second that passed */
	assert_true(unsent_bytes(&r) >= 2 * CHUNK);	/* still catching up */
	/* End of stream sends the rest at once, the last part short. */
	replay_push(&r, in, 50 * FRAME, NULL);
	while (replay_next(&r, 2000, out, CHUNK, true) > 0)
		replay_sent(&r, replay_next(&r, 2000, out, CHUNK, true));
	assert_int_equal(unsent_bytes(&r), 0);
	replay_clear(&r);
}

static void test_a_full_buffer_drops_the_oldest_and_reports_the_gap(void **state)
{
	static uint8_t in[1500 * FRAME], out[CHUNK];
	struct replay r;
	int64_t gap_start = -1, gap;

	assert_int_equal(replay_init(&r, RATE, FRAME, 1, 1000, NULL, 0, NULL, NULL, 0), 0);
	replay_begin(&r, 1, 0);
	fill(in, 300, 0);
	replay_push(&r, in, 300 * FRAME, &gap_start);
	replay_sent(&r, replay_next(&r, 0, out, CHUNK, false));	/* 0..99 sent */
	fill(in, 1500, 300);
	gap = replay_push(&r, in, sizeof(in), &gap_start);	/* 1800 > 1000 */
	assert_int_equal(gap, 800);
	assert_int_equal(gap_start, 0);
	assert_int_equal(r.tl.committed_ms, 800);
	assert_int_equal(replay_dropped_ms(&r), 800);
	/* What was sent of the lost part is forgotten; the rest comes in order. */
	assert_int_equal(replay_next(&r, 0, out, CHUNK, false), CHUNK);
	assert_int_equal(frame_at(out, 0), 800);
	replay_clear(&r);
}

static void test_commit_never_releases_audio_not_sent(void **state)
{
	static uint8_t in[1000 * FRAME], out[CHUNK];
	struct replay r;

	assert_int_equal(replay_init(&r, RATE, FRAME, 2, 1000, NULL, 0, NULL, NULL, 0), 0);
	replay_push(&r, in, sizeof(in), NULL);
	replay_begin(&r, 1, 0);
	replay_sent(&r, replay_next(&r, 0, out, CHUNK, false));
	/* A confused service: 300 ms is within the slack the timeline allows
	 * past the 100 ms sent (a bigger value is refused outright), and must
	 * still release no audio that was not sent. */
	replay_commit(&r, 300);
	assert_int_equal(replay_buffered_ms(&r), 900);
	assert_int_equal(replay_next(&r, 0, out, CHUNK, false), CHUNK);
	replay_clear(&r);
}

static char spool_dir[] = "/tmp/test-continuity-XXXXXX";

static void drain_in_order(struct replay *r, uint64_t now, uint16_t *expect)
{
	static uint8_t out[CHUNK];
	size_t n;

	while ((n = replay_next(r, now, out, CHUNK, true)) > 0) {
		for (size_t i = 0; i < n / FRAME; i++)
			assert_int_equal(frame_at(out, i), (*expect)++);
		replay_sent(r, n);
	}
}

static void test_audio_beyond_memory_waits_in_the_spool_in_order(void **state)
{
	static uint8_t in[3500 * FRAME];
	struct replay r;
	char err[256];
	uint16_t expect = 0;

	/* 1 s of memory, 3 s of spool: 3.5 s of outage loses nothing. */
	assert_int_equal(replay_init(&r, RATE, FRAME, 1, 1000, spool_dir, 3000 * FRAME,
			NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	for (int i = 0; i < 35; i++) {
		fill(in, 100, (uint16_t)(i * 100));
		assert_int_equal(replay_push(&r, in, 100 * FRAME, NULL), 0);
	}
	assert_int_equal(replay_buffered_ms(&r), 3500);
	assert_int_equal(replay_spooled_ms(&r), 2500);
	replay_begin(&r, 1, 0);
	drain_in_order(&r, 0, &expect);
	assert_int_equal(expect, 3500);
	replay_commit(&r, 3500);
	assert_int_equal(replay_buffered_ms(&r), 0);
	assert_int_equal(replay_dropped_ms(&r), 0);
	replay_clear(&r);
}

static void test_a_full_spool_drops_its_oldest_as_a_gap_and_wraps_in_order(void **state)
{
	static uint8_t in[100 * FRAME];
	struct replay r;
	char err[256];
	int64_t gap_start = -1, gaps = 0;
	uint16_t expect;

	assert_int_equal(replay_init(&r, RATE, FRAME, 1, 1000, spool_dir, 1000 * FRAME,
			NULL, err, sizeof(err)), 0);
	replay_begin(&r, 1, 0);
	for (int i = 0; i < 50; i++) {	/* 5 s into 2 s of room */
		int64_t g;
		fill(in, 100, (uint16_t)(i * 100));
		if ((g = replay_push(&r, in, sizeof(in), &gap_start)) > 0)
			gaps += g;
	}
	assert_int_equal(gaps, 3000);
	assert_int_equal(r.tl.committed_ms, 3000);
	assert_int_equal(replay_dropped_ms(&r), 3000);
	expect = 3000;			/* the newest 2 s, in order across the file's wrap */
	drain_in_order(&r, 0, &expect);
	assert_int_equal(expect, 5000);
	replay_clear(&r);
}

static void test_an_unusable_spool_dir_leaves_memory_only(void **state)
{
	static uint8_t in[1500 * FRAME];
	struct replay r;
	char err[256];

	assert_int_equal(replay_init(&r, RATE, FRAME, 1, 1000, "/proc/no-such-dir", 1 << 20,
			NULL, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "/proc/no-such-dir"));
	assert_int_equal(replay_push(&r, in, sizeof(in), NULL), 500);	/* memory alone */
	replay_clear(&r);
}

static int make_spool_dir(void **state)
{
	return mkdtemp(spool_dir) == NULL ? -1 : 0;
}

static int remove_spool_dir(void **state)
{
	return rmdir(spool_dir);	/* O_TMPFILE spools leave nothing behind */
}

static void test_a_replayed_word_shifted_a_little_later_is_not_said_twice(void **state)
{
	struct timeline tl;
	struct transcript_token t[2];

	timeline_init(&tl);
	timeline_begin(&tl, 1, 0);
	t[0] = tok(" seven", 1000, 1400, true);
	timeline_map_tokens(&tl, t, 1);
	timeline_commit(&tl, 900);		/* C before the word: it is heard again */
	/* The next session (an overlap replay) puts it 20 ms later: it ends
	 * after the last final, but its midpoint is well before. */
	timeline_begin(&tl, 2, 900);
	t[0] = tok(" seven", 120, 520, true);
	t[1] = tok(" eight", 600, 900, true);
	assert_int_equal(timeline_map_tokens(&tl, t, 2), 1);
	assert_string_equal(t[0].text, " eight");
}

static void test_a_word_cut_by_a_finalize_is_not_said_twice(void **state)
{
	struct timeline tl;
	struct transcript_token t[2];

	/* Stop's finalize made the word final as far as it was heard ... */
	timeline_init(&tl);
	timeline_begin(&tl, 1, 0);
	t[0] = tok(" w700", 1050, 1200, true);
	timeline_map_tokens(&tl, t, 1);
	timeline_commit(&tl, 1200);
	/* ... and the next session hears the rest of it from C on. */
	timeline_begin(&tl, 2, 1200);
	t[0] = tok(" w700", 0, 100, true);
	t[1] = tok(" w900", 600, 850, true);
	assert_int_equal(timeline_map_tokens(&tl, t, 2), 1);
	assert_string_equal(t[0].text, " w900");
	/* Within one session the same word twice is two words. */
	t[0] = tok(" w900", 900, 1150, true);
	assert_int_equal(timeline_map_tokens(&tl, t, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_replayed_word_shifted_a_little_later_is_not_said_twice),
		cmocka_unit_test(test_a_word_cut_by_a_finalize_is_not_said_twice),
		cmocka_unit_test(test_token_times_follow_one_timeline_across_three_connections),
		cmocka_unit_test(test_commit_never_moves_backwards),
		cmocka_unit_test(test_finals_repeated_by_a_new_connection_are_dropped_partials_kept),
		cmocka_unit_test(test_a_final_straddling_the_seam_is_kept_once),
		cmocka_unit_test(test_speaker_labels_of_a_new_session_are_mapped_through_the_overlap),
		cmocka_unit_test(test_a_voice_missing_from_the_overlap_gets_the_label_left_over),
		cmocka_unit_test(test_replay_sends_from_the_committed_position_in_order),
		cmocka_unit_test(test_replay_order_survives_the_buffer_wrapping),
		cmocka_unit_test(test_catching_up_is_paced_live_audio_is_not),
		cmocka_unit_test(test_a_full_buffer_drops_the_oldest_and_reports_the_gap),
		cmocka_unit_test(test_commit_never_releases_audio_not_sent),
		cmocka_unit_test(test_audio_beyond_memory_waits_in_the_spool_in_order),
		cmocka_unit_test(test_a_full_spool_drops_its_oldest_as_a_gap_and_wraps_in_order),
		cmocka_unit_test(test_an_unusable_spool_dir_leaves_memory_only),
	};
	return cmocka_run_group_tests(tests, make_spool_dir, remove_spool_dir);
}
