/* The text helpers of pw-transcribe (tools/cli/cli-text.c): widths in
 * terminal columns, control characters printed as spaces, and the tail of
 * a live caption cut behind an ellipsis. */
#include "cli-text.h"

#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes-check.h"


static char *put_tail(const char *s, int cols)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cli_text_put_tail(f, s, cols);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_text_width_of_ascii_is_its_length(void **state)
{
	assert_int_equal(cli_text_width(""), 0);
	assert_int_equal(cli_text_width("hello world"), 11);
	assert_int_equal(cli_text_width("a\tb\x1b"), 4);	/* controls print as spaces */
}

static void test_text_width_of_utf8_counts_columns_not_bytes(void **state)
{
	assert_int_equal(cli_text_width("caf\u00e9"), 4);
	assert_int_equal(cli_text_width("\u2026"), 1);
	assert_int_equal(cli_text_width("日本"), 4);
	assert_int_equal(cli_text_width("e\u0301"), 1);		/* combining accent */
	assert_int_equal(cli_text_width("\U0001F600"), 2);
}

static void test_text_width_counts_an_invalid_byte_as_one_column(void **state)
{
	assert_int_equal(cli_text_width("\xff"), 1);
	assert_int_equal(cli_text_width("a\xc3"), 2);		/* cut short at the end */
	assert_int_equal(cli_text_width("\xe6\x97x"), 3);	/* cut short before x */
	assert_int_equal(cli_text_width("\x80\x80"), 2);	/* lone continuations */
}

static void test_text_put_prints_controls_as_spaces_and_invalid_bytes_as_is(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cli_text_put(f, "a\x1b[2J\nb\x7f\xc2\x9b" "c\xff\u00e9");
	assert_int_equal(fclose(f), 0);
	assert_bytes(buf, "a [2J b  c\xff\u00e9");
}

static void test_tail_writes_nothing_when_cols_is_below_1(void **state)
{
	assert_bytes(put_tail("hello", 0), "");
	assert_bytes(put_tail("hello", -3), "");
	assert_bytes(put_tail("", 0), "");
}

static void test_tail_writes_all_of_a_text_that_fits_exactly(void **state)
{
	assert_bytes(put_tail("hello", 5), "hello");
	assert_bytes(put_tail("日本", 4), "日本");
	assert_bytes(put_tail("a\nb", 3), "a b");
}

static void test_tail_one_column_too_long_cuts_the_start_behind_an_ellipsis(void **state)
{
	assert_bytes(put_tail("hello", 4), "\u2026llo");
	assert_bytes(put_tail("hello", 1), "\u2026");
	/* a wide character is never split: the line gets shorter instead */
	assert_bytes(put_tail("日本語", 4), "\u2026語");
}

static void test_tail_in_the_c_locale_cuts_behind_an_ascii_ellipsis(void **state)
{
	char *saved = strdup(setlocale(LC_CTYPE, NULL));

	assert_non_null(saved);
	assert_non_null(setlocale(LC_CTYPE, "C"));
	assert_bytes(put_tail("hello", 4), "<llo");
	assert_non_null(setlocale(LC_CTYPE, saved));
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_width_of_ascii_is_its_length),
		cmocka_unit_test(test_text_width_of_utf8_counts_columns_not_bytes),
		cmocka_unit_test(test_text_width_counts_an_invalid_byte_as_one_column),
		cmocka_unit_test(test_text_put_prints_controls_as_spaces_and_invalid_bytes_as_is),
		cmocka_unit_test(test_tail_writes_nothing_when_cols_is_below_1),
		cmocka_unit_test(test_tail_writes_all_of_a_text_that_fits_exactly),
		cmocka_unit_test(test_tail_one_column_too_long_cuts_the_start_behind_an_ellipsis),
		cmocka_unit_test(test_tail_in_the_c_locale_cuts_behind_an_ascii_ellipsis),
	};

	/* widths of non-ASCII text and the "…" need a UTF-8 locale */
	if (!setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "en_US.UTF-8")) {
		fprintf(stderr, "SKIP: no UTF-8 locale (C.UTF-8 or en_US.UTF-8)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
