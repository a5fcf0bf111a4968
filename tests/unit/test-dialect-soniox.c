/* Unit tests for the Soniox dialect (module/dialect-soniox.c) and the error
 * class names (module/errclass.c). Sample responses live in
 * tests/unit/soniox-messages/ (SONIOX_MESSAGES_DIR). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dialect-check.h"

#ifndef SONIOX_MESSAGES_DIR
#error "SONIOX_MESSAGES_DIR must name the directory of sample messages"
#endif

static const struct dialect_ops *ops = &dialect_soniox;

/* What every successful parse guarantees (dialect-check.h), and markers
 * are never words. */
static void assert_sane_result(const struct dialect_result *r)
{
	check_sane_result(r);
	for (uint32_t i = 0; i < r->n_tokens; i++) {
		assert_string_not_equal(r->tokens[i].text, "<fin>");
		assert_string_not_equal(r->tokens[i].text, "<end>");
	}
}

static void parse_ok(const char *msg, size_t len)
{
	int r = ops->parse(NULL, msg, len, &res, err, sizeof(err));

	if (r != 0)
		fail_msg("parse(%.*s) = %d: %s", (int)len, msg, r, err);
	assert_sane_result(&res);
}

static void parse_rejected(const char *msg, size_t len)
{
	int r = ops->parse(NULL, msg, len, &res, err, sizeof(err));

	if (r != -EINVAL)
		fail_msg("parse(%.*s) = %d, want -EINVAL", (int)len, msg, r);
	if (strncmp(err, "soniox: ", 8) != 0 || strlen(err) <= 8)
		fail_msg("parse(%.*s): error \"%s\" gives no reason", (int)len, msg, err);
	assert_null(strchr(err, '\n'));
	assert_int_equal(res.n_tokens, 0);
	assert_false(res.has_error);
}

static void parse_file(const char *name)
{
	expect_file(ops, SONIOX_MESSAGES_DIR, name);
	assert_sane_result(&res);
}

static void assert_token(uint32_t i, const char *text, int64_t start, int64_t end, bool is_final)
{
	const struct transcript_token *t = &res.tokens[i];

	assert_true(i < res.n_tokens);
	assert_string_equal(t->text, text);
	assert_int_equal(t->start_ms, start);
	assert_int_equal(t->end_ms, end);
	assert_int_equal(t->is_final, is_final);
}

static const struct dialect_params default_params = {
	.model = "stt-rt-v5",
	.rate = 16000,
	.channels = 1,
};

/* Builds the config and parses it back; the caller puts the object. */
static struct json_object *build_config(const struct dialect_params *p, const char *key)
{
	struct json_object *obj;
	int len = ops->build_config(p, key, buf, sizeof(buf));

	if (len <= 0)
		fail_msg("build_config = %d", len);
	assert_int_equal((size_t)len, strlen(buf));
	obj = json_tokener_parse(buf);
	if (!json_object_is_type(obj, json_type_object))
		fail_msg("config is not a JSON object: %s", buf);
	return obj;
}

static struct json_object *member(struct json_object *obj, const char *key, enum json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		fail_msg("config has no \"%s\": %s", key, buf);
	if (!json_object_is_type(v, type))
		fail_msg("config \"%s\" is a %s: %s", key, json_type_to_name(json_object_get_type(v)), buf);
	return v;
}

static void assert_member_string(struct json_object *obj, const char *key, const char *value)
{
	assert_string_equal(json_object_get_string(member(obj, key, json_type_string)), value);
}

static void assert_member_int(struct json_object *obj, const char *key, int64_t value)
{
	assert_int_equal(json_object_get_int64(member(obj, key, json_type_int)), value);
}

static void assert_member_true(struct json_object *obj, const char *key)
{
	assert_true(json_object_get_boolean(member(obj, key, json_type_boolean)));
}

/* --- lookup, control messages, errclass --- */

