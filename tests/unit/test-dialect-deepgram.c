/* Unit tests for the Deepgram dialect (module/dialect-deepgram.c) against
 * messages written after Deepgram's documentation examples
 * (developers.deepgram.com, API reference "Live Audio" /v1/listen, Response
 * "Results"/"Metadata"; docs "Finalize", "Speech Started", "Utterance End";
 * read Dec 2026), in tests/unit/deepgram-messages/ (see its README). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dialect-check.h"

#ifndef MESSAGES_DIR
#error "MESSAGES_DIR must name the directory of sample messages"
#endif

static const struct dialect_ops *ops = &dialect_deepgram;

static const struct dialect_params params = {
	.model = "nova-3", .rate = 16000, .channels = 1,
	.n_language_hints = 1, .language_hints = { "en" },
};

static void parse(const char *name)
{
	expect_file(ops, MESSAGES_DIR, name);
}

static void test_key_goes_as_token_not_bearer(void **state)
{
	char h[64];

	assert_int_equal(ops->auth_header("dg-123", h, sizeof(h)), strlen("Token dg-123"));
	assert_string_equal(h, "Token dg-123");
	assert_int_equal(ops->auth_header("k\r\nX: 1", h, sizeof(h)), -EINVAL);
	assert_int_equal(ops->auth_header("", h, sizeof(h)), -EINVAL);
}

static void test_config_is_the_query_and_no_message(void **state)
{
	struct dialect_params p = params;
	char q[512];
	int n;

	assert_int_equal(ops->build_config(&params, "dg-123", buf, sizeof(buf)), 0);
	n = ops->build_query(&params, false, q, sizeof(q));
	assert_int_equal(n, strlen(q));
	assert_string_equal(q, "?encoding=linear16&sample_rate=16000&channels=1&interim_results=true"
			"&punctuate=true&model=nova-3&language=en");
	p.diarization = true;
	assert_true(ops->build_query(&p, true, q, sizeof(q)) > 0);
	assert_int_equal(q[0], '&');
	assert_non_null(strstr(q, "&diarize=true"));
	assert_null(strstr(q, "dg-123"));
}

static void test_query_refuses_values_that_would_need_escaping(void **state)
{
	struct dialect_params p = params;
	char q[512];

	p.model = "nova-3&redact=true";
	assert_int_equal(ops->build_query(&p, false, q, sizeof(q)), -EINVAL);
	p = params;
	p.language_hints[0] = "en us";
	assert_int_equal(ops->build_query(&p, false, q, sizeof(q)), -EINVAL);
	assert_int_equal(ops->build_query(&params, false, q, 20), -ENOSPC);
}

static void test_control_messages_are_deepgram_text_frames(void **state)
{
	assert_true(ops->ready_without_ack);
	assert_null(ops->frame_audio);
	check_control(&ops->keepalive);
	check_control(&ops->finalize);
	check_control(&ops->end_of_stream);
	assert_string_equal(ops->keepalive.data, "{\"type\":\"KeepAlive\"}");
	assert_string_equal(ops->finalize.data, "{\"type\":\"Finalize\"}");
	assert_string_equal(ops->end_of_stream.data, "{\"type\":\"CloseStream\"}");
	/* Docs: 3–5 s; the server closes after 10 s without audio. */
	assert_true(ops->keepalive_ms >= 3000 && ops->keepalive_ms <= 5000);
}

static void test_interim_result_is_non_final_words_and_moves_no_commit(void **state)
{
	parse("results-interim.json");
	assert_int_equal(res.n_tokens, 2);
	expect_token(0, " Another", 80, 400, false);
	expect_token(1, " big", 400, 620, false);
	assert_int_equal(res.final_audio_proc_ms, -1);
	assert_int_equal(res.total_audio_proc_ms, 1060);
	assert_false(res.ready);
}

static void test_final_result_commits_start_plus_duration(void **state)
{
	parse("results-final.json");
	assert_int_equal(res.n_tokens, 8);
	expect_token(0, " Another", 6040, 6280, true);
	expect_token(7, " space.", 7840, 7970, true);
	assert_true(res.tokens[0].confidence > 0.99);
	/* start 5.99 + duration 1.98 */
	assert_int_equal(res.final_audio_proc_ms, 7970);
	assert_int_equal(res.total_audio_proc_ms, 7970);
	assert_true(res.saw_end);	/* speech_final */
	assert_false(res.saw_fin);
}

