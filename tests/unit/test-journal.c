/* The transcript journal: file and directory modes, the exact bytes of
 * every line, a new file on every open, whole lines only (also when the
 * disk fills up), sync bookkeeping, and errors that name the path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "journal.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
	char dir[64];
	char err[512];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-journal-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* The whole file; NUL-terminated, the caller frees it. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* "<dir>/<tap>-yyyymmddThhmmssZ-<sid>.jsonl" → "yyyy-mm-ddThh:mm:ssZ" */
static void started_from_path(const char *path, const char *dir, const char *tap,
			      const char *sid, char *out)
{
	const char *p = path + strlen(dir) + 1 + strlen(tap) + 1;
	char tail[128];

	assert_memory_equal(path, dir, strlen(dir));
	assert_int_equal(strlen(p), 16 + 1 + strlen(sid) + strlen(".jsonl"));
	assert_true(p[8] == 'T' && p[15] == 'Z' && p[16] == '-');
	snprintf(tail, sizeof(tail), "-%s.jsonl", sid);
	assert_string_equal(p + 16, tail);
	sprintf(out, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", p, p + 4, p + 6, p + 9, p + 11, p + 13);
}

static void test_default_dir_is_created_0700_and_file_is_0600(void **state)
{
	struct fixture *fx = *state;
	char xdg[128], dir[160], prefix[200];
	struct journal *j;
	mode_t old = umask(0);	/* the modes must not depend on the umask */

	snprintf(xdg, sizeof(xdg), "%s/state", fx->dir);
	snprintf(dir, sizeof(dir), "%s/pipewire-transcribe", xdg);
	setenv("XDG_STATE_HOME", xdg, 1);
	j = journal_open(NULL, "captions", "1c5e2256", 16000, NULL, fx->err, sizeof(fx->err));
	umask(old);
	assert_non_null(j);
	snprintf(prefix, sizeof(prefix), "%s/captions-", dir);
	assert_memory_equal(journal_path(j), prefix, strlen(prefix));
	assert_int_equal(mode_of(xdg), 0700);
	assert_int_equal(mode_of(dir), 0700);
	assert_int_equal(mode_of(journal_path(j)), 0600);
	journal_close(j);
	unsetenv("XDG_STATE_HOME");
}

static void test_without_xdg_state_home_the_dir_is_under_home(void **state)
{
	struct fixture *fx = *state;
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	char dir[200];
	struct journal *j;

	setenv("HOME", fx->dir, 1);
	setenv("XDG_STATE_HOME", "relative/is/ignored", 1);
	j = journal_open(NULL, "mic", "ab", 16000, NULL, fx->err, sizeof(fx->err));
	assert_non_null(j);
	snprintf(dir, sizeof(dir), "%s/.local/state/pipewire-transcribe/mic-", fx->dir);
	assert_memory_equal(journal_path(j), dir, strlen(dir));
	snprintf(dir, sizeof(dir), "%s/.local", fx->dir);
	assert_int_equal(mode_of(dir), 0700);
	journal_close(j);
	unsetenv("XDG_STATE_HOME");
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_home);
}