static void test_find_knows_every_dialect_by_exact_name(void **state)
{
	assert_ptr_equal(dialect_find("soniox"), &dialect_soniox);
	assert_string_equal(dialect_soniox.name, "soniox");
	assert_null(dialect_find("Soniox"));
	assert_ptr_equal(dialect_find("deepgram"), &dialect_deepgram);
	assert_ptr_equal(dialect_find("openai-realtime"), &dialect_openai_realtime);
	assert_ptr_equal(dialect_find("vosk"), &dialect_vosk);
	assert_null(dialect_find("openai"));
	assert_null(dialect_find(""));
	assert_null(dialect_find(NULL));
}

static void test_control_messages_are_soniox_text_frames(void **state)
{
	assert_true(ops->ready_without_ack);
	assert_int_equal(ops->keepalive_ms, 5000);

	assert_true(ops->keepalive.text);
	assert_int_equal(ops->keepalive.len, strlen("{\"type\":\"keepalive\"}"));
	assert_memory_equal(ops->keepalive.data, "{\"type\":\"keepalive\"}", ops->keepalive.len);

	assert_true(ops->finalize.text);
	assert_int_equal(ops->finalize.len, strlen("{\"type\":\"finalize\"}"));
	assert_memory_equal(ops->finalize.data, "{\"type\":\"finalize\"}", ops->finalize.len);

	/* End of audio: an empty text message, not "none" (data NULL). */
	assert_true(ops->end_of_stream.text);
	assert_int_equal(ops->end_of_stream.len, 0);
	assert_non_null(ops->end_of_stream.data);
}

static void test_error_classes_have_log_names(void **state)
{
	assert_string_equal(err_class_name(ERR_NONE), "none");
	assert_string_equal(err_class_name(ERR_TRANSIENT), "transient");
	assert_string_equal(err_class_name(ERR_TRANSIENT_NOW), "transient-now");
	assert_string_equal(err_class_name(ERR_AUTH), "auth");
	assert_string_equal(err_class_name(ERR_FATAL), "fatal");
	assert_string_equal(err_class_name((enum err_class)99), "unknown");
	assert_string_equal(err_class_name((enum err_class)-1), "unknown");
}

/* --- auth header --- */

static void test_auth_header_is_bearer_key(void **state)
{
	char h[64];

	assert_int_equal(ops->auth_header("sk-123", h, sizeof(h)), strlen("Bearer sk-123"));
	assert_string_equal(h, "Bearer sk-123");
}

static void test_auth_header_too_small_is_enospc_and_leaves_no_key(void **state)
{
	char h[13];	/* "Bearer sk-123" needs 14 */

	memset(h, 'x', sizeof(h));
	assert_int_equal(ops->auth_header("sk-123", h, sizeof(h)), -ENOSPC);
	assert_null(memchr(h, 's', sizeof(h)));
	assert_int_equal(ops->auth_header("sk-123", h, 0), -ENOSPC);
	assert_int_equal(ops->auth_header("sk-12", h, sizeof(h)), 12);
}

static void test_auth_header_refuses_missing_key_and_line_breaks(void **state)
{
	char h[64];

	assert_int_equal(ops->auth_header(NULL, h, sizeof(h)), -EINVAL);
	assert_int_equal(ops->auth_header("", h, sizeof(h)), -EINVAL);
	assert_int_equal(ops->auth_header("k\r\nX-Evil: 1", h, sizeof(h)), -EINVAL);
	assert_int_equal(ops->auth_header("k\n", h, sizeof(h)), -EINVAL);
	assert_int_equal(ops->auth_header("k\x7f", h, sizeof(h)), -EINVAL);
}

/* --- config message --- */

static void test_config_without_key_or_options_has_only_required_fields(void **state)
{
	struct json_object *obj = build_config(&default_params, NULL);

	assert_member_string(obj, "model", "stt-rt-v5");
	assert_member_string(obj, "audio_format", "pcm_s16le");
	assert_member_int(obj, "sample_rate", 16000);
	assert_member_int(obj, "num_channels", 1);
	assert_int_equal(json_object_object_length(obj), 4);
	json_object_put(obj);

	/* An empty key is no key. */
	obj = build_config(&default_params, "");
	assert_false(json_object_object_get_ex(obj, "api_key", NULL));
	json_object_put(obj);
}

