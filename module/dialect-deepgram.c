/* Deepgram live streaming (wss://api.deepgram.com/v1/listen): the query
 * that carries the config, the result parser and the error classes. Wire
 * facts: doc/protocols/deepgram.md.
 *
 * - The config travels in the URL's query; there is no first message.
 * - Audio: binary linear16 frames. Control: KeepAlive, Finalize,
 *   CloseStream (text JSON); never an empty binary frame.
 * - Ready once upgraded: Deepgram's first message is a result, which only
 *   comes after audio (waiting for it would hold the audio it waits for).
 * - Results: words[] become tokens (start/end in seconds → ms, on the
 *   connection's clock), each with a leading space as Soniox's carry theirs.
 *   An is_final result commits start + duration (C); any result's start +
 *   duration is the progress counter. from_finalize marks a finalize done,
 *   speech_final an endpoint.
 * - Metadata is the last message after CloseStream: finished.
 * Parsing policy as in dialect-soniox.c: hostile input gives -EINVAL or
 * absent fields, never a crash; strings become valid UTF-8.
 */
#include "dialect.h"
#include "dialect-json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <spa/utils/defs.h>
#include <spa/utils/string.h>

/* Docs: send KeepAlive every 3–5 s while no audio flows; the server closes
 * after 10 s without audio or KeepAlive (NET-0001). */
#define DEEPGRAM_KEEPALIVE_MS	4000

static const char deepgram_keepalive[] = "{\"type\":\"KeepAlive\"}";
static const char deepgram_finalize[] = "{\"type\":\"Finalize\"}";
static const char deepgram_close[] = "{\"type\":\"CloseStream\"}";

static int deepgram_auth_header(const char *api_key, char *buf, size_t size)
{
	/* API keys take "Token"; "Bearer" is for the JWTs of /v1/auth/grant. */
	return dialect_auth_value("Token", api_key, buf, size);
}

/* Query values are names (model, language): nothing that needs escaping. */
static bool plain_value(const char *v)
{
	if (v == NULL || v[0] == '\0')
		return false;
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '.' || *v == '-' || *v == '_'))
			return false;
	return true;
}

static int deepgram_build_query(const struct dialect_params *p, bool has_query,
		char *buf, size_t size)
{
	const char *lang = p->n_language_hints > 0 ? p->language_hints[0] : NULL;
	int n;

	if (p->rate == 0 || p->channels == 0 || (p->model != NULL && p->model[0] != '\0' &&
	    !plain_value(p->model)) || (lang != NULL && !plain_value(lang)))
		return -EINVAL;
	/* One language only: Deepgram's streaming takes language=xx or "multi". */
	n = snprintf(buf, size, "%cencoding=linear16&sample_rate=%" PRIu32 "&channels=%" PRIu32
			"&interim_results=true&punctuate=true%s%s%s%s%s",
			has_query ? '&' : '?', p->rate, p->channels,
			p->model != NULL && p->model[0] != '\0' ? "&model=" : "",
			p->model != NULL && p->model[0] != '\0' ? p->model : "",
			lang != NULL ? "&language=" : "", lang != NULL ? lang : "",
			p->diarization ? "&diarize=true" : "");
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

static int deepgram_build_config(const struct dialect_params *p, const char *api_key,
		char *buf, size_t size)
{
	(void)p;
	(void)api_key;
	if (buf != NULL && size > 0)
		buf[0] = '\0';
	return 0;	/* all of it is in the query */
}

/* A word as a token: " word" (punctuated_word when there is one). */
static void parse_word(struct json_object *w, bool is_final, struct transcript_token *tok)
{
	struct json_object *text = dialect_get_typed(w, "punctuated_word", json_type_string);
	double conf;

	if (text == NULL)
		text = dialect_get_typed(w, "word", json_type_string);
	tok->text[0] = ' ';
	if (text != NULL)
		dialect_copy_string(tok->text + 1, sizeof(tok->text) - 1, text, false);
	else
		tok->text[1] = '\0';
	tok->start_ms = dialect_get_sec_ms(w, "start");
	tok->end_ms = dialect_get_sec_ms(w, "end");
	tok->is_final = is_final;
	dialect_get_label(w, "speaker", tok->speaker, sizeof(tok->speaker));
	dialect_get_label(w, "language", tok->language, sizeof(tok->language));
	tok->confidence = dialect_get_number(w, "confidence", 0, 1, &conf) ? conf : -1;
}

/* The first alternative's words; a transcript without words becomes one
 * token over the result's span. Returns how many words did not fit. */
static uint32_t parse_alternative(struct json_object *root, bool is_final, int64_t start,
		int64_t end, struct dialect_result *out)
{
	struct json_object *channel, *alts, *alt, *words, *text;
	uint32_t dropped = 0;
	size_t n;

	if ((channel = dialect_get_typed(root, "channel", json_type_object)) == NULL ||
	    (alts = dialect_get_typed(channel, "alternatives", json_type_array)) == NULL ||
	    json_object_array_length(alts) == 0 ||
	    !json_object_is_type(alt = json_object_array_get_idx(alts, 0), json_type_object))
		return 0;
	if ((words = dialect_get_typed(alt, "words", json_type_array)) != NULL &&
	    (n = json_object_array_length(words)) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct json_object *w = json_object_array_get_idx(words, i);

			if (!json_object_is_type(w, json_type_object))
				continue;
			if (out->n_tokens >= DIALECT_MAX_TOKENS) {
				dropped++;
				continue;
			}
			parse_word(w, is_final, &out->tokens[out->n_tokens++]);
		}
		return dropped;
	}
	text = dialect_get_typed(alt, "transcript", json_type_string);
	if (text != NULL && json_object_get_string_len(text) > 0) {
		struct transcript_token *tok = &out->tokens[out->n_tokens++];

		tok->text[0] = ' ';
		dialect_copy_string(tok->text + 1, sizeof(tok->text) - 1, text, false);
		tok->start_ms = start;
		tok->end_ms = end;
		tok->is_final = is_final;
		tok->confidence = -1;
	}
	return 0;
}

