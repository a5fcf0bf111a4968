/* Soniox real-time STT (wss://stt-rt.soniox.com/transcribe-websocket): the
 * config message, the response parser and the error classes. Wire facts:
 * doc/protocols/soniox.md.
 *
 * Parsing policy (every input is hostile until proven otherwise):
 * - The message must be one JSON object, optionally followed by whitespace.
 *   Anything else (empty, truncated, trailing data, nesting deeper than
 *   SONIOX_JSON_DEPTH, a top-level array/string/number) is -EINVAL with a
 *   one-line reason in err.
 * - Inside the object a field of the wrong type counts as absent, and so does
 *   a number out of range (times outside [0, SONIOX_MS_MAX], confidence
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

/* Soniox responses are three levels deep; anything much deeper is garbage. */
#define SONIOX_JSON_DEPTH	16
/* Largest time accepted (about 34 years of audio): callers add offsets to
 * token times, this keeps that far from overflow. */
#define SONIOX_MS_MAX		(INT64_C(1) << 40)
#define SONIOX_AUDIO_FORMAT	"pcm_s16le"
/* The server closes idle connections after 20 s without audio or keepalive;
 * soniox-js sends one every 5 s. */
#define SONIOX_KEEPALIVE_MS	5000

static const char soniox_keepalive[] = "{\"type\":\"keepalive\"}";
static const char soniox_finalize[] = "{\"type\":\"finalize\"}";

/* Tokens that mark events (finalize done, end of utterance), not words. */
static const char *const soniox_markers[] = { "<fin>", "<end>" };

SPA_PRINTF_FUNC(3, 4)
static void set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

/* Copies src[0..len) into dst as valid, NUL-terminated UTF-8 (see the top
 * comment); stops before the first character that does not fit. */
static void copy_utf8(char *dst, size_t size, const char *src, size_t len, bool one_line)
{
	static const char replacement[] = "\xef\xbf\xbd";	/* U+FFFD */
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, l;

	if (size == 0)
		return;
	while (i < len) {
		const char *chunk = src + i;
		size_t chunk_len = l = utf8_seq_len(s + i, len - i);

		if (l == 0) {
			chunk = replacement;
			chunk_len = sizeof(replacement) - 1;
			l = 1;
		}
		if (o + chunk_len >= size)
			break;
		if (one_line && chunk_len == 1 && (*chunk < 0x20 || *chunk == 0x7f))
			dst[o] = ' ';
		else
			memcpy(dst + o, chunk, chunk_len);
		o += chunk_len;
		i += l;
	}
	dst[o] = '\0';
}

