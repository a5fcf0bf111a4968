/* The worker -> main thread queue: segments from service tokens, partial
 * de-duplication and bounding, order, and the wake-up per push. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "publish-queue.h"

static int wakes;

static void count_wake(void *data)
{
	wakes++;
}

static struct transcript_token tok(const char *text, int64_t start, int64_t end, bool final)
{
	struct transcript_token t = { .start_ms = start, .end_ms = end, .is_final = final,
		.confidence = final ? 0.5 : -1 };

	snprintf(t.text, sizeof(t.text), "%s", text);
	return t;
}

static struct publish_queue *new_queue(void)
{
	wakes = 0;
	return publish_queue_new(count_wake, NULL);
}

static void test_finals_and_partial_become_two_segments_on_the_tap_timeline(void **state)
{
	struct publish_queue *q = new_queue();
	struct publish_cursor cur = { 0 };
	struct transcript_token t[] = {
		tok(" go", 100, 300, true), tok(" forward", 320, 700, true),
		tok(" ten", 720, 900, false), tok(" met", 910, 1000, false),
	};
	struct publish_event ev;

	publish_queue_push_tokens(q, 2, &cur, t, 4, 5000, "s1", 7, NULL);
	assert_true(publish_queue_pop(q, &ev));
	assert_int_equal(ev.kind, PUBLISH_FINAL);
	assert_int_equal(ev.tap, 2);
	assert_string_equal(ev.segment.text, "go forward");
	assert_int_equal(ev.segment.start_ms, 5100);
	assert_int_equal(ev.segment.end_ms, 5700);
	assert_int_equal(ev.segment.seq, 1);
	assert_string_equal(ev.segment.session_id, "s1");
	assert_true(ev.segment.confidence > 0.49 && ev.segment.confidence < 0.51);
	assert_true(publish_queue_pop(q, &ev));
	assert_int_equal(ev.kind, PUBLISH_PARTIAL);
	assert_string_equal(ev.segment.text, "ten met");
	assert_int_equal(ev.segment.start_ms, 5720);
	assert_int_equal(ev.segment.confidence, -1);
	assert_false(publish_queue_pop(q, &ev));
	assert_int_equal(wakes, 2);
	publish_queue_free(q);
}

static void test_an_unchanged_partial_is_not_pushed_again(void **state)
{
	struct publish_queue *q = new_queue();
	struct publish_cursor cur = { 0 };
	struct transcript_token t[] = { tok(" ten", 0, 100, false) };
	struct publish_event ev;

	publish_queue_push_tokens(q, 0, &cur, t, 1, 0, "", 1, NULL);
	publish_queue_push_tokens(q, 0, &cur, t, 1, 0, "", 1, NULL);
	/* A message with no words at all (progress only) changes nothing... */
	publish_queue_push_tokens(q, 0, &cur, NULL, 0, 0, "", 1, NULL);
	assert_true(publish_queue_pop(q, &ev));
	/* ...once the partial is gone, an empty one clears it, once. */
	assert_true(publish_queue_pop(q, &ev));
	assert_int_equal(ev.kind, PUBLISH_PARTIAL);
	assert_string_equal(ev.segment.text, "");
	assert_false(publish_queue_pop(q, &ev));
	publish_queue_push_tokens(q, 0, &cur, NULL, 0, 0, "", 1, NULL);
	assert_false(publish_queue_pop(q, &ev));
	publish_queue_free(q);
}

static void test_finals_are_numbered_per_cursor_and_never_dropped(void **state)
{
	struct publish_queue *q = new_queue();
	struct publish_cursor cur = { 0 };
	struct publish_event ev;
	char text[16];
	uint64_t seq = 0;

	for (int i = 0; i < 3 * PUBLISH_QUEUE_MAX_PARTIALS; i++) {
		struct transcript_token t[] = { tok(" w", i * 10, i * 10 + 5, true), tok(text, 0, 1, false) };
		snprintf(text, sizeof(text), " p%d", i);
		snprintf(t[1].text, sizeof(t[1].text), "%s", text);
		publish_queue_push_tokens(q, 0, &cur, t, 2, 0, "", 1, NULL);
	}
	int partials = 0;
	while (publish_queue_pop(q, &ev)) {
		if (ev.kind == PUBLISH_FINAL)
			assert_int_equal(ev.segment.seq, ++seq);
		else
			partials++;
	}
	assert_int_equal(seq, 3 * PUBLISH_QUEUE_MAX_PARTIALS);
	/* Partials past the bound wait for nobody: the newest replaces them. */
	assert_int_equal(partials, PUBLISH_QUEUE_MAX_PARTIALS);
	publish_queue_free(q);
}

