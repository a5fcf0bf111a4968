/* Soniox real-time STT (wss://stt-rt.soniox.com/transcribe-websocket): the
 * config message, the response parser and the error classes. Wire facts:
 * doc/protocols/soniox.md.
 *
 * Parsing policy (every input is hostile until proven otherwise):
 * - The message must be one JSON object, optionally followed by whitespace.
 *   Anything else (empty, truncated, trailing data, nesting deeper than
 *   DIALECT_JSON_DEPTH, a top-level array/string/number) is -EINVAL with a
 *   one-line reason in err.
 * - Inside the object a field of the wrong type counts as absent, and so does
 *   a number out of range (times outside [0, DIALECT_MS_MAX], confidence
 *   outside [0, 1], NaN, Infinity). Tokens that are not objects are skipped.
 * - Strings are copied as valid UTF-8 only: bytes that are not part of a
 *   valid sequence (and NUL) become U+FFFD; too long strings are cut at a
 *   character boundary. Labels (speaker, language, error slug and message)
 *   also get control characters replaced by spaces so that they log on one
 *   line.
 * - "<fin>" and "<end>" tokens are markers, never transcript: dropped.
 * - tokens[] holds the finals first, then the non-finals, each in the order
 *   received. More than DIALECT_MAX_TOKENS: the first ones are kept (finals
 *   have priority), the other fields are still parsed, the call returns 0
 *   and err says how many were dropped (err is "" otherwise): log it.
 */
#include "dialect.h"
#include "dialect-json.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include <spa/utils/defs.h>

#define SONIOX_AUDIO_FORMAT	"pcm_s16le"
/* The server closes idle connections after 20 s without audio or keepalive;
 * soniox-js sends one every 5 s. */
#define SONIOX_KEEPALIVE_MS	5000

static const char soniox_keepalive[] = "{\"type\":\"keepalive\"}";
static const char soniox_finalize[] = "{\"type\":\"finalize\"}";

/* Tokens that mark events (finalize done, end of utterance), not words. */
static const char *const soniox_markers[] = { "<fin>", "<end>" };

static bool is_marker(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < SPA_N_ELEMENTS(soniox_markers); i++)
		if (len == strlen(soniox_markers[i]) && memcmp(text, soniox_markers[i], len) == 0)
			return true;
	return false;
}

static void parse_token(struct json_object *t, const char *text, size_t text_len, bool is_final,
		struct transcript_token *tok)
{
	double conf;

	dialect_copy_utf8(tok->text, sizeof(tok->text), text, text_len, false);
	tok->start_ms = dialect_get_ms(t, "start_ms");
	tok->end_ms = dialect_get_ms(t, "end_ms");
	tok->is_final = is_final;
	dialect_get_label(t, "speaker", tok->speaker, sizeof(tok->speaker));
	dialect_get_label(t, "language", tok->language, sizeof(tok->language));
	tok->confidence = dialect_get_number(t, "confidence", 0, 1, &conf) ? conf : -1;
}

/* Two passes keep the finals before the non-finals whatever the wire order,
 * so a cut at DIALECT_MAX_TOKENS loses non-finals first. Returns how many
 * tokens did not fit. */
static uint32_t parse_tokens(struct json_object *arr, struct dialect_result *out)
{
	size_t n = json_object_array_length(arr), i;
	uint32_t dropped = 0;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		bool want_final = pass == 0;

		for (i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(arr, i), *v;
			const char *text = "";
			size_t text_len = 0;
			bool is_final;

			if (!json_object_is_type(t, json_type_object))
				continue;
			v = dialect_get_typed(t, "is_final", json_type_boolean);
			is_final = v != NULL && json_object_get_boolean(v);
			if (is_final != want_final)
				continue;
			if ((v = dialect_get_typed(t, "text", json_type_string)) != NULL) {
				text = json_object_get_string(v);
				text_len = (size_t)json_object_get_string_len(v);
			}
			if (is_marker(text, text_len)) {
				out->saw_fin |= text_len == 5 && memcmp(text, "<fin>", 5) == 0;
				out->saw_end |= text_len == 5 && memcmp(text, "<end>", 5) == 0;
				continue;
			}
			if (out->n_tokens >= DIALECT_MAX_TOKENS) {
				dropped++;
				continue;
			}
			parse_token(t, text, text_len, is_final, &out->tokens[out->n_tokens++]);
		}
	}
	return dropped;
}

static enum err_class soniox_error_class(int code)
{
	switch (code) {
	case 400:	/* bad request or config: fix the config */
	case 402:	/* payment or quota exhausted */
	case 403:
	case 404:
		return ERR_FATAL;
	case 401:	/* invalid or expired key: a fresh temporary key may help */
		return ERR_AUTH;
	case 503:	/* "cannot continue request, please restart": at once */
		return ERR_TRANSIENT_NOW;
	case 408:
	case 429:
	case 500:
	default:
		return ERR_TRANSIENT;
	}
}

/* A message is an error when it has error_code (any non-null value),
 * error_message or error_type. A code that is not a number in int range
 * counts as 0, which classifies as transient. */
static void parse_error(struct json_object *root, struct dialect_result *out)
{
	struct json_object *v, *msg, *type;
	double code = 0;
	bool has_code;

	has_code = json_object_object_get_ex(root, "error_code", &v) && v != NULL;
	msg = dialect_get_typed(root, "error_message", json_type_string);
	type = dialect_get_typed(root, "error_type", json_type_string);
	if (!has_code && msg == NULL && type == NULL)
		return;

	out->has_error = true;
	if (has_code && dialect_get_number(root, "error_code", INT_MIN, INT_MAX, &code))
		out->error_code = (int)code;
	out->error_class = soniox_error_class(out->error_code);
	if (msg != NULL)
		dialect_copy_utf8(out->error_message, sizeof(out->error_message), json_object_get_string(msg),
				(size_t)json_object_get_string_len(msg), true);
	if (type != NULL)
		dialect_copy_utf8(out->error_type, sizeof(out->error_type), json_object_get_string(type),
				(size_t)json_object_get_string_len(type), true);
}

