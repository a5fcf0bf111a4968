/* Rate-limited logging (module/ratelimit.c): one line per interval, the
 * count of the lines held back on the next one, a zeroed struct ready. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

static char lines[8][256];
static int n_lines;

static void collect(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void collect(const char *fmt, ...)
{
	va_list ap;

	assert_true(n_lines < 8);
	va_start(ap, fmt);
	vsnprintf(lines[n_lines++], sizeof(lines[0]), fmt, ap);
	va_end(ap);
}

/* The flood: 3,500 bad messages in 12 s gave 3,500 warnings. */
static void test_a_flood_gives_one_line_per_interval_with_the_count(void **state)
{
	struct ratelimit rl = { 0 };

	n_lines = 0;
	for (int i = 0; i < 3500; i++)
		RATELIMIT_LOG(&rl, 1000 + (uint64_t)i * 12000 / 3500, collect,
				"tap=%s ignoring a bad message %d", "t", i);
	assert_int_equal(n_lines, 2);
	assert_string_equal(lines[0], "tap=t ignoring a bad message 0");
	assert_non_null(strstr(lines[1], "tap=t ignoring a bad message 2917 (and 2916 more like "
			"it in the last 10 s)"));
	assert_int_equal(ratelimit_pending(&rl), 582);
}

static void test_a_quiet_peer_gets_every_line_without_a_note(void **state)
{
	struct ratelimit rl = { .interval_ms = 1000 };

	n_lines = 0;
	for (int i = 0; i < 5; i++)
		RATELIMIT_LOG(&rl, (uint64_t)i * 1000, collect, "line %d", i);
	assert_int_equal(n_lines, 5);
	assert_string_equal(lines[4], "line 4");
	assert_int_equal(ratelimit_pending(&rl), 0);
}

static void test_the_first_line_goes_out_whatever_the_clock(void **state)
{
	struct ratelimit rl = { 0 };

	assert_true(ratelimit_allow(&rl, 0));
	assert_false(ratelimit_allow(&rl, RATELIMIT_DEFAULT_MS - 1));
	assert_true(ratelimit_allow(&rl, RATELIMIT_DEFAULT_MS));
	assert_non_null(strstr(rl.note, "1 more"));
	assert_true(ratelimit_allow(&rl, 10 * RATELIMIT_DEFAULT_MS));
	assert_string_equal(rl.note, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_flood_gives_one_line_per_interval_with_the_count),
		cmocka_unit_test(test_a_quiet_peer_gets_every_line_without_a_note),
		cmocka_unit_test(test_the_first_line_goes_out_whatever_the_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
