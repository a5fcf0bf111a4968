/* Where a tap's words go (module/transcript-out.c) when the service floods
 * us: the journal stops at journal.max-mb with a gap line that says so and,
 * at close, one with the span left out; every word still reaches the main
 * thread's queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <pipewire/log.h>

#include "journal.h"
#include "publish-queue.h"
#include "transcript-out.h"

PW_LOG_TOPIC(mod_topic, "test.transcribe");

static char dir[] = "/tmp/test-transcript-out-XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void wake(void *data)
{
}

static struct transcript_token final_token(int64_t start, int64_t end)
{
	struct transcript_token t = { .start_ms = start, .end_ms = end, .is_final = true,
		.confidence = -1 };

	snprintf(t.text, sizeof(t.text), " word%lld", (long long)start);
	return t;
}

/* The journal's lines of `type`, and the last one's JSON. */
static int count_lines(const char *path, const char *type, struct json_object **last)
{
	char line[4096], want[64];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	snprintf(want, sizeof(want), "{\"type\":\"%s\"", type);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		n++;
		if (last != NULL) {
			json_object_put(*last);
			*last = json_tokener_parse(line);
		}
	}
	fclose(f);
	return n;
}

/* The issue: a million finals in 25 s made a 154 MB journal. */
static void test_a_flood_of_finals_stops_at_the_limit_and_is_still_published(void **state)
{
	struct publish_queue *q = publish_queue_new(wake, NULL);
	struct transcript_out *o = transcript_out_new("flood", "s1", 16000, dir, NULL);
	struct json_object *gap = NULL, *v;
	struct publish_event ev;
	uint64_t published = 0, limit = 16 * 1024;
	char path[512];
	struct stat st;
	int finals;

	assert_non_null(q);
	assert_non_null(o);
	transcript_out_set_queue(o, q, 0);
	transcript_out_set_journal_limit(o, limit);
	snprintf(path, sizeof(path), "%s", transcript_out_journal_path(o));
	for (int64_t i = 0; i < 2000; i++) {
		struct transcript_token t = final_token(i * 10, i * 10 + 5);
		transcript_out_tokens(o, &t, 1, 1);
		transcript_out_state(o, i % 2 ? "streaming" : "reconnecting", "", i * 10);
		while (publish_queue_pop(q, &ev))
			published += ev.kind == PUBLISH_FINAL;
	}
	assert_int_equal(published, 2000);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_size <= limit);

	/* where it stopped */
	finals = count_lines(path, "final", NULL);
	assert_true(finals > 10 && finals < 2000);
	assert_int_equal(count_lines(path, "gap", &gap), 1);
	assert_true(json_object_object_get_ex(gap, "reason", &v));
	assert_non_null(strstr(json_object_get_string(v), "journal.max-mb"));

	/* at close: the span of what was left out */
	transcript_out_free(o);
	assert_int_equal(count_lines(path, "gap", &gap), 2);
	assert_true(json_object_object_get_ex(gap, "end_ms", &v));
	assert_int_equal(json_object_get_int64(v), 1999 * 10 + 5);
	assert_true(json_object_object_get_ex(gap, "reason", &v));
	assert_non_null(strstr(json_object_get_string(v), "final segments"));
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_size <= limit);
	json_object_put(gap);
	publish_queue_free(q);
}

static void test_under_the_limit_nothing_changes(void **state)
{
	struct transcript_out *o = transcript_out_new("quiet", "s2", 16000, dir, NULL);
	char path[512];

	assert_non_null(o);
	snprintf(path, sizeof(path), "%s", transcript_out_journal_path(o));
	for (int64_t i = 0; i < 20; i++) {
		struct transcript_token t = final_token(i * 10, i * 10 + 5);
		transcript_out_tokens(o, &t, 1, 1);
	}
	transcript_out_free(o);
	assert_int_equal(count_lines(path, "final", NULL), 20);
	assert_int_equal(count_lines(path, "gap", NULL), 0);
}

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_flood_of_finals_stops_at_the_limit_and_is_still_published),
		cmocka_unit_test(test_under_the_limit_nothing_changes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