static void test_config_with_key_hints_and_options_has_every_field(void **state)
{
	struct dialect_params p = {
		.model = "stt-rt-preview",
		.rate = 48000,
		.channels = 2,
		.n_language_hints = 3,
		.language_hints = { "en", "de", "sl" },
		.diarization = true,
		.language_identification = true,
		.endpoint_detection = true,
		.client_reference_id = "living-room",
	};
	struct json_object *obj = build_config(&p, "sk-secret"), *hints;

	/* the key travels only in the Authorization header */
	assert_false(json_object_object_get_ex(obj, "api_key", NULL));
	assert_member_string(obj, "model", "stt-rt-preview");
	assert_member_string(obj, "audio_format", "pcm_s16le");
	assert_member_int(obj, "sample_rate", 48000);
	assert_member_int(obj, "num_channels", 2);
	hints = member(obj, "language_hints", json_type_array);
	assert_int_equal(json_object_array_length(hints), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(hints, 0)), "en");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(hints, 1)), "de");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(hints, 2)), "sl");
	assert_member_true(obj, "enable_speaker_diarization");
	assert_member_true(obj, "enable_language_identification");
	assert_member_true(obj, "enable_endpoint_detection");
	assert_member_string(obj, "client_reference_id", "living-room");
	assert_int_equal(json_object_object_length(obj), 9);
	json_object_put(obj);
}

static void test_config_sends_each_option_only_when_enabled(void **state)
{
	struct dialect_params p = default_params;
	struct json_object *obj;

	p.endpoint_detection = true;
	obj = build_config(&p, NULL);
	assert_member_true(obj, "enable_endpoint_detection");
	assert_false(json_object_object_get_ex(obj, "enable_speaker_diarization", NULL));
	assert_false(json_object_object_get_ex(obj, "enable_language_identification", NULL));
	assert_false(json_object_object_get_ex(obj, "language_hints", NULL));
	assert_false(json_object_object_get_ex(obj, "client_reference_id", NULL));
	json_object_put(obj);
}

static void test_config_strings_with_quotes_and_backslashes_round_trip(void **state)
{
	struct dialect_params p = default_params;
	struct json_object *obj;

	p.model = "m\"o\\d/el\n";
	p.client_reference_id = "r\xc3\xa9" "f \"x\" \t\x01";
	obj = build_config(&p, "k\"}, \"model\": \"evil");
	assert_member_string(obj, "model", "m\"o\\d/el\n");
	assert_member_string(obj, "client_reference_id", "r\xc3\xa9" "f \"x\" \t\x01");
	assert_false(json_object_object_get_ex(obj, "api_key", NULL));
	assert_int_equal(json_object_object_length(obj), 5);
	json_object_put(obj);
}

static void test_config_too_small_buffer_is_enospc_and_leaves_no_key(void **state)
{
	char small[512];
	int len = ops->build_config(&default_params, "sk-secret", small, sizeof(small));

	assert_true(len > 0);
	memset(small, 0, sizeof(small));
	assert_int_equal(ops->build_config(&default_params, "sk-secret", small, (size_t)len), -ENOSPC);
	for (size_t i = 0; i + 2 < sizeof(small); i++)
		assert_false(small[i] == 's' && small[i + 1] == 'k' && small[i + 2] == '-');
	assert_int_equal(ops->build_config(&default_params, NULL, small, 0), -ENOSPC);
	assert_int_equal(ops->build_config(&default_params, NULL, NULL, 0), -ENOSPC);
	/* Exactly the length plus the NUL fits. */
	assert_int_equal(ops->build_config(&default_params, "sk-secret", small, (size_t)len + 1), len);
	assert_int_equal(strlen(small), (size_t)len);
}