static void test_finalize_result_without_words_still_commits(void **state)
{
	parse("results-finalize.json");
	assert_int_equal(res.n_tokens, 0);
	assert_true(res.saw_fin);
	assert_int_equal(res.final_audio_proc_ms, 8510);
	assert_true(res.alive);
}

static void test_speaker_numbers_become_labels(void **state)
{
	parse("results-diarize.json");
	assert_int_equal(res.n_tokens, 2);
	assert_string_equal(res.tokens[0].speaker, "0");
	assert_string_equal(res.tokens[1].speaker, "1");
}

static void test_metadata_is_the_end_and_other_events_are_alive(void **state)
{
	parse("metadata.json");
	assert_true(res.finished);
	assert_int_equal(res.n_tokens, 0);
	parse("speech-started.json");
	assert_true(res.alive);
	assert_false(res.finished);
	parse("utterance-end.json");
	assert_true(res.alive);
}

static void test_data_error_is_fatal_with_its_message(void **state)
{
	parse("error-data.json");
	assert_true(res.has_error);
	assert_int_equal(res.error_class, ERR_FATAL);
	assert_string_equal(res.error_type, "DATA-0000");
	assert_non_null(strstr(res.error_message, "cannot be decoded"));
	expect_parse(ops, LIT("{\"type\":\"Error\",\"description\":\"overloaded\"}"));
	assert_int_equal(res.error_class, ERR_TRANSIENT);
}

static void test_transcript_without_words_spans_the_result(void **state)
{
	expect_parse(ops, LIT("{\"type\":\"Results\",\"start\":1.5,\"duration\":0.5,\"is_final\":true,"
			"\"channel\":{\"alternatives\":[{\"transcript\":\"hi there\"}]}}"));
	assert_int_equal(res.n_tokens, 1);
	expect_token(0, " hi there", 1500, 2000, true);
}

static void test_hostile_values_count_as_absent(void **state)
{
	expect_parse(ops, LIT("{\"type\":\"Results\",\"start\":-1,\"duration\":1e300,\"is_final\":\"yes\","
			"\"channel\":{\"alternatives\":[{\"words\":[{\"word\":\"a\\u0000b\",\"start\":\"x\","
			"\"end\":1e30,\"confidence\":7,\"speaker\":\"\\n\"}, 5, null]}]}}"));
	assert_int_equal(res.n_tokens, 1);
	expect_token(0, " a\xef\xbf\xbd" "b", -1, -1, false);
	assert_int_equal(res.tokens[0].confidence, -1);
	assert_string_equal(res.tokens[0].speaker, " ");
	assert_int_equal(res.final_audio_proc_ms, -1);
	check_refuses_garbage(ops);
}

static void test_too_many_words_keep_the_first_and_say_so(void **state)
{
	static char msg[64 * 1024];
	size_t n = 0;

	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "{\"type\":\"Results\",\"is_final\":true,"
			"\"start\":0,\"duration\":1,\"channel\":{\"alternatives\":[{\"words\":[");
	for (int i = 0; i < DIALECT_MAX_TOKENS + 10; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s{\"word\":\"w\",\"start\":0,\"end\":0.1}",
				i ? "," : "");
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "]}]}}");
	expect_parse(ops, msg, n);
	assert_int_equal(res.n_tokens, DIALECT_MAX_TOKENS);
	assert_int_equal(res.n_dropped, 10);
	assert_non_null(strstr(err, "dropped 10"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_goes_as_token_not_bearer),
		cmocka_unit_test(test_config_is_the_query_and_no_message),
		cmocka_unit_test(test_query_refuses_values_that_would_need_escaping),
		cmocka_unit_test(test_control_messages_are_deepgram_text_frames),
		cmocka_unit_test(test_interim_result_is_non_final_words_and_moves_no_commit),
		cmocka_unit_test(test_final_result_commits_start_plus_duration),
		cmocka_unit_test(test_finalize_result_without_words_still_commits),
		cmocka_unit_test(test_speaker_numbers_become_labels),
		cmocka_unit_test(test_metadata_is_the_end_and_other_events_are_alive),
		cmocka_unit_test(test_data_error_is_fatal_with_its_message),
		cmocka_unit_test(test_transcript_without_words_spans_the_result),
		cmocka_unit_test(test_hostile_values_count_as_absent),
		cmocka_unit_test(test_too_many_words_keep_the_first_and_say_so),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