static void parse_results(struct json_object *root, struct dialect_result *out)
{
	int64_t start = dialect_get_sec_ms(root, "start");
	int64_t duration = dialect_get_sec_ms(root, "duration");
	int64_t end = start >= 0 && duration >= 0 ? start + duration : -1;
	bool is_final = dialect_get_true(root, "is_final");

	out->n_dropped = parse_alternative(root, is_final, start, end, out);
	out->total_audio_proc_ms = end;
	if (is_final)
		out->final_audio_proc_ms = end;
	out->saw_fin = dialect_get_true(root, "from_finalize");
	out->saw_end = dialect_get_true(root, "speech_final");
	out->alive = true;
}

/* Deepgram reports most failures as an HTTP status on the upgrade or a
 * close frame (the transport classifies those); an error message in the
 * stream [U: seen in SDK types, not in the docs] is transient unless it
 * names bad data, which a retry would send again. */
static void parse_error(struct json_object *root, struct dialect_result *out)
{
	struct json_object *v;

	out->has_error = true;
	out->error_class = ERR_TRANSIENT;
	if ((v = dialect_get_typed(root, "err_code", json_type_string)) != NULL ||
	    (v = dialect_get_typed(root, "variant", json_type_string)) != NULL) {
		dialect_copy_string(out->error_type, sizeof(out->error_type), v, true);
		if (spa_strstartswith(out->error_type, "DATA-"))
			out->error_class = ERR_FATAL;
	}
	if ((v = dialect_get_typed(root, "description", json_type_string)) != NULL ||
	    (v = dialect_get_typed(root, "err_msg", json_type_string)) != NULL ||
	    (v = dialect_get_typed(root, "message", json_type_string)) != NULL)
		dialect_copy_string(out->error_message, sizeof(out->error_message), v, true);
	if (out->error_message[0] == '\0')	/* absent or "" */
		snprintf(out->error_message, sizeof(out->error_message), "%s",
				out->error_type[0] ? out->error_type : "error without a message");
}

static int deepgram_parse(struct dialect_conn *conn, const char *msg, size_t len,
		struct dialect_result *out, char *err, size_t err_size)
{
	struct json_object *root, *type;
	const char *t;

	(void)conn;	/* every Deepgram message stands alone */
	spa_zero(*out);
	out->final_audio_proc_ms = -1;
	out->total_audio_proc_ms = -1;
	dialect_set_err(err, err_size, "%s", "");

	if ((root = dialect_parse_object("deepgram", msg, len, err, err_size)) == NULL)
		return -EINVAL;
	type = dialect_get_typed(root, "type", json_type_string);
	t = type != NULL ? json_object_get_string(type) : "";
	if (spa_streq(t, "Results"))
		parse_results(root, out);
	else if (spa_streq(t, "Metadata"))
		out->finished = true;
	else if (spa_streq(t, "Error") || dialect_get_typed(root, "err_code", json_type_string))
		parse_error(root, out);
	else	/* SpeechStarted, UtteranceEnd, what comes next: a sign of life */
		out->alive = true;
	json_object_put(root);

	if (out->n_dropped > 0)
		dialect_set_err(err, err_size, "deepgram: result has %" PRIu32 " words, kept %"
				PRIu32 ", dropped %" PRIu32, out->n_tokens + out->n_dropped,
				out->n_tokens, out->n_dropped);
	return 0;
}

const struct dialect_ops dialect_deepgram = {
	.name = "deepgram",
	.ready_without_ack = true,
	.max_session_sec = 0,		/* none documented */
	.required_rate = 0,
	.upgrade_error_header = "dg-error",
	.auth_header = deepgram_auth_header,
	.build_config = deepgram_build_config,
	.build_query = deepgram_build_query,
	.parse = deepgram_parse,
	.keepalive = { .text = true, .len = sizeof(deepgram_keepalive) - 1, .data = deepgram_keepalive },
	.finalize = { .text = true, .len = sizeof(deepgram_finalize) - 1, .data = deepgram_finalize },
	.end_of_stream = { .text = true, .len = sizeof(deepgram_close) - 1, .data = deepgram_close },
	.keepalive_ms = DEEPGRAM_KEEPALIVE_MS,
};