static void test_config_refuses_invalid_params(void **state)
{
	struct dialect_params p;

	assert_int_equal(ops->build_config(NULL, NULL, buf, sizeof(buf)), -EINVAL);
	p = default_params, p.model = NULL;
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	p = default_params, p.model = "";
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	p = default_params, p.rate = 0;
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	p = default_params, p.channels = 0;
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	p = default_params, p.n_language_hints = DIALECT_MAX_HINTS + 1;
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	p = default_params, p.n_language_hints = 2, p.language_hints[0] = "en";
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);	/* [1] NULL */
	p = default_params, p.model = "stt\xff";
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
	/* the key is not the config's business (header only): any key goes */
	p = default_params;
	assert_true(ops->build_config(&p, "k\xc0\x80", buf, sizeof(buf)) > 0);
	p = default_params, p.client_reference_id = "\xed\xa0\x80";
	assert_int_equal(ops->build_config(&p, NULL, buf, sizeof(buf)), -EINVAL);
}

/* --- responses --- */

static void test_typical_response_has_finals_then_non_finals(void **state)
{
	parse_file("typical.json");
	assert_int_equal(res.n_tokens, 4);
	assert_token(0, "How", 120, 300, true);
	assert_token(1, " are", 300, 420, true);
	assert_token(2, " you", 420, 540, false);
	assert_token(3, " do", 600, 660, false);
	assert_string_equal(res.tokens[0].speaker, "1");
	assert_string_equal(res.tokens[0].language, "en");
	assert_float_equal(res.tokens[0].confidence, 0.97, 1e-9);
	assert_float_equal(res.tokens[3].confidence, 0.42, 1e-9);
	assert_int_equal(res.final_audio_proc_ms, 420);
	assert_int_equal(res.total_audio_proc_ms, 720);
	assert_false(res.finished);
	assert_false(res.has_error);
}

static void test_fin_marker_is_dropped(void **state)
{
	parse_file("finalize.json");
	assert_int_equal(res.n_tokens, 2);
	assert_token(0, " doing", 600, 840, true);
	assert_token(1, "?", 840, 860, true);
	assert_int_equal(res.final_audio_proc_ms, 1500);
	assert_true(res.saw_fin);
	assert_false(res.saw_end);
}

static void test_end_marker_is_dropped(void **state)
{
	parse_file("endpoint.json");
	assert_int_equal(res.n_tokens, 2);
	assert_token(0, " Gr\xc3\xbc\xc3\x9f", 2000, 2300, true);
	assert_token(1, " Gott", 2300, 2600, true);
	assert_string_equal(res.tokens[1].language, "de");
	assert_string_equal(res.tokens[1].speaker, "");
	assert_true(res.saw_end);
	assert_false(res.saw_fin);
}

static void test_only_exact_markers_are_dropped(void **state)
{
	parse_ok(LIT("{\"tokens\":[{\"text\":\"<fin>\",\"is_final\":false},"
			"{\"text\":\" <fin>\",\"is_final\":true},{\"text\":\"<END>\",\"is_final\":true},"
			"{\"text\":\"<fin>x\",\"is_final\":true}]}"));
	assert_int_equal(res.n_tokens, 3);
	assert_string_equal(res.tokens[0].text, " <fin>");
	assert_string_equal(res.tokens[1].text, "<END>");
	assert_string_equal(res.tokens[2].text, "<fin>x");
}

static void test_finished_message_sets_finished(void **state)
{
	parse_file("finished.json");
	assert_true(res.finished);
	assert_int_equal(res.n_tokens, 0);
	assert_int_equal(res.final_audio_proc_ms, 3100);
	assert_int_equal(res.total_audio_proc_ms, 3100);
	assert_false(res.has_error);

	parse_ok(LIT("{\"finished\":false}"));
	assert_false(res.finished);
}