/* The member `key` when it exists and has `type`, else NULL. */
static struct json_object *get_typed(struct json_object *obj, const char *key, enum json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* A number in [min, max] (integers, or doubles truncated), else false. */
static bool get_number(struct json_object *obj, const char *key, double min, double max,
		double *val)
{
	struct json_object *v;
	double d;

	if (!json_object_object_get_ex(obj, key, &v))
		return false;
	switch (json_object_get_type(v)) {
	case json_type_int:
		/* json-c saturates out-of-range integers at INT64_MIN/MAX. */
		d = (double)json_object_get_int64(v);
		break;
	case json_type_double:
		d = json_object_get_double(v);
		break;
	default:
		return false;
	}
	if (!isfinite(d) || d < min || d > max)
		return false;
	*val = d;
	return true;
}

static int64_t get_ms(struct json_object *obj, const char *key)
{
	double d;

	return get_number(obj, key, 0, (double)SONIOX_MS_MAX, &d) ? (int64_t)d : -1;
}

static void get_label(struct json_object *obj, const char *key, char *dst, size_t size)
{
	struct json_object *v;
	double d;

	if ((v = get_typed(obj, key, json_type_string)) != NULL)
		copy_utf8(dst, size, json_object_get_string(v),
				(size_t)json_object_get_string_len(v), true);
	else if (get_number(obj, key, 0, INT_MAX, &d))	/* older APIs: speaker as a number */
		snprintf(dst, size, "%d", (int)d);
	else
		dst[0] = '\0';
}

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

	copy_utf8(tok->text, sizeof(tok->text), text, text_len, false);
	tok->start_ms = get_ms(t, "start_ms");
	tok->end_ms = get_ms(t, "end_ms");
	tok->is_final = is_final;
	get_label(t, "speaker", tok->speaker, sizeof(tok->speaker));
	get_label(t, "language", tok->language, sizeof(tok->language));
	tok->confidence = get_number(t, "confidence", 0, 1, &conf) ? conf : -1;
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
			v = get_typed(t, "is_final", json_type_boolean);
			is_final = v != NULL && json_object_get_boolean(v);
			if (is_final != want_final)
				continue;
			if ((v = get_typed(t, "text", json_type_string)) != NULL) {
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
	msg = get_typed(root, "error_message", json_type_string);
	type = get_typed(root, "error_type", json_type_string);
	if (!has_code && msg == NULL && type == NULL)
		return;

	out->has_error = true;
	if (has_code && get_number(root, "error_code", INT_MIN, INT_MAX, &code))
		out->error_code = (int)code;
	out->error_class = soniox_error_class(out->error_code);
	if (msg != NULL)
		copy_utf8(out->error_message, sizeof(out->error_message), json_object_get_string(msg),
				(size_t)json_object_get_string_len(msg), true);
	if (type != NULL)
		copy_utf8(out->error_type, sizeof(out->error_type), json_object_get_string(type),
				(size_t)json_object_get_string_len(type), true);
}

/* One JSON object from msg[0..len), or NULL with err filled. */
static struct json_object *parse_object(const char *msg, size_t len, char *err, size_t err_size)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	size_t end, i;

	if (msg == NULL || len == 0) {
		set_err(err, err_size, "soniox: empty message, want a JSON object");
		return NULL;
	}
	if (len > INT_MAX) {
		set_err(err, err_size, "soniox: message of %zu bytes is too long", len);
		return NULL;
	}
	if ((tok = json_tokener_new_ex(SONIOX_JSON_DEPTH)) == NULL) {
		set_err(err, err_size, "soniox: out of memory parsing a message");
		return NULL;
	}
	root = json_tokener_parse_ex(tok, msg, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if (root == NULL) {
		if (jerr == json_tokener_success)
			set_err(err, err_size, "soniox: message is a JSON null, want an object");
		else if (jerr == json_tokener_continue)
			set_err(err, err_size, "soniox: message of %zu bytes is not a complete "
					"JSON object", len);
		else
			set_err(err, err_size, "soniox: message is not valid JSON at byte %zu "
					"of %zu: %s", end, len, json_tokener_error_desc(jerr));
		return NULL;
	}
	for (i = end; i < len; i++) {
		if (strchr(" \t\r\n", msg[i]) == NULL || msg[i] == '\0') {
			set_err(err, err_size, "soniox: unexpected data after the JSON object "
					"at byte %zu of %zu", i, len);
			json_object_put(root);
			return NULL;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		set_err(err, err_size, "soniox: message is a JSON %s, want an object",
				json_type_to_name(json_object_get_type(root)));
		json_object_put(root);
		return NULL;
	}
	return root;
}

static int soniox_parse(const char *msg, size_t len, struct dialect_result *out,
		char *err, size_t err_size)
{
	struct json_object *root, *v;
	uint32_t dropped = 0;

	spa_zero(*out);
	out->final_audio_proc_ms = -1;
	out->total_audio_proc_ms = -1;
	set_err(err, err_size, "%s", "");

	if ((root = parse_object(msg, len, err, err_size)) == NULL)
		return -EINVAL;

	if ((v = get_typed(root, "tokens", json_type_array)) != NULL)
		dropped = parse_tokens(v, out);
	out->final_audio_proc_ms = get_ms(root, "final_audio_proc_ms");
	out->total_audio_proc_ms = get_ms(root, "total_audio_proc_ms");
	v = get_typed(root, "finished", json_type_boolean);
	out->finished = v != NULL && json_object_get_boolean(v);
	parse_error(root, out);
	json_object_put(root);

	out->n_dropped = dropped;
	if (dropped > 0)
		set_err(err, err_size, "soniox: response has %" PRIu32 " tokens, kept %" PRIu32
				" (finals first), dropped %" PRIu32, out->n_tokens + dropped,
				out->n_tokens, dropped);
	return 0;
}

static int soniox_auth_header(const char *api_key, char *buf, size_t size)
{
	const char *c;
	int n;

	if (api_key == NULL || api_key[0] == '\0')
		return -EINVAL;
	/* A header value can not hold control characters (CR/LF would inject). */
	for (c = api_key; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	if (buf == NULL || size == 0)
		return -ENOSPC;
	n = snprintf(buf, size, "Bearer %s", api_key);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size) {
		explicit_bzero(buf, size);
		return -ENOSPC;
	}
	return n;
}

/* Adds key: value to obj; value is consumed even on failure. */
static int add(struct json_object *obj, const char *key, struct json_object *value)
{
	if (value == NULL)
		return -ENOMEM;
	if (json_object_object_add(obj, key, value) < 0) {
		json_object_put(value);
		return -ENOMEM;
	}
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

static int add_string(struct json_object *obj, const char *key, const char *value)
{
	if (!utf8_valid(value))
		return -EINVAL;
	return add(obj, key, json_object_new_string(value));
}

static int add_hints(struct json_object *obj, const struct dialect_params *p)
{
	struct json_object *arr;
	uint32_t i;
	int res;

	if (p->n_language_hints == 0)
		return 0;
	if ((res = add(obj, "language_hints", arr = json_object_new_array())) < 0)
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

	res = add_string(obj, "model", p->model);
	if (res == 0)
		res = add(obj, "audio_format", json_object_new_string(SONIOX_AUDIO_FORMAT));
	if (res == 0)
		res = add(obj, "sample_rate", json_object_new_int64(p->rate));
	if (res == 0)
		res = add(obj, "num_channels", json_object_new_int64(p->channels));
	if (res == 0)
		res = add_hints(obj, p);
	if (res == 0 && p->diarization)
		res = add(obj, "enable_speaker_diarization", json_object_new_boolean(1));
	if (res == 0 && p->language_identification)
		res = add(obj, "enable_language_identification", json_object_new_boolean(1));
	if (res == 0 && p->endpoint_detection)
		res = add(obj, "enable_endpoint_detection", json_object_new_boolean(1));
	if (res == 0 && p->client_reference_id != NULL && p->client_reference_id[0] != '\0')
		res = add_string(obj, "client_reference_id", p->client_reference_id);
	return res;
}

static int soniox_build_config(const struct dialect_params *p, const char *api_key,
		char *buf, size_t size)
{
	struct json_object *obj;
	const char *json = NULL;
	size_t json_len = 0;
	int res;

	if (p == NULL || p->model == NULL || p->model[0] == '\0' || p->rate == 0 ||
	    p->channels == 0 || p->n_language_hints > DIALECT_MAX_HINTS)
		return -EINVAL;
	if ((obj = json_object_new_object()) == NULL)
		return -ENOMEM;
	if ((res = add_fields(obj, p)) == 0) {
		json = json_object_to_json_string_length(obj,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &json_len);
		if (json == NULL)
			res = -ENOMEM;
		else if (buf == NULL || json_len >= size || json_len > INT_MAX)
			res = -ENOSPC;
		else
			memcpy(buf, json, json_len + 1);
	}
	json_object_put(obj);
	if (res < 0) {
		if (buf != NULL && size > 0)
			explicit_bzero(buf, size);
		return res;
	}
	return (int)json_len;
}

const struct dialect_ops dialect_soniox = {
	.name = "soniox",
	.ready_without_ack = true,
	.auth_header = soniox_auth_header,
	.build_config = soniox_build_config,
	.parse = soniox_parse,
	.keepalive = { .text = true, .len = sizeof(soniox_keepalive) - 1, .data = soniox_keepalive },
	.finalize = { .text = true, .len = sizeof(soniox_finalize) - 1, .data = soniox_finalize },
	/* An empty text message, as soniox-js sends it; never a binary frame. */
	.end_of_stream = { .text = true, .len = 0, .data = "" },
	.keepalive_ms = SONIOX_KEEPALIVE_MS,
};

/* Only Soniox so far; moves to its own file with the second dialect. */
const struct dialect_ops *dialect_find(const char *name)
{
	if (name != NULL && strcmp(name, dialect_soniox.name) == 0)
		return &dialect_soniox;
	return NULL;
}
