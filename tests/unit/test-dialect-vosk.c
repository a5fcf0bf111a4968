/* Unit tests for the vosk dialect (module/dialect-vosk.c) against replies
 * in the shapes vosk-server sends (alphacep/vosk-server README "Usage" and
 * websocket/test.py output, Kaldi's result JSON; read Dec 2026), in
 * tests/unit/vosk-messages/ (see its README). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dialect-check.h"

#ifndef MESSAGES_DIR
#error "MESSAGES_DIR must name the directory of sample messages"
#endif

static const struct dialect_ops *ops = &dialect_vosk;

static void parse(const char *name)
{
	expect_file(ops, MESSAGES_DIR, name);
}

static void test_no_key_travels(void **state)
{
	char h[64];

	assert_int_equal(ops->auth_header("secret", h, sizeof(h)), -ENOTSUP);
	assert_true(ops->build_config(&(struct dialect_params){ .rate = 16000, .channels = 1 },
			"secret", buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "secret"));
}

static void test_config_says_the_rate_and_asks_for_words(void **state)
{
	struct json_object *obj, *config, *v;
	int n = ops->build_config(&(struct dialect_params){ .model = "/models/x", .rate = 16000,
			.channels = 1 }, NULL, buf, sizeof(buf));

	assert_int_equal(n, strlen(buf));
	obj = json_tokener_parse(buf);
	assert_true(json_object_object_get_ex(obj, "config", &config));
	assert_true(json_object_object_get_ex(config, "sample_rate", &v));
	assert_int_equal(json_object_get_int(v), 16000);
	assert_true(json_object_object_get_ex(config, "words", &v));
	assert_true(json_object_get_boolean(v));
	/* The server reads "model" as a path on its disk: never sent. */
	assert_false(json_object_object_get_ex(config, "model", &v));
	json_object_put(obj);
	/* vosk hears mono only. */
	assert_int_equal(ops->build_config(&(struct dialect_params){ .rate = 16000, .channels = 2 },
			NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ops->build_config(&(struct dialect_params){ .rate = 16000, .channels = 1 },
			NULL, buf, 10), -ENOSPC);
}

static void test_eof_is_the_exact_string_and_nothing_else_is_sent(void **state)
{
	assert_true(ops->ready_without_ack);
	assert_int_equal(ops->keepalive.len, 0);
	assert_int_equal(ops->finalize.len, 0);
	assert_int_equal(ops->keepalive_ms, 0);
	check_control(&ops->end_of_stream);
	/* Both servers compare the frame with this string, spaces included. */
	assert_string_equal(ops->end_of_stream.data, "{\"eof\" : 1}");
}

static void test_partial_is_one_untimed_non_final_and_alive(void **state)
{
	parse("partial.json");
	assert_int_equal(res.n_tokens, 1);
	expect_token(0, " what zero zero zero one", -1, -1, false);
	assert_int_equal(res.final_audio_proc_ms, -1);
	assert_true(res.alive);
	parse("partial-empty.json");
	assert_int_equal(res.n_tokens, 0);
	assert_true(res.alive);		/* the lock-step answer to audio: progress */
}

static void test_result_words_are_final_and_commit_the_last_end(void **state)
{
	parse("result.json");
	assert_int_equal(res.n_tokens, 5);
	expect_token(0, " what", 750, 1020, true);
	expect_token(4, " one", 2100, 2340, true);
	assert_true(res.tokens[2].confidence > 0.98 && res.tokens[2].confidence < 0.99);
	assert_int_equal(res.final_audio_proc_ms, 2340);
	assert_int_equal(res.total_audio_proc_ms, 2340);
}

static void test_text_without_words_is_one_untimed_final(void **state)
{
	parse("result-no-words.json");
	assert_int_equal(res.n_tokens, 1);
	expect_token(0, " nine oh two one oh", -1, -1, true);
	assert_int_equal(res.final_audio_proc_ms, -1);
	parse("result-empty.json");
	assert_int_equal(res.n_tokens, 0);
	assert_true(res.alive);
}

static void test_alternatives_take_the_first(void **state)
{
	parse("alternatives.json");
	assert_int_equal(res.n_tokens, 2);
	expect_token(1, " zero", 1020, 1380, true);
	assert_int_equal(res.final_audio_proc_ms, 1380);
}

static void test_hostile_replies_count_as_absent(void **state)
{
	expect_parse(ops, LIT("{\"result\":[{\"word\":7,\"start\":-3,\"end\":\"x\",\"conf\":2}, [], "
			"{\"word\":\"ok\",\"start\":1,\"end\":0.5}],\"partial\":1}"));
	assert_int_equal(res.n_tokens, 2);
	expect_token(0, " ", -1, -1, true);
	expect_token(1, " ok", 1000, 500, true);
	assert_int_equal(res.tokens[0].confidence, -1);
	expect_parse(ops, LIT("{\"alternatives\":[]}"));
	assert_int_equal(res.n_tokens, 0);
	expect_parse(ops, LIT("{\"partial\":\"\\u00ff\\ud800x\"}"));
	check_label(res.tokens[0].text, sizeof(res.tokens[0].text));
	check_refuses_garbage(ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_key_travels),
		cmocka_unit_test(test_config_says_the_rate_and_asks_for_words),
		cmocka_unit_test(test_eof_is_the_exact_string_and_nothing_else_is_sent),
		cmocka_unit_test(test_partial_is_one_untimed_non_final_and_alive),
		cmocka_unit_test(test_result_words_are_final_and_commit_the_last_end),
		cmocka_unit_test(test_text_without_words_is_one_untimed_final),
		cmocka_unit_test(test_alternatives_take_the_first),
		cmocka_unit_test(test_hostile_replies_count_as_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