static void test_states_and_answers_keep_their_order_and_text(void **state)
{
	struct publish_queue *q = new_queue();
	struct publish_state st = { .state = SESSION_RECONNECTING, .attempt = 2, .max_attempts = 6,
		.next_retry_ms = 3200 };
	struct publish_event ev;

	snprintf(st.error, sizeof(st.error), "connection refused");
	publish_queue_push_state(q, 1, &st);
	publish_queue_push_answer(q, 1, 42, SESSION_ANSWER_TIMEOUT, "timed out");
	publish_queue_push_answer(q, 1, 43, SESSION_ANSWER_READY, NULL);
	assert_true(publish_queue_pop(q, &ev));
	assert_int_equal(ev.kind, PUBLISH_STATE);
	assert_int_equal(ev.state.attempt, 2);
	assert_string_equal(ev.state.error, "connection refused");
	assert_true(publish_queue_pop(q, &ev));
	assert_int_equal(ev.kind, PUBLISH_ANSWER);
	assert_int_equal(ev.answer.waiter, 42);
	assert_string_equal(ev.answer.message, "timed out");
	assert_true(publish_queue_pop(q, &ev));
	assert_int_equal(ev.answer.answer, SESSION_ANSWER_READY);
	assert_string_equal(ev.answer.message, "");
	publish_queue_free(q);
}

/* A worker that outlives the module (module-transcribe.c impl_destroy)
 * keeps pushing into a queue whose reader is gone. */
static void test_a_detached_queue_never_wakes_and_lives_until_the_last_reference(void **state)
{
	struct publish_queue *q = new_queue();
	struct publish_state st = { .state = SESSION_STOPPED };

	publish_queue_ref(q);			/* the pusher's */
	publish_queue_push_state(q, 0, &st);
	assert_int_equal(wakes, 1);
	publish_queue_detach(q);
	publish_queue_free(q);			/* the reader goes */
	publish_queue_push_state(q, 0, &st);
	publish_queue_push_answer(q, 0, 7, SESSION_ANSWER_CANCELLED, "gone");
	assert_int_equal(wakes, 1);
	publish_queue_free(q);			/* the pusher's: frees it and both items (ASan/valgrind) */
}

static void test_a_long_segment_is_cut_not_overflowed(void **state)
{
	struct publish_queue *q = new_queue();
	struct publish_cursor cur = { 0 };
	static struct transcript_token t[64];
	struct publish_event ev;

	for (int i = 0; i < 64; i++) {
		t[i] = tok("", i, i + 1, true);
		memset(t[i].text, 'a', sizeof(t[i].text) - 1);
	}
	publish_queue_push_tokens(q, 0, &cur, t, 64, 0, "", 1, NULL);
	assert_true(publish_queue_pop(q, &ev));
	assert_int_equal(strlen(ev.segment.text), PUBLISH_TEXT_MAX - 1);
	assert_int_equal(ev.segment.end_ms, 64);
	publish_queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finals_and_partial_become_two_segments_on_the_tap_timeline),
		cmocka_unit_test(test_an_unchanged_partial_is_not_pushed_again),
		cmocka_unit_test(test_finals_are_numbered_per_cursor_and_never_dropped),
		cmocka_unit_test(test_states_and_answers_keep_their_order_and_text),
		cmocka_unit_test(test_a_long_segment_is_cut_not_overflowed),
		cmocka_unit_test(test_a_detached_queue_never_wakes_and_lives_until_the_last_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