static void test_lines_are_written_byte_for_byte(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "browser", "1c5e2256", 16000,
					 NULL, fx->err, sizeof(fx->err));
	char started[32], expected[1024], path[PATH_MAX];
	char *got;

	assert_non_null(j);
	assert_string_equal(fx->err, "");
	started_from_path(journal_path(j), fx->dir, "browser", "1c5e2256", started);
	snprintf(path, sizeof(path), "%s", journal_path(j));
	assert_int_equal(journal_final(j, &(struct journal_final){
		.seq = 1, .start_ms = 510, .end_ms = 2060, .text = "go forward ten meters",
		.speaker = "1", .language = "en", .confidence = 0.93, .connection_id = 3 }), 0);
	assert_int_equal(journal_final(j, &(struct journal_final){
		.seq = 2, .session_id = "other", .start_ms = 2100, .end_ms = 2500,
		.text = "a/b", .confidence = -1, .connection_id = 4 }), 0);
	assert_int_equal(journal_gap(j, 2500, 4000, "ring overflow"), 0);
	assert_int_equal(journal_state(j, "reconnecting", "connection refused", 4100), 0);
	assert_int_equal(journal_state(j, "streaming", NULL, 4300), 0);
	journal_close(j);

	snprintf(expected, sizeof(expected),
		"{\"type\":\"header\",\"version\":1,\"tap\":\"browser\",\"session_id\":\"1c5e2256\","
		"\"started\":\"%s\",\"rate\":16000}\n"
		"{\"type\":\"final\",\"seq\":1,\"session_id\":\"1c5e2256\",\"start_ms\":510,"
		"\"end_ms\":2060,\"text\":\"go forward ten meters\",\"speaker\":\"1\","
		"\"language\":\"en\",\"confidence\":0.93,\"connection_id\":3}\n"
		"{\"type\":\"final\",\"seq\":2,\"session_id\":\"other\",\"start_ms\":2100,"
		"\"end_ms\":2500,\"text\":\"a/b\",\"speaker\":\"\",\"language\":\"\","
		"\"connection_id\":4}\n"
		"{\"type\":\"gap\",\"start_ms\":2500,\"end_ms\":4000,\"reason\":\"ring overflow\"}\n"
		"{\"type\":\"state\",\"at_ms\":4100,\"state\":\"reconnecting\","
		"\"error\":\"connection refused\"}\n"
		"{\"type\":\"state\",\"at_ms\":4300,\"state\":\"streaming\",\"error\":\"\"}\n",
		started);
	got = slurp(path, NULL);
	assert_string_equal(got, expected);
	free(got);
}

static void test_second_open_gets_a_new_file_and_leaves_the_first_intact(void **state)
{
	struct fixture *fx = *state;
	struct journal *a, *b, *c;
	char *before, *after, first[PATH_MAX], stem[PATH_MAX];
	size_t n;

	a = journal_open(fx->dir, "tap", "s1", 16000, NULL, fx->err, sizeof(fx->err));
	assert_non_null(a);
	assert_int_equal(journal_final(a, &(struct journal_final){
		.seq = 1, .start_ms = 0, .end_ms = 10, .text = "one", .confidence = -1 }), 0);
	snprintf(first, sizeof(first), "%s", journal_path(a));
	before = slurp(first, NULL);

	b = journal_open(fx->dir, "tap", "s1", 16000, NULL, fx->err, sizeof(fx->err));
	c = journal_open(fx->dir, "tap", "s1", 16000, NULL, fx->err, sizeof(fx->err));
	assert_non_null(b);
	assert_non_null(c);
	assert_string_not_equal(journal_path(b), first);
	assert_string_not_equal(journal_path(c), journal_path(b));
	/* within the same second the name gets -2, -3 */
	n = strlen(first) - strlen(".jsonl");
	snprintf(stem, sizeof(stem), "%.*s", (int)n, first);
	if (strncmp(journal_path(b), stem, n) == 0)
		assert_string_equal(journal_path(b) + n, "-2.jsonl");
	if (strncmp(journal_path(c), stem, n) == 0)
		assert_string_equal(journal_path(c) + n, "-3.jsonl");
	assert_int_equal(journal_final(b, &(struct journal_final){
		.seq = 1, .start_ms = 0, .end_ms = 10, .text = "two", .confidence = -1 }), 0);
	journal_close(b);
	journal_close(c);

	after = slurp(first, NULL);
	assert_string_equal(after, before);
	journal_close(a);
	free(before);
	free(after);
}