static void test_error_codes_map_to_classes(void **state)
{
	static const struct {
		int code;
		enum err_class cls;
	} cases[] = {
		{ 400, ERR_FATAL }, { 401, ERR_AUTH }, { 402, ERR_FATAL }, { 403, ERR_FATAL },
		{ 404, ERR_FATAL }, { 408, ERR_TRANSIENT }, { 429, ERR_TRANSIENT },
		{ 500, ERR_TRANSIENT }, { 503, ERR_TRANSIENT_NOW }, { 502, ERR_TRANSIENT },
		{ 418, ERR_TRANSIENT }, { 0, ERR_TRANSIENT }, { -1, ERR_TRANSIENT },
		{ 99999, ERR_TRANSIENT },
	};
	char msg[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(msg, sizeof(msg), "{\"error_code\":%d,\"error_message\":\"m\"}",
				cases[i].code);

		parse_ok(msg, (size_t)n);
		assert_true(res.has_error);
		assert_int_equal(res.error_code, cases[i].code);
		if (res.error_class != cases[i].cls)
			fail_msg("code %d: class %s, want %s", cases[i].code,
					err_class_name(res.error_class), err_class_name(cases[i].cls));
	}
}

static void test_error_keeps_message_and_type(void **state)
{
	parse_file("error-401.json");
	assert_true(res.has_error);
	assert_int_equal(res.error_code, 401);
	assert_int_equal(res.error_class, ERR_AUTH);
	assert_string_equal(res.error_message, "Invalid API key.");
	assert_string_equal(res.error_type, "invalid_api_key");

	parse_file("error-503.json");
	assert_int_equal(res.error_class, ERR_TRANSIENT_NOW);
	assert_string_equal(res.error_message,
			"Cannot continue request (code N). Please restart the request.");
	assert_string_equal(res.error_type, "");
}

static void test_error_without_usable_code_is_transient(void **state)
{
	parse_ok(LIT("{\"error_message\":\"something broke\"}"));
	assert_true(res.has_error);
	assert_int_equal(res.error_code, 0);
	assert_int_equal(res.error_class, ERR_TRANSIENT);

	parse_ok(LIT("{\"error_code\":\"401\"}"));	/* a string is no code */
	assert_true(res.has_error);
	assert_int_equal(res.error_code, 0);
	assert_int_equal(res.error_class, ERR_TRANSIENT);

	parse_ok(LIT("{\"error_code\":1e30}"));
	assert_true(res.has_error);
	assert_int_equal(res.error_class, ERR_TRANSIENT);

	parse_ok(LIT("{\"error_code\":null,\"tokens\":[]}"));
	assert_false(res.has_error);
}

static void test_error_message_is_one_line_and_cut(void **state)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg), "{\"error_code\":400,\"error_message\":\"bad\\r\\nmodel\\t%0600d\"}", 7);

	parse_ok(msg, (size_t)n);
	assert_int_equal(strlen(res.error_message), DIALECT_MSG_MAX - 1);
	assert_memory_equal(res.error_message, "bad  model ", 11);
}

static void test_missing_token_fields_get_defaults(void **state)
{
	parse_ok(LIT("{\"tokens\":[{}]}"));
	assert_int_equal(res.n_tokens, 1);
	assert_token(0, "", -1, -1, false);
	assert_string_equal(res.tokens[0].speaker, "");
	assert_string_equal(res.tokens[0].language, "");
	assert_true(res.tokens[0].confidence == -1);
	assert_int_equal(res.final_audio_proc_ms, -1);
	assert_int_equal(res.total_audio_proc_ms, -1);
	assert_false(res.finished);
	assert_false(res.has_error);
	assert_string_equal(err, "");
}

static void test_wrongly_typed_fields_count_as_absent(void **state)
{
	parse_ok(LIT("{\"tokens\":[{\"text\":123,\"start_ms\":\"100\",\"end_ms\":[200],"
			"\"is_final\":\"true\",\"speaker\":{\"id\":1},\"language\":[\"en\"],"
			"\"confidence\":\"0.9\"}],\"final_audio_proc_ms\":\"100\","
			"\"total_audio_proc_ms\":true,\"finished\":1}"));
	assert_int_equal(res.n_tokens, 1);
	assert_token(0, "", -1, -1, false);
	assert_string_equal(res.tokens[0].speaker, "");
	assert_string_equal(res.tokens[0].language, "");
	assert_true(res.tokens[0].confidence == -1);
	assert_int_equal(res.final_audio_proc_ms, -1);
	assert_int_equal(res.total_audio_proc_ms, -1);
	assert_false(res.finished);
}

