/* What pw-transcribe follow prints, byte for byte, from its real rendering
 * code (tools/cli/cli-caption.c, cli-text.c): state lines and captions as a
 * pipe gets them, one JSON object per event, and the partial line on a
 * terminal, a real pty with a set window size (cli-caption.c asks the
 * terminal for its width, so the pty is the way in: no hook). That follow
 * never prints the same state twice in a row is show_state() in
 * cli-follow.c, a static function: this file includes cli-follow.c to call
 * it; the other tools/cli sources but pw-transcribe.c (main()) are linked
 * in. For the calls, fd 1 points at a tmpfile (or the pty); it is restored
 * before any assertion. */
#include "cli-follow.c"
#include "cli-text.h"

#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <wchar.h>

#include <cmocka.h>

#include "bytes-check.h"

#define TAP_PATH	CLI_ROOT_PATH "/tap"
#define MAX_ATTEMPTS	6
#define ERASE		"\r\x1b[K"
#define READ_TIMEOUT_MS	5000
#define N_ELEMENTS(a)	(sizeof(a) / sizeof((a)[0]))

/* One capture of fd 1 around a struct cli_caption. */
struct out {
	struct cli_caption *c;
	struct follow follow;	/* show_state() reads .out (and sets .done) */
	FILE *file;		/* a pipe's view: the tmpfile; NULL on a pty */
	int master;		/* a terminal's view: the pty's master */
	int saved;		/* the test's own stdout */
	int rc;			/* the first error a call returned */
};

