/* From module arguments to what each part gets (module/config-map.c), where
 * the dialect changes it: Deepgram's config in the URL's query, the
 * readiness rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config-map.h"

/* Big: static rather than on the test's stack. */
static struct transcribe_config cfg;
static struct config_map map;
static struct dialect_params params;
static char err[512];

static void map_args(const char *args)
{
	if (config_parse(args, &cfg, err, sizeof(err)) != 0)
		fail_msg("config_parse(%s): %s", args, err);
	if (config_map_all(&cfg, "t", "s", 1, &params, &map, err, sizeof(err)) != 0)
		fail_msg("config_map_all(%s): %s", args, err);
}

static void test_deepgram_config_rides_in_the_query(void **state)
{
	map_args("{ service = { dialect = deepgram url = \"wss://api.deepgram.com/v1/listen\" "
			"language.hints = [ de ] } }");
	assert_ptr_equal(map.dialect, &dialect_deepgram);
	assert_string_equal(map.transport.url.path, "/v1/listen?encoding=linear16&sample_rate=16000"
			"&channels=1&interim_results=true&punctuate=true&model=nova-3&language=de");
	/* A URL with a query of its own keeps it and gets ours after '&'. */
	map_args("{ service = { dialect = deepgram url = \"wss://h/v1/listen?tag=x\" } }");
	assert_non_null(strstr(map.transport.url.path, "/v1/listen?tag=x&encoding=linear16&"));
	map_args("{ service = { dialect = soniox url = \"wss://h/x?a=b\" } }");
	assert_string_equal(map.transport.url.path, "/x?a=b");
}

static void test_a_value_the_query_can_not_carry_fails_naming_the_keys(void **state)
{
	assert_int_equal(config_parse("{ service = { dialect = deepgram url = \"wss://h/\" "
			"model = \"nova 3\" } }", &cfg, err, sizeof(err)), 0);
	assert_int_equal(config_map_all(&cfg, "t", "s", 1, &params, &map, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "service.model"));
}

static void test_a_dialect_with_an_ack_waits_for_it(void **state)
{
	map_args("{ service = { dialect = openai-realtime url = \"wss://h/\" } audio.rate = 24000 }");
	assert_false(map.session.ready_on_open);
	assert_int_equal(map.session.stall_timeout_ms, 30000);
	map_args("{ service = { dialect = vosk url = \"ws://h/\" } liveness.stall-timeout-ms = 5000 }");
	assert_int_equal(map.session.stall_timeout_ms, 5000);
	assert_true(map.session.ready_on_open);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deepgram_config_rides_in_the_query),
		cmocka_unit_test(test_a_value_the_query_can_not_carry_fails_naming_the_keys),
		cmocka_unit_test(test_a_dialect_with_an_ack_waits_for_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