static void test_text_with_quotes_newlines_and_utf8_round_trips(void **state)
{
	static const char *const texts[] = {
		"she said \"stop\" \\ twice",
		"line one\nline two\ttab\r",
		"Grüße, 東京, emoji \xf0\x9f\x8e\xa4, \xe2\x80\xa6",
		"control \x01\x1f and / slash",
	};
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "u", "s", 48000, NULL, fx->err, sizeof(fx->err));
	struct json_tokener *tok = json_tokener_new();
	char path[PATH_MAX], *buf, *line, *nl;
	size_t len, i = 0;

	assert_non_null(j);
	for (size_t k = 0; k < N_ELEMENTS(texts); k++)
		assert_int_equal(journal_final(j, &(struct journal_final){
			.seq = k + 1, .start_ms = (int64_t)k * 1000, .end_ms = (int64_t)k * 1000 + 900,
			.text = texts[k], .speaker = "Ünïcode", .confidence = 0.5 }), 0);
	snprintf(path, sizeof(path), "%s", journal_path(j));
	journal_close(j);

	buf = slurp(path, &len);
	assert_true(len > 0);
	assert_int_equal(buf[len - 1], '\n');
	for (line = buf; *line; line = nl + 1, i++) {
		struct json_object *o, *v;

		nl = strchr(line, '\n');
		assert_non_null(nl);	/* every line ends in \n */
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, line, (int)(nl - line));
		assert_non_null(o);
		assert_int_equal(json_tokener_get_parse_end(tok), (size_t)(nl - line));
		if (i > 0) {
			assert_true(json_object_object_get_ex(o, "text", &v));
			assert_string_equal(json_object_get_string(v), texts[i - 1]);
			assert_true(json_object_object_get_ex(o, "speaker", &v));
			assert_string_equal(json_object_get_string(v), "Ünïcode");
		}
		json_object_put(o);
	}
	assert_int_equal(i, 1 + N_ELEMENTS(texts));
	json_tokener_free(tok);
	free(buf);
}

static void test_sync_is_due_only_after_a_write(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "t", "s", 16000, NULL, fx->err, sizeof(fx->err));

	assert_non_null(j);
	assert_true(journal_dirty(j));		/* the header */
	assert_int_equal(journal_sync(j), 0);
	assert_false(journal_dirty(j));
	assert_int_equal(journal_sync(j), 0);	/* nothing to do */
	assert_int_equal(journal_gap(j, 0, 100, "spool full"), 0);
	assert_true(journal_dirty(j));
	assert_int_equal(journal_sync(j), 0);
	assert_false(journal_dirty(j));
	journal_close(j);
	journal_close(NULL);
}