static void out_start(struct out *o, int fd, enum cli_caption_mode mode, bool prefix)
{
	o->c = cli_caption_new(mode, prefix);
	assert_non_null(o->c);
	o->follow.out = o->c;
	fflush(stdout);
	o->saved = dup(STDOUT_FILENO);
	assert_true(o->saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
}

/* Output as a pipe or a file gets it. */
static void out_open(struct out *o, enum cli_caption_mode mode, bool prefix)
{
	memset(o, 0, sizeof(*o));
	o->master = -1;
	o->file = tmpfile();
	assert_non_null(o->file);
	out_start(o, fileno(o->file), mode, prefix);
}

/* Output on a terminal of cols columns (its line discipline turns \n into
 * \r\n, as a real one does). */
static void out_open_tty(struct out *o, int cols, bool prefix)
{
	struct winsize ws = { .ws_row = 24, .ws_col = (unsigned short)cols };
	int slave;

	memset(o, 0, sizeof(*o));
	o->master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(o->master >= 0);
	assert_int_equal(grantpt(o->master), 0);
	assert_int_equal(unlockpt(o->master), 0);
	slave = open(ptsname(o->master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
	out_start(o, slave, CLI_CAPTION_TERMINAL, prefix);
	close(slave);		/* fd 1 is the only one left */
}

/* The window is resized while follow runs. */
static void out_resize(struct out *o, int cols)
{
	struct winsize ws = { .ws_row = 24, .ws_col = (unsigned short)cols };

	if (ioctl(STDOUT_FILENO, TIOCSWINSZ, &ws) < 0 && o->rc == 0)
		o->rc = -errno;
}

static void out_rc(struct out *o, int r)
{
	if (o->rc == 0)
		o->rc = r;
}

static char *read_all(int fd, bool tty)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0, size = 256;
	char *buf = malloc(size);
	ssize_t n;

	assert_non_null(buf);
	if (!tty)
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	for (;;) {
		if (len + 1 == size) {
			size *= 2;
			buf = realloc(buf, size);
			assert_non_null(buf);
		}
		/* a pty: until EIO, once its slave is closed and drained */
		if (tty && poll(&p, 1, READ_TIMEOUT_MS) != 1)
			break;
		n = read(fd, buf + len, size - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* Frees the caption (which erases a partial left on a terminal), puts
 * stdout back and returns everything written; the caller frees it. */
static char *out_close(struct out *o)
{
	char *got;

	cli_caption_free(o->c);
	fflush(stdout);
	assert_int_equal(dup2(o->saved, STDOUT_FILENO), STDOUT_FILENO);
	close(o->saved);
	if (o->file) {
		got = read_all(fileno(o->file), false);
		fclose(o->file);
	} else {
		got = read_all(o->master, true);
		close(o->master);
	}
	assert_int_equal(o->rc, 0);
	return got;
}


static void assert_output(struct out *o, const char *want)
{
	assert_bytes(out_close(o), want);
}

/* What the service says about a tap's state; strings are copied. */
static int tap_set(struct cli_tap *t, const char *state, uint32_t attempt,
		   int64_t next_retry_ms, const char *error)
{
	char *s = strdup(state), *e = strdup(error);

	if (!s || !e) {
		free(s);
		free(e);
		return -ENOMEM;
	}
	free(t->state);
	free(t->last_error);
	t->state = s;
	t->last_error = e;
	t->attempt = attempt;
	t->next_retry_ms = next_retry_ms;
	return 0;
}

static int tap_new(struct cli_tap *t, const char *name)
{
	int r = cli_tap_init(t, TAP_PATH);

	if (r < 0)
		return r;
	free(t->name);
	t->name = strdup(name);
	t->max_attempts = MAX_ATTEMPTS;
	return t->name ? 0 : -ENOMEM;
}

static void out_state(struct out *o, const char *tap, const char *state,
		      uint32_t attempt, int64_t next_retry_ms, const char *error)
{
	struct cli_tap t;
	int r = tap_new(&t, tap);

	if (r == 0)
		r = tap_set(&t, state, attempt, next_retry_ms, error);
	if (r == 0)
		r = cli_caption_state(o->c, &t);
	cli_tap_clear(&t);
	out_rc(o, r);
}

/* A state change as follow sees it: through show_state(). */
static void out_follow_state(struct out *o, struct follow_tap *ft, const char *state,
			     uint32_t attempt, int64_t next_retry_ms, const char *error)
{
	int r = tap_set(&ft->t, state, attempt, next_retry_ms, error);

	if (r == 0)
		show_state(&o->follow, ft);
	out_rc(o, r < 0 ? r : o->follow.done ? -ENOMEM : 0);
}

static void out_partial(struct out *o, const char *tap, const char *text)
{
	out_rc(o, cli_caption_partial(o->c, tap, text, 0, 1200));
}

static void out_final(struct out *o, const char *tap, uint64_t start_ms, const char *text)
{
	struct cli_final f = {
		.text = text, .start_ms = start_ms, .end_ms = start_ms + 500, .seq = 1,
		.speaker = "", .language = "en", .session_id = "s1",
	};

	out_rc(o, cli_caption_final(o->c, tap, &f));
}

static void follow_tap_init(struct follow_tap *ft)
{
	memset(ft, 0, sizeof(*ft));
	assert_int_equal(tap_new(&ft->t, "x"), 0);
}

static void follow_tap_clear(struct follow_tap *ft)
{
	cli_tap_clear(&ft->t);
	free(ft->shown);
}

/* ---- plain: a pipe or a file ---- */

static void test_reconnecting_state_line_says_attempt_and_retry_time(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_state(&o, "x", "reconnecting", 2, 3200, "reset");
	assert_output(&o, "-- Reconnecting (2/6) in 3.2 s\n");
}

static void test_reconnecting_state_line_without_retry_has_no_time(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_state(&o, "x", "reconnecting", 2, -1, "");
	assert_output(&o, "-- Reconnecting (2/6)\n");
}

static void test_offline_and_failed_state_lines_say_the_last_error(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_state(&o, "x", "offline", 0, -1, "no route to host");
	out_state(&o, "x", "failed", 0, -1, "HTTP 401");
	out_state(&o, "x", "offline", 0, -1, "");
	assert_output(&o, "-- Offline: no route to host\n-- Failed: HTTP 401\n-- Offline\n");
}

static void test_other_state_lines_are_the_state_capitalised(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_state(&o, "x", "streaming", 1, -1, "an old error");
	out_state(&o, "x", "capture-only", 0, -1, "");
	assert_output(&o, "-- Streaming\n-- Capture-only\n");
}

static void test_removed_and_service_gone_lines(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_rc(&o, cli_caption_removed(o.c, "x"));
	out_rc(&o, cli_caption_gone(o.c));
	assert_output(&o, "-- Removed\n-- service gone\n");
}

static void test_identical_consecutive_state_is_printed_once(void **state)
{
	struct follow_tap ft;
	struct out o;

	follow_tap_init(&ft);
	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_follow_state(&o, &ft, "streaming", 1, -1, "");
	out_follow_state(&o, &ft, "streaming", 1, -1, "");
	ft.t.buffered_ms = 300;		/* not part of a state event */
	out_follow_state(&o, &ft, "streaming", 1, -1, "");
	out_follow_state(&o, &ft, "reconnecting", 2, 3200, "reset");
	out_follow_state(&o, &ft, "reconnecting", 2, 3200, "reset");
	out_follow_state(&o, &ft, "reconnecting", 2, 1600, "reset");
	out_follow_state(&o, &ft, "streaming", 1, -1, "");
	follow_tap_clear(&ft);
	assert_output(&o, "-- Streaming\n-- Reconnecting (2/6) in 3.2 s\n"
			  "-- Reconnecting (2/6) in 1.6 s\n-- Streaming\n");
}

static void test_final_shows_start_time_with_tenths_cut_not_rounded(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_final(&o, "x", 0, "zero");
	out_final(&o, "x", 61299, "one");
	out_final(&o, "x", 59999, "almost a minute");
	assert_output(&o, "[00:00.0] zero\n[01:01.2] one\n[00:59.9] almost a minute\n");
}

static void test_final_minutes_go_past_59(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_final(&o, "x", 3723456, "two");
	assert_output(&o, "[62:03.4] two\n");
}

static void test_control_characters_in_service_text_become_spaces(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, true);
	out_final(&o, "x", 0, "one\x1b[2J\ntwo\r\x7f");
	out_state(&o, "a\x1b", "offline", 0, -1, "no\nroute");
	assert_output(&o, "x: [00:00.0] one [2J two  \na : -- Offline: no route\n");
}

static void test_plain_mode_prints_no_partials(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, false);
	out_partial(&o, "x", "not shown");
	out_final(&o, "x", 1000, "shown");
	out_partial(&o, "x", "");
	assert_output(&o, "[00:01.0] shown\n");
}

static void test_several_taps_prefix_lines_with_the_name(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_PLAIN, true);
	out_state(&o, "a", "idle", 0, -1, "");
	out_final(&o, "b", 1000, "bee");
	out_rc(&o, cli_caption_removed(o.c, "a"));
	out_rc(&o, cli_caption_gone(o.c));
	assert_output(&o, "a: -- Idle\nb: [00:01.0] bee\na: -- Removed\n-- service gone\n");
}

/* ---- JSON ---- */

static void test_json_state_event_has_its_keys_in_order(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_JSON, false);
	out_state(&o, "x", "connecting", 1, -1, "");
	out_state(&o, "x", "reconnecting", 2, 3200, "reset");
	assert_output(&o,
		"{\"event\":\"state\",\"tap\":\"x\",\"state\":\"connecting\",\"attempt\":1,"
		"\"max_attempts\":6,\"next_retry_ms\":-1,\"error\":\"\"}\n"
		"{\"event\":\"state\",\"tap\":\"x\",\"state\":\"reconnecting\",\"attempt\":2,"
		"\"max_attempts\":6,\"next_retry_ms\":3200,\"error\":\"reset\"}\n");
}

static void test_json_partial_event_has_text_and_times(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_JSON, false);
	out_partial(&o, "x", "hello wor");
	assert_output(&o, "{\"event\":\"partial\",\"tap\":\"x\",\"text\":\"hello wor\","
			  "\"start_ms\":0,\"end_ms\":1200}\n");
}