static int soniox_parse(struct dialect_conn *conn, const char *msg, size_t len, struct dialect_result *out,
		char *err, size_t err_size)
{
	struct json_object *root, *v;
	uint32_t dropped = 0;

	(void)conn;	/* every Soniox message stands alone */
	spa_zero(*out);
	out->final_audio_proc_ms = -1;
	out->total_audio_proc_ms = -1;
	dialect_set_err(err, err_size, "%s", "");

	if ((root = dialect_parse_object("soniox", msg, len, err, err_size)) == NULL)
		return -EINVAL;

	if ((v = dialect_get_typed(root, "tokens", json_type_array)) != NULL)
		dropped = parse_tokens(v, out);
	out->final_audio_proc_ms = dialect_get_ms(root, "final_audio_proc_ms");
	out->total_audio_proc_ms = dialect_get_ms(root, "total_audio_proc_ms");
	v = dialect_get_typed(root, "finished", json_type_boolean);
	out->finished = v != NULL && json_object_get_boolean(v);
	parse_error(root, out);
	json_object_put(root);

	out->n_dropped = dropped;
	if (dropped > 0)
		dialect_set_err(err, err_size, "soniox: response has %" PRIu32 " tokens, kept %" PRIu32
				" (finals first), dropped %" PRIu32, out->n_tokens + dropped,
				out->n_tokens, dropped);
	return 0;
}

/* Appends value to arr; value is consumed even on failure. */
static int add_element(struct json_object *arr, struct json_object *value)
{
	if (value == NULL)
		return -ENOMEM;
	if (json_object_array_add(arr, value) < 0) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

static int add_hints(struct json_object *obj, const struct dialect_params *p)
{
	struct json_object *arr;
	uint32_t i;
	int res;

	if (p->n_language_hints == 0)
		return 0;
	if ((res = dialect_add(obj, "language_hints", arr = json_object_new_array())) < 0)
		return res;
	for (i = 0; i < p->n_language_hints; i++) {
		const char *hint = p->language_hints[i];

		if (hint == NULL || hint[0] == '\0' || !utf8_valid(hint))
			return -EINVAL;
		if ((res = add_element(arr, json_object_new_string(hint))) < 0)
			return res;
	}
	return 0;
}

/* No "api_key": the key goes only in the Authorization header of the
 * upgrade. Soniox deprecated the config field (refused from 2027-01-15,
 * PROTOCOLS.md A), and a second copy in a message is one more place for it
 * to leak from (logs of a proxy, a server's config dump). */
static int add_fields(struct json_object *obj, const struct dialect_params *p)
{
	int res;

	res = dialect_add_string(obj, "model", p->model);
	if (res == 0)
		res = dialect_add(obj, "audio_format", json_object_new_string(SONIOX_AUDIO_FORMAT));
	if (res == 0)
		res = dialect_add(obj, "sample_rate", json_object_new_int64(p->rate));
	if (res == 0)
		res = dialect_add(obj, "num_channels", json_object_new_int64(p->channels));
	if (res == 0)
		res = add_hints(obj, p);
	if (res == 0 && p->diarization)
		res = dialect_add(obj, "enable_speaker_diarization", json_object_new_boolean(1));
	if (res == 0 && p->language_identification)
		res = dialect_add(obj, "enable_language_identification", json_object_new_boolean(1));
	if (res == 0 && p->endpoint_detection)
		res = dialect_add(obj, "enable_endpoint_detection", json_object_new_boolean(1));
	if (res == 0 && p->client_reference_id != NULL && p->client_reference_id[0] != '\0')
		res = dialect_add_string(obj, "client_reference_id", p->client_reference_id);
	return res;
}

static int soniox_build_config(const struct dialect_params *p, const char *api_key,
		char *buf, size_t size)
{
	struct json_object *obj;
	int res;

	(void)api_key;	/* see add_fields() */
	if (p == NULL || p->model == NULL || p->model[0] == '\0' || p->rate == 0 ||
	    p->channels == 0 || p->n_language_hints > DIALECT_MAX_HINTS)
		return -EINVAL;
	if ((obj = json_object_new_object()) == NULL)
		return -ENOMEM;
	if ((res = add_fields(obj, p)) == 0)
		res = dialect_json_to_buf(obj, buf, size);
	else if (buf != NULL && size > 0)
		explicit_bzero(buf, size);
	json_object_put(obj);
	return res;
}

static int soniox_auth_header(const char *api_key, char *buf, size_t size)
{
	return dialect_auth_value("Bearer", api_key, buf, size);
}

const struct dialect_ops dialect_soniox = {
	.name = "soniox",
	.ready_without_ack = true,
	/* 300 min, fixed (doc/protocols/soniox.md, Limits). */
	.max_session_sec = 300 * 60,
	.auth_header = soniox_auth_header,
	.build_config = soniox_build_config,
	.parse = soniox_parse,
	.keepalive = { .text = true, .len = sizeof(soniox_keepalive) - 1, .data = soniox_keepalive },
	.finalize = { .text = true, .len = sizeof(soniox_finalize) - 1, .data = soniox_finalize },
	/* An empty text message, as soniox-js sends it; never a binary frame. */
	.end_of_stream = { .text = true, .len = 0, .data = "" },
	.keepalive_ms = SONIOX_KEEPALIVE_MS,
};

