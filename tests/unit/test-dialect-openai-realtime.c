/* Unit tests for the openai-realtime dialect (module/dialect-openai-realtime.c)
 * against server events written after the OpenAI API reference's examples
 * (developers.openai.com/api/reference/resources/realtime, "Server events";
 * read Dec 2026) and the shapes vLLM's /v1/realtime serialises
 * (vllm/entrypoints/openai/realtime/protocol.py), in
 * tests/unit/openai-realtime-messages/ (see its README). */
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

static const struct dialect_ops *ops = &dialect_openai_realtime;

static const struct dialect_params params = {
	.model = "gpt-4o-transcribe", .rate = 24000, .channels = 1,
	.n_language_hints = 1, .language_hints = { "en" },
};

static int setup(void **state)
{
	dialect_conn_reset(&conn);
	return 0;
}

static void parse(const char *name)
{
	expect_file(ops, MESSAGES_DIR, name);
}

static const char *path_string(struct json_object *obj, const char *const *path)
{
	for (; *path != NULL; path++)
		if (!json_object_object_get_ex(obj, *path, &obj))
			fail_msg("config has no %s: %s", *path, buf);
	return json_object_get_string(obj);
}

static void test_key_goes_as_bearer(void **state)
{
	char h[64];

	assert_int_equal(ops->auth_header("sk-1", h, sizeof(h)), strlen("Bearer sk-1"));
	assert_string_equal(h, "Bearer sk-1");
	assert_int_equal(ops->auth_header("sk\n", h, sizeof(h)), -EINVAL);
}

static void test_config_is_a_transcription_session_update_at_24_khz(void **state)
{
	static const char *const type[] = { "type", NULL };
	static const char *const stype[] = { "session", "type", NULL };
	static const char *const fmt[] = { "session", "audio", "input", "format", "type", NULL };
	static const char *const rate[] = { "session", "audio", "input", "format", "rate", NULL };
	static const char *const model[] = { "session", "audio", "input", "transcription", "model", NULL };
	static const char *const lang[] = { "session", "audio", "input", "transcription", "language", NULL };
	static const char *const vad[] = { "session", "audio", "input", "turn_detection", "type", NULL };
	struct dialect_params p = params;
	struct json_object *obj;
	int n = ops->build_config(&params, "sk-secret", buf, sizeof(buf));

	assert_int_equal(n, strlen(buf));
	assert_null(strstr(buf, "sk-secret"));
	obj = json_tokener_parse(buf);
	assert_string_equal(path_string(obj, type), "session.update");
	assert_string_equal(path_string(obj, stype), "transcription");
	assert_string_equal(path_string(obj, fmt), "audio/pcm");
	assert_string_equal(path_string(obj, rate), "24000");
	assert_string_equal(path_string(obj, model), "gpt-4o-transcribe");
	assert_string_equal(path_string(obj, lang), "en");
	assert_string_equal(path_string(obj, vad), "server_vad");
	json_object_put(obj);

	assert_int_equal(ops->required_rate, 24000);
	p.rate = 16000;
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	p = params;
	p.model = "";
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ops->build_config(&params, NULL, buf, 16), -ENOSPC);
}

static void test_audio_is_base64_in_an_append_event(void **state)
{
	static const unsigned char pcm[] = { 0x00, 0x01, 0x02, 0xff, 0xfe };
	char out[DIALECT_AUDIO_FRAME_MAX(sizeof(pcm))];
	int n = ops->frame_audio(pcm, sizeof(pcm), out, sizeof(out));

	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "{\"type\":\"input_audio_buffer.append\",\"audio\":\"AAEC//4=\"}");
	assert_int_equal(ops->frame_audio(pcm, sizeof(pcm), out, 20), -ENOSPC);
	/* 100 ms at 24 kHz fits the frame the data path allocates. */
	assert_true(DIALECT_AUDIO_FRAME_MAX(4800) > 6400 + 60);
}

static void test_control_messages_commit(void **state)
{
	assert_false(ops->ready_without_ack);
	check_control(&ops->finalize);
	check_control(&ops->end_of_stream);
	assert_string_equal(ops->finalize.data, "{\"type\":\"input_audio_buffer.commit\"}");
	assert_int_equal(ops->keepalive.len, 0);
	assert_int_equal(ops->max_session_sec, 3600);
}