static void test_json_final_event_has_confidence_only_when_the_service_sent_it(void **state)
{
	struct cli_final f = {
		.text = "again", .start_ms = 1300, .end_ms = 2000, .seq = 4,
		.speaker = "1", .language = "en", .session_id = "s1",
		.has_confidence = true, .confidence = 0.9,
	};
	struct out o;

	out_open(&o, CLI_CAPTION_JSON, false);
	out_final(&o, "x", 0, "hello");
	out_rc(&o, cli_caption_final(o.c, "x", &f));
	assert_output(&o,
		"{\"event\":\"final\",\"tap\":\"x\",\"text\":\"hello\",\"start_ms\":0,"
		"\"end_ms\":500,\"seq\":1,\"speaker\":\"\",\"language\":\"en\","
		"\"session_id\":\"s1\"}\n"
		"{\"event\":\"final\",\"tap\":\"x\",\"text\":\"again\",\"start_ms\":1300,"
		"\"end_ms\":2000,\"seq\":4,\"speaker\":\"1\",\"language\":\"en\","
		"\"confidence\":0.9,\"session_id\":\"s1\"}\n");
}

static void test_json_confidence_is_the_shortest_text_that_reads_back(void **state)
{
	static const struct {
		double value;
		const char *text;
	} cases[] = {
		{ 0.9, "0.9" }, { 0.25, "0.25" }, { 0.1 + 0.2, "0.30000000000000004" },
	};
	struct cli_final f = { .text = "", .speaker = "", .language = "", .session_id = "",
			       .has_confidence = true };
	char want[512];
	struct out o;
	size_t i;

	for (i = 0; i < N_ELEMENTS(cases); i++) {
		out_open(&o, CLI_CAPTION_JSON, false);
		f.confidence = cases[i].value;
		out_rc(&o, cli_caption_final(o.c, "x", &f));
		snprintf(want, sizeof(want),
			 "{\"event\":\"final\",\"tap\":\"x\",\"text\":\"\",\"start_ms\":0,"
			 "\"end_ms\":0,\"seq\":0,\"speaker\":\"\",\"language\":\"\","
			 "\"confidence\":%s,\"session_id\":\"\"}\n", cases[i].text);
		assert_output(&o, want);
	}
}