static void test_numeric_speaker_and_double_times_are_accepted(void **state)
{
	parse_ok(LIT("{\"tokens\":[{\"text\":\"a\",\"speaker\":2,\"start_ms\":10.7,\"end_ms\":20,"
			"\"confidence\":1,\"is_final\":true}],\"total_audio_proc_ms\":3e3}"));
	assert_token(0, "a", 10, 20, true);
	assert_string_equal(res.tokens[0].speaker, "2");
	assert_true(res.tokens[0].confidence == 1);
	assert_int_equal(res.total_audio_proc_ms, 3000);
}

static void test_out_of_range_numbers_count_as_absent(void **state)
{
	static const char *const values[] = {
		"-1", "-5.5", "1e999", "-1e999", "NaN", "Infinity", "-Infinity",
		"123456789012345678901234567890", "18446744073709551615", "9223372036854775807",
		"1099511627777",	/* 2^40 + 1 */
	};
	char msg[512];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n = snprintf(msg, sizeof(msg), "{\"tokens\":[{\"text\":\"a\",\"start_ms\":%s,"
				"\"end_ms\":%s,\"confidence\":%s}],\"final_audio_proc_ms\":%s,"
				"\"total_audio_proc_ms\":%s}", values[i], values[i], values[i],
				values[i], values[i]);

		assert_true((size_t)n < sizeof(msg));
		parse_ok(msg, (size_t)n);
		assert_int_equal(res.n_tokens, 1);
		assert_token(0, "a", -1, -1, false);
		assert_true(res.tokens[0].confidence == -1);
		assert_int_equal(res.final_audio_proc_ms, -1);
		assert_int_equal(res.total_audio_proc_ms, -1);
	}
	parse_ok(LIT("{\"tokens\":[{\"confidence\":1.0000001},{\"confidence\":-0.1}]}"));
	assert_true(res.tokens[0].confidence == -1 && res.tokens[1].confidence == -1);
}

static void test_interleaved_tokens_are_reordered_finals_first(void **state)
{
	parse_ok(LIT("{\"tokens\":[{\"text\":\"a\"},{\"text\":\"b\",\"is_final\":true},"
			"{\"text\":\"c\",\"is_final\":false},{\"text\":\"d\",\"is_final\":true}]}"));
	assert_int_equal(res.n_tokens, 4);
	assert_token(0, "b", -1, -1, true);
	assert_token(1, "d", -1, -1, true);
	assert_token(2, "a", -1, -1, false);
	assert_token(3, "c", -1, -1, false);
}

static void test_more_than_max_tokens_keeps_the_first_finals_and_the_other_fields(void **state)
{
	static char msg[64 * 1024];
	size_t n = 0;

	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "{\"tokens\":[");
	for (int i = 0; i < 10; i++)	/* non-finals first on the wire */
		n += (size_t)snprintf(msg + n, sizeof(msg) - n,
				"{\"text\":\"n%d\",\"is_final\":false},", i);
	for (int i = 0; i < DIALECT_MAX_TOKENS + 44; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n,
				"%s{\"text\":\"f%d\",\"start_ms\":%d,\"is_final\":true}",
				i ? "," : "", i, i);
	n += (size_t)snprintf(msg + n, sizeof(msg) - n,
			"],\"final_audio_proc_ms\":900,\"total_audio_proc_ms\":950,\"finished\":true}");
	assert_true(n < sizeof(msg));

	parse_ok(msg, n);
	assert_int_equal(res.n_tokens, DIALECT_MAX_TOKENS);
	assert_token(0, "f0", 0, -1, true);
	assert_token(DIALECT_MAX_TOKENS - 1, "f255", 255, -1, true);
	assert_int_equal(res.final_audio_proc_ms, 900);
	assert_int_equal(res.total_audio_proc_ms, 950);
	assert_true(res.finished);
	/* 44 finals and 10 non-finals did not fit: the caller can log that. */
	assert_string_equal(err, "soniox: response has 310 tokens, kept 256 (finals first), dropped 54");
	assert_int_equal(res.n_dropped, 54);
}