static void test_session_acks_make_it_ready(void **state)
{
	parse("session-created.json");
	assert_true(res.ready);
	parse("session-updated.json");
	assert_true(res.ready);
	parse("transcription-session-updated.json");
	assert_true(res.ready);
	parse("speech-started.json");
	assert_false(res.ready);
}

/* speech_started → speech_stopped → committed → delta → completed. */
static void test_item_span_joins_its_text_and_commits_its_end(void **state)
{
	parse("speech-started.json");
	assert_true(res.alive);
	assert_int_equal(res.total_audio_proc_ms, 1000);
	parse("speech-stopped.json");
	assert_int_equal(res.total_audio_proc_ms, 2000);
	parse("committed.json");
	assert_int_equal(res.final_audio_proc_ms, -1);
	parse("delta.json");
	assert_int_equal(res.n_tokens, 1);
	expect_token(0, " Hello,", 1000, 2000, false);
	expect_parse(ops, LIT("{\"type\":\"conversation.item.input_audio_transcription.delta\","
			"\"item_id\":\"msg_003\",\"delta\":\" how\"}"));
	expect_token(0, " Hello, how", 1000, 2000, false);
	assert_false(res.finished);
	parse("completed.json");
	assert_int_equal(res.n_tokens, 1);
	expect_token(0, " Hello, how are you?", 1000, 2000, true);
	assert_int_equal(res.final_audio_proc_ms, 2000);
	assert_true(res.finished);	/* nothing committed waits */
}

static void feed(const char *type, const char *item, const char *field, int64_t ms)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "{\"type\":\"%s\",\"item_id\":\"%s\",\"%s\":%lld}",
			type, item, field, (long long)ms);

	expect_parse(ops, msg, (size_t)n);
}

static void complete(const char *item, const char *text)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "{\"type\":\"conversation.item.input_audio_transcription"
			".completed\",\"item_id\":\"%s\",\"transcript\":\"%s\"}", item, text);

	expect_parse(ops, msg, (size_t)n);
}

static void test_out_of_order_completion_commits_only_what_is_complete_before(void **state)
{
	feed("input_audio_buffer.speech_started", "a", "audio_start_ms", 500);
	feed("input_audio_buffer.speech_stopped", "a", "audio_end_ms", 1500);
	expect_parse(ops, LIT("{\"type\":\"input_audio_buffer.committed\",\"item_id\":\"a\"}"));
	feed("input_audio_buffer.speech_started", "b", "audio_start_ms", 2000);
	feed("input_audio_buffer.speech_stopped", "b", "audio_end_ms", 3000);
	expect_parse(ops, LIT("{\"type\":\"input_audio_buffer.committed\",\"item_id\":\"b\"}"));
	/* b first: a still waits, so nothing after a's start is committed. */
	complete("b", "second");
	expect_token(0, " second", 2000, 3000, true);
	assert_int_equal(res.final_audio_proc_ms, 500);
	assert_false(res.finished);
	complete("a", "first");
	assert_int_equal(res.final_audio_proc_ms, 3000);
	assert_true(res.finished);
}

static void test_commit_of_an_empty_buffer_is_no_error(void **state)
{
	parse("error-commit-empty.json");
	assert_false(res.has_error);
	assert_true(res.alive);
	assert_true(res.finished);
}

static void test_errors_classify_by_code_then_type(void **state)
{
	parse("error-auth.json");
	assert_true(res.has_error);
	assert_int_equal(res.error_class, ERR_AUTH);
	assert_string_equal(res.error_type, "invalid_api_key");
	assert_string_equal(res.error_message, "Incorrect API key provided.");
	parse("error-session-expired.json");
	assert_int_equal(res.error_class, ERR_TRANSIENT_NOW);
	parse("error-invalid.json");
	assert_int_equal(res.error_class, ERR_FATAL);
	parse("error-server.json");
	assert_int_equal(res.error_class, ERR_TRANSIENT);
	assert_non_null(strstr(res.error_message, "server had an error"));
	parse("failed.json");
	assert_int_equal(res.error_class, ERR_TRANSIENT);
	assert_string_equal(res.error_message, "The audio could not be transcribed.");
}