static void test_json_text_escapes_quotes_and_control_characters(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_JSON, false);
	out_partial(&o, "x", "hello \"world\" a/b \\ \x1b[2J\n");
	assert_output(&o, "{\"event\":\"partial\",\"tap\":\"x\","
			  "\"text\":\"hello \\\"world\\\" a/b \\\\ \\u001b[2J\\n\","
			  "\"start_ms\":0,\"end_ms\":1200}\n");
}

static void test_json_removed_and_gone_events(void **state)
{
	struct out o;

	out_open(&o, CLI_CAPTION_JSON, false);
	out_rc(&o, cli_caption_removed(o.c, "x"));
	out_rc(&o, cli_caption_gone(o.c));
	assert_output(&o, "{\"event\":\"removed\",\"tap\":\"x\"}\n{\"event\":\"gone\"}\n");
}

static void test_json_identical_consecutive_state_is_printed_once(void **state)
{
	struct follow_tap ft;
	struct out o;

	follow_tap_init(&ft);
	out_open(&o, CLI_CAPTION_JSON, false);
	out_follow_state(&o, &ft, "streaming", 1, -1, "");
	out_follow_state(&o, &ft, "streaming", 1, -1, "");
	ft.t.session_id[0] = '\0';	/* not part of a state event */
	out_follow_state(&o, &ft, "streaming", 1, -1, "");
	out_follow_state(&o, &ft, "offline", 1, -1, "down");
	out_follow_state(&o, &ft, "offline", 1, -1, "down");
	follow_tap_clear(&ft);
	assert_output(&o,
		"{\"event\":\"state\",\"tap\":\"x\",\"state\":\"streaming\",\"attempt\":1,"
		"\"max_attempts\":6,\"next_retry_ms\":-1,\"error\":\"\"}\n"
		"{\"event\":\"state\",\"tap\":\"x\",\"state\":\"offline\",\"attempt\":1,"
		"\"max_attempts\":6,\"next_retry_ms\":-1,\"error\":\"down\"}\n");
}

/* ---- terminal: a pty ---- */

/* Every line between the erases is narrower than the terminal (wcswidth).
 * Finals are not cut (they scroll): the tests keep theirs short. */
static void assert_lines_within(const char *got, int cols)
{
	const char *s = got, *end;
	wchar_t wide[256];
	char line[1024];
	size_t len;
	int w;

	while (*s) {
		end = strstr(s, ERASE);
		len = end ? (size_t)(end - s) : strlen(s);
		assert_true(len < sizeof(line));
		memcpy(line, s, len);
		line[len] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		assert_true(mbstowcs(wide, line, N_ELEMENTS(wide)) != (size_t)-1);
		w = wcswidth(wide, N_ELEMENTS(wide));
		assert_true(w >= 0 && w < cols);
		s = end ? end + strlen(ERASE) : s + len;
	}
}

static void test_terminal_partial_is_rewritten_in_place_within_the_width(void **state)
{
	struct out o;
	char *got;

	out_open_tty(&o, 20, false);
	out_partial(&o, "x", "short");
	out_partial(&o, "x", "a caption far too long for twenty");
	out_final(&o, "x", 0, "done");
	got = out_close(&o);
	assert_lines_within(got, 20);
	assert_bytes(got, ERASE "short" ERASE "\u2026oo long for twenty" ERASE
		     "[00:00.0] done\r\n");
}

static void test_terminal_partial_never_reaches_the_last_column(void **state)
{
	struct out o;

	out_open_tty(&o, 20, false);
	out_partial(&o, "x", "nineteen columns ok");
	out_partial(&o, "x", "twenty columns is 1+");
	assert_output(&o, ERASE "nineteen columns ok" ERASE "\u2026enty columns is 1+" ERASE);
}

static void test_terminal_partial_cut_keeps_wide_characters_whole(void **state)
{
	struct out o;
	char *got;

	out_open_tty(&o, 10, false);
	out_partial(&o, "x", "日本語のテキストです");
	got = out_close(&o);
	assert_lines_within(got, 10);
	assert_bytes(got, ERASE "\u2026ストです" ERASE);
}