static void test_long_text_is_cut_at_a_character_boundary(void **state)
{
	char msg[1024];
	size_t n = 0;

	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "{\"tokens\":[{\"text\":\"a");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\xe2\x82\xac");	/* € */
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\"}]}");

	parse_ok(msg, n);
	/* "a" + 84 × 3 bytes = 253; one more € would need 256 + NUL. */
	assert_int_equal(strlen(res.tokens[0].text), 253);
	assert_memory_equal(res.tokens[0].text + 250, "\xe2\x82\xac", 3);
}

static void test_invalid_utf8_in_strings_becomes_replacement_characters(void **state)
{
	parse_ok(LIT("{\"tokens\":[{\"text\":\"a\xff" "b\xc0\x80" "c\xed\xa0\x80" "d\xf4\x90\x80\x80" "e\xe2\x82\","
			"\"language\":\"\\u0000x\",\"speaker\":\"\\ud800\"}]}"));
	assert_int_equal(res.n_tokens, 1);
	assert_string_equal(res.tokens[0].text,
			"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd"
			"c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			"d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			"e\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(res.tokens[0].language, "\xef\xbf\xbdx");
	assert_string_equal(res.tokens[0].speaker, "\xef\xbf\xbd");
}

/* Each must give -EINVAL with a reason, or 0 and a sane result; never a
 * crash or a sanitizer report. */
static void test_garbage_never_crashes(void **state)
{
	static char deep_arrays[4096], deep_in_tokens[4096], long_key[70000];
	static const struct {
		const char *msg;
		size_t len;
		int expect;
	} fixed[] = {
		{ LIT(""), -EINVAL },
		{ LIT("   \n"), -EINVAL },
		{ LIT("null"), -EINVAL },
		{ LIT("true"), -EINVAL },
		{ LIT("42"), -EINVAL },
		{ LIT("\"tokens\""), -EINVAL },
		{ LIT("[]"), -EINVAL },
		{ LIT("[{\"tokens\":[{\"text\":\"a\"}]}]"), -EINVAL },
		{ LIT("{"), -EINVAL },
		{ LIT("}"), -EINVAL },
		{ LIT("{\"tokens\":[{\"text\":\"a\"}]"), -EINVAL },
		{ LIT("{\"a\":1} {\"b\":2}"), -EINVAL },
		{ LIT("{\"a\":1}\0"), -EINVAL },
		{ LIT("{\"a\":\"b\0c\"}"), -EINVAL },
		{ LIT("\xff\xfe{}"), -EINVAL },
		{ LIT("\xef\xbb\xbf{}"), -EINVAL },
		{ LIT("{tokens:[]}"), -EINVAL },
		{ LIT("{\"tokens\":[1,]x}"), -EINVAL },
		{ LIT("{\"tokens\":\"how are you\"}"), 0 },
		{ LIT("{\"tokens\":{\"text\":\"a\",\"is_final\":true}}"), 0 },
		{ LIT("{\"tokens\":[1,\"a\",null,[],true,[{\"text\":\"a\"}]]}"), 0 },
		{ LIT("{\"final_audio_proc_ms\":\"100\",\"finished\":\"true\"}"), 0 },
		{ LIT("{\"tokens\":null,\"finished\":null,\"error_message\":null}"), 0 },
		{ LIT("{'tokens':[{'text':'a'}]}"), 0 },	/* json-c's lenient mode */
		{ LIT("{\"tokens\":[],}"), 0 },
		{ LIT("{\"tokens\":[{\"text\":\"a\",\"text\":\"b\"}]}"), 0 },
		{ LIT("{\"tokens\":[{\"text\":\"\\ud83d\\ude00\\udc00\"}]}"), 0 },
	};
	size_t n;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (fixed[i].expect == 0)
			parse_ok(fixed[i].msg, fixed[i].len);
		else
			parse_rejected(fixed[i].msg, fixed[i].len);
	}
	parse_rejected(NULL, 0);
	parse_rejected(NULL, 10);

	for (n = 0; n < 1000; n++)
		deep_arrays[n] = '[';
	parse_rejected(deep_arrays, n);
	n = (size_t)snprintf(deep_in_tokens, sizeof(deep_in_tokens), "{\"tokens\":");
	for (; n < 2000; n++)
		deep_in_tokens[n] = (n % 2) ? '[' : '{';
	parse_rejected(deep_in_tokens, n);

	/* A 64 KiB key and a NULL err are fine too. */
	n = (size_t)snprintf(long_key, sizeof(long_key), "{\"");
	memset(long_key + n, 'k', 65536);
	n += 65536;
	n += (size_t)snprintf(long_key + n, sizeof(long_key) - n, "\":{\"finished\":true}}");
	assert_int_equal(ops->parse(NULL, long_key, n, &res, NULL, 0), 0);
	assert_false(res.finished);
	assert_int_equal(ops->parse(NULL, LIT("]"), &res, NULL, 0), -EINVAL);
}