static void test_unusable_dir_gives_an_error_naming_the_path(void **state)
{
	struct fixture *fx = *state;
	char file[128], dir[160], expected[256];
	struct journal *j;
	int fd;

	/* a regular file where a directory should be (also as root) */
	snprintf(file, sizeof(file), "%s/plain-file", fx->dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(dir, sizeof(dir), "%s/sub", file);
	errno = 0;
	j = journal_open(dir, "t", "s", 16000, NULL, fx->err, sizeof(fx->err));
	assert_null(j);
	assert_int_equal(errno, ENOTDIR);
	snprintf(expected, sizeof(expected), "journal: cannot create directory %s: %s",
		 dir, strerror(ENOTDIR));
	assert_string_equal(fx->err, expected);

	j = journal_open(file, "t", "s", 16000, NULL, fx->err, sizeof(fx->err));
	assert_null(j);
	snprintf(expected, sizeof(expected), "journal: %s: %s", file, strerror(ENOTDIR));
	assert_string_equal(fx->err, expected);

	/* a directory without write permission (root may write anyway) */
	if (geteuid() != 0) {
		snprintf(dir, sizeof(dir), "%s/read-only", fx->dir);
		assert_int_equal(mkdir(dir, 0500), 0);
		j = journal_open(dir, "t", "s", 16000, NULL, fx->err, sizeof(fx->err));
		assert_null(j);
		assert_int_equal(errno, EACCES);
		snprintf(expected, sizeof(expected), "journal: cannot create %s/t-", dir);
		assert_memory_equal(fx->err, expected, strlen(expected));
		assert_non_null(strstr(fx->err, strerror(EACCES)));
		chmod(dir, 0700);
	}
}

static void test_bad_names_are_refused(void **state)
{
	struct fixture *fx = *state;

	assert_null(journal_open(fx->dir, "../up", "s", 16000, NULL, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(fx->err, "\"../up\""));
	assert_null(journal_open(fx->dir, "t", "", 16000, NULL, fx->err, sizeof(fx->err)));
	assert_null(journal_open(fx->dir, NULL, "s", 16000, NULL, NULL, 0));
}

/* RLIMIT_FSIZE makes write(2) stop short in the middle of a line, as a
 * full disk does: the file keeps whole lines only, later lines are
 * refused with the same error. */
static void test_short_write_leaves_only_whole_lines(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "t", "s", 16000, NULL, fx->err, sizeof(fx->err));
	struct rlimit old, lim;
	char path[PATH_MAX], *before, *after;
	size_t len;
	int r;

	assert_non_null(j);
	assert_int_equal(journal_sync(j), 0);
	snprintf(path, sizeof(path), "%s", journal_path(j));
	before = slurp(path, &len);

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = len + 20;	/* room for 20 bytes of the next line */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = journal_final(j, &(struct journal_final){ .seq = 1, .start_ms = 0, .end_ms = 1,
		.text = "this line does not fit in twenty bytes", .confidence = -1 });
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(r, -ENOSPC);

	/* broken for good: nothing more is written, the error stays */
	assert_int_equal(journal_gap(j, 0, 1, "x"), -ENOSPC);
	assert_int_equal(journal_sync(j), -ENOSPC);
	journal_close(j);
	after = slurp(path, NULL);
	assert_string_equal(after, before);
	free(before);
	free(after);
}

/* A hostile service once wrote 154 MB in 25 s: under a limit, finals and
 * states stop short of it (the journal stays usable), gap lines can still
 * say where it stopped, and the file never passes the limit. */
static void test_a_capped_journal_stops_below_its_limit_and_can_still_say_so(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "cap", "s1", 16000, NULL, fx->err, sizeof(fx->err));
	uint64_t limit = 3 * JOURNAL_RESERVE, seq = 0;
	struct stat st;
	int r;

	assert_non_null(j);
	journal_set_limit(j, limit);
	do {
		r = journal_final(j, &(struct journal_final){ .seq = ++seq, .start_ms = 0,
			.end_ms = 10, .text = "a word that takes some room", .confidence = -1 });
	} while (r == 0);
	assert_int_equal(r, -EFBIG);
	assert_true(journal_size(j) <= limit - JOURNAL_RESERVE);
	/* shorter lines fill what is left, never the reserve */
	while ((r = journal_state(j, "streaming", NULL, 5)) == 0)
		;
	assert_int_equal(r, -EFBIG);
	assert_true(journal_size(j) <= limit - JOURNAL_RESERVE);
	assert_int_equal(journal_sync(j), 0);
	/* the reserve takes gap lines, up to the limit */
	assert_int_equal(journal_gap(j, 10, 10, "journal.max-mb reached"), 0);
	do {
		r = journal_gap(j, 10, 20, "more");
	} while (r == 0);
	assert_int_equal(r, -EFBIG);
	assert_true(journal_size(j) <= limit);
	assert_int_equal(stat(journal_path(j), &st), 0);
	assert_int_equal((uint64_t)st.st_size, journal_size(j));
	journal_close(j);
}

/* A planted symlink where the journal goes is never followed. */
static void test_the_journal_never_follows_a_symlink(void **state)
{
	struct fixture *fx = *state;
	char target[128], link[PATH_MAX];
	struct journal *j;

	j = journal_open(fx->dir, "sym", "s1", 16000, NULL, fx->err, sizeof(fx->err));
	assert_non_null(j);
	snprintf(link, sizeof(link), "%s", journal_path(j));
	journal_close(j);
	unlink(link);
	snprintf(target, sizeof(target), "%s/target", fx->dir);
	assert_int_equal(symlink(target, link), 0);
	j = journal_open(fx->dir, "sym", "s1", 16000, NULL, fx->err, sizeof(fx->err));
	/* same second: the name is taken (by the link), the next one is used */
	if (j != NULL) {
		assert_string_not_equal(journal_path(j), link);
		journal_close(j);
	}
	assert_int_equal(access(target, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_default_dir_is_created_0700_and_file_is_0600,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_xdg_state_home_the_dir_is_under_home,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_are_written_byte_for_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_second_open_gets_a_new_file_and_leaves_the_first_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_with_quotes_newlines_and_utf8_round_trips,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_is_due_only_after_a_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_dir_gives_an_error_naming_the_path,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_capped_journal_stops_below_its_limit_and_can_still_say_so,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_journal_never_follows_a_symlink,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_leaves_only_whole_lines,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