static void test_terminal_width_is_asked_again_for_every_partial(void **state)
{
	struct out o;

	out_open_tty(&o, 20, false);
	out_partial(&o, "x", "one two three four");
	out_resize(&o, 10);
	out_partial(&o, "x", "one two three four five");
	assert_output(&o, ERASE "one two three four" ERASE "\u2026our five" ERASE);
}

static void test_terminal_partial_keeps_the_tap_prefix_with_several_taps(void **state)
{
	struct out o;
	char *got;

	out_open_tty(&o, 20, true);
	out_partial(&o, "mic", "a caption far too long");
	out_final(&o, "mic", 2000, "done");
	got = out_close(&o);
	assert_lines_within(got, 20);
	assert_bytes(got, ERASE "mic: \u2026 far too long" ERASE "mic: [00:02.0] done\r\n");
}

static void test_terminal_line_printed_under_a_partial_redraws_it(void **state)
{
	struct out o;

	out_open_tty(&o, 40, true);
	out_partial(&o, "a", "hello");
	out_state(&o, "b", "streaming", 1, -1, "");
	out_final(&o, "b", 0, "bee");
	assert_output(&o, ERASE "a: hello" ERASE "b: -- Streaming\r\n" ERASE "a: hello"
		      ERASE "b: [00:00.0] bee\r\n" ERASE "a: hello" ERASE);
}

static void test_terminal_empty_partial_clears_only_its_own_tap(void **state)
{
	struct out o;

	out_open_tty(&o, 40, true);
	out_partial(&o, "a", "hello");
	out_partial(&o, "b", "");
	out_partial(&o, "a", "");
	out_rc(&o, cli_caption_gone(o.c));
	assert_output(&o, ERASE "a: hello" ERASE "-- service gone\r\n");
}

static void test_terminal_removed_tap_takes_its_partial_along(void **state)
{
	struct out o;

	out_open_tty(&o, 40, true);
	out_partial(&o, "a", "hello");
	out_rc(&o, cli_caption_removed(o.c, "a"));
	out_partial(&o, "b", "wor");
	out_rc(&o, cli_caption_gone(o.c));
	assert_output(&o, ERASE "a: hello" ERASE "a: -- Removed\r\n" ERASE "b: wor"
		      ERASE "-- service gone\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconnecting_state_line_says_attempt_and_retry_time),
		cmocka_unit_test(test_reconnecting_state_line_without_retry_has_no_time),
		cmocka_unit_test(test_offline_and_failed_state_lines_say_the_last_error),
		cmocka_unit_test(test_other_state_lines_are_the_state_capitalised),
		cmocka_unit_test(test_removed_and_service_gone_lines),
		cmocka_unit_test(test_identical_consecutive_state_is_printed_once),
		cmocka_unit_test(test_final_shows_start_time_with_tenths_cut_not_rounded),
		cmocka_unit_test(test_final_minutes_go_past_59),
		cmocka_unit_test(test_control_characters_in_service_text_become_spaces),
		cmocka_unit_test(test_plain_mode_prints_no_partials),
		cmocka_unit_test(test_several_taps_prefix_lines_with_the_name),
		cmocka_unit_test(test_json_state_event_has_its_keys_in_order),
		cmocka_unit_test(test_json_partial_event_has_text_and_times),
		cmocka_unit_test(test_json_final_event_has_confidence_only_when_the_service_sent_it),
		cmocka_unit_test(test_json_confidence_is_the_shortest_text_that_reads_back),
		cmocka_unit_test(test_json_text_escapes_quotes_and_control_characters),
		cmocka_unit_test(test_json_removed_and_gone_events),
		cmocka_unit_test(test_json_identical_consecutive_state_is_printed_once),
		cmocka_unit_test(test_terminal_partial_is_rewritten_in_place_within_the_width),
		cmocka_unit_test(test_terminal_partial_never_reaches_the_last_column),
		cmocka_unit_test(test_terminal_partial_cut_keeps_wide_characters_whole),
		cmocka_unit_test(test_terminal_width_is_asked_again_for_every_partial),
		cmocka_unit_test(test_terminal_partial_keeps_the_tap_prefix_with_several_taps),
		cmocka_unit_test(test_terminal_line_printed_under_a_partial_redraws_it),
		cmocka_unit_test(test_terminal_empty_partial_clears_only_its_own_tap),
		cmocka_unit_test(test_terminal_removed_tap_takes_its_partial_along),
	};

	/* widths of non-ASCII text and the "…" need a UTF-8 locale */
	if (!setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "en_US.UTF-8")) {
		fprintf(stderr, "SKIP: no UTF-8 locale (C.UTF-8 or en_US.UTF-8)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