static void test_vllm_events_parse_without_times(void **state)
{
	parse("vllm-session-created.json");
	assert_true(res.ready);
	parse("vllm-delta.json");
	expect_token(0, " Hello", -1, -1, false);
	expect_parse(ops, LIT("{\"type\":\"transcription.delta\",\"delta\":\" world\"}"));
	expect_token(0, " Hello world", -1, -1, false);
	parse("vllm-done.json");
	expect_token(0, " Hello world", -1, -1, true);
	assert_int_equal(res.final_audio_proc_ms, -1);
	assert_true(res.finished);
	parse("vllm-error.json");
	assert_true(res.has_error);
	assert_string_equal(res.error_type, "model_not_validated");
	assert_non_null(strstr(res.error_message, "Model not validated"));
}

static void test_hostile_events_never_break_the_memory(void **state)
{
	char msg[512];
	int n;

	/* More items than remembered, ids longer than kept, absurd times. */
	for (int i = 0; i < 3 * DIALECT_CONN_ITEMS; i++) {
		n = snprintf(msg, sizeof(msg), "{\"type\":\"input_audio_buffer.speech_started\","
				"\"item_id\":\"%03d%0100d\",\"audio_start_ms\":%d}", i, i, i * 10);
		expect_parse(ops, msg, (size_t)n);
		n = snprintf(msg, sizeof(msg), "{\"type\":\"input_audio_buffer.committed\","
				"\"item_id\":\"%03d%0100d\"}", i, i);
		expect_parse(ops, msg, (size_t)n);
	}
	assert_int_equal(conn.n_items, DIALECT_CONN_ITEMS);
	expect_parse(ops, LIT("{\"type\":\"input_audio_buffer.speech_stopped\",\"item_id\":\"x\","
			"\"audio_end_ms\":1e300}"));
	assert_int_equal(res.total_audio_proc_ms, -1);
	expect_parse(ops, LIT("{\"type\":\"conversation.item.input_audio_transcription.completed\","
			"\"item_id\":5,\"transcript\":[\"x\"]}"));
	assert_int_equal(res.n_tokens, 0);
	expect_parse(ops, LIT("{\"type\":\"error\",\"error\":{\"message\":\"a\\nb\"}}"));
	assert_string_equal(res.error_message, "a b");
	expect_parse(ops, LIT("{\"type\":7}"));
	assert_true(res.alive);
	/* Deltas that overflow the partial are cut at a character. */
	for (int i = 0; i < 200; i++)
		expect_parse(ops, LIT("{\"type\":\"transcription.delta\",\"delta\":\"\xc3\xa9\xc3\xa9\"}"));
	assert_true(strlen(res.tokens[0].text) < TOKEN_TEXT_MAX);
	assert_int_equal(ops->parse(NULL, LIT("{}"), &res, err, sizeof(err)), -EINVAL);
	check_refuses_garbage(ops);
	/* Found by the fuzzer: the item's leading space pushed a long
	 * transcript's last character out mid-sequence; an empty error string
	 * left a failure without a reason. */
	parse("hostile-long-transcript.json");
	assert_int_equal(res.n_tokens, 1);
	parse("hostile-empty-error.json");
	assert_true(res.has_error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_key_goes_as_bearer, setup),
		cmocka_unit_test_setup(test_config_is_a_transcription_session_update_at_24_khz, setup),
		cmocka_unit_test_setup(test_audio_is_base64_in_an_append_event, setup),
		cmocka_unit_test_setup(test_control_messages_commit, setup),
		cmocka_unit_test_setup(test_session_acks_make_it_ready, setup),
		cmocka_unit_test_setup(test_item_span_joins_its_text_and_commits_its_end, setup),
		cmocka_unit_test_setup(test_out_of_order_completion_commits_only_what_is_complete_before, setup),
		cmocka_unit_test_setup(test_commit_of_an_empty_buffer_is_no_error, setup),
		cmocka_unit_test_setup(test_errors_classify_by_code_then_type, setup),
		cmocka_unit_test_setup(test_vllm_events_parse_without_times, setup),
		cmocka_unit_test_setup(test_hostile_events_never_break_the_memory, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