static void test_parse_error_is_cut_to_a_small_buffer(void **state)
{
	char small[12];

	assert_int_equal(ops->parse(NULL, LIT("{\"a\":1} trailing"), &res, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "soniox: une");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_knows_every_dialect_by_exact_name),
		cmocka_unit_test(test_control_messages_are_soniox_text_frames),
		cmocka_unit_test(test_error_classes_have_log_names),
		cmocka_unit_test(test_auth_header_is_bearer_key),
		cmocka_unit_test(test_auth_header_too_small_is_enospc_and_leaves_no_key),
		cmocka_unit_test(test_auth_header_refuses_missing_key_and_line_breaks),
		cmocka_unit_test(test_config_without_key_or_options_has_only_required_fields),
		cmocka_unit_test(test_config_with_key_hints_and_options_has_every_field),
		cmocka_unit_test(test_config_sends_each_option_only_when_enabled),
		cmocka_unit_test(test_config_strings_with_quotes_and_backslashes_round_trip),
		cmocka_unit_test(test_config_too_small_buffer_is_enospc_and_leaves_no_key),
		cmocka_unit_test(test_config_refuses_invalid_params),
		cmocka_unit_test(test_typical_response_has_finals_then_non_finals),
		cmocka_unit_test(test_fin_marker_is_dropped),
		cmocka_unit_test(test_end_marker_is_dropped),
		cmocka_unit_test(test_only_exact_markers_are_dropped),
		cmocka_unit_test(test_finished_message_sets_finished),
		cmocka_unit_test(test_error_codes_map_to_classes),
		cmocka_unit_test(test_error_keeps_message_and_type),
		cmocka_unit_test(test_error_without_usable_code_is_transient),
		cmocka_unit_test(test_error_message_is_one_line_and_cut),
		cmocka_unit_test(test_missing_token_fields_get_defaults),
		cmocka_unit_test(test_wrongly_typed_fields_count_as_absent),
		cmocka_unit_test(test_numeric_speaker_and_double_times_are_accepted),
		cmocka_unit_test(test_out_of_range_numbers_count_as_absent),
		cmocka_unit_test(test_interleaved_tokens_are_reordered_finals_first),
		cmocka_unit_test(test_more_than_max_tokens_keeps_the_first_finals_and_the_other_fields),
		cmocka_unit_test(test_long_text_is_cut_at_a_character_boundary),
		cmocka_unit_test(test_invalid_utf8_in_strings_becomes_replacement_characters),
		cmocka_unit_test(test_garbage_never_crashes),
		cmocka_unit_test(test_parse_error_is_cut_to_a_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
