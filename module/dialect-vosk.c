/* vosk-server (alphacep/vosk-server, ws://host:2700): the config message,
 * the reply parser. Wire facts: doc/protocols/vosk.md.
 *
 * - No auth, no keepalive, no error messages (a failure is a closed
 *   socket), no finalize: only the end of stream makes the last words
 *   final ({"eof" : 1}, matched by the servers as that exact string).
 * - Ready once the config is out (no ack). The server answers every audio
 *   message with one reply: each reply is alive, words or not.
 * - {"partial": "..."}: the utterance so far, one non-final token without
 *   times. {"result": [{word, start, end, conf}...], "text": "..."}: the
 *   utterance is final; each word a token (seconds → ms), C = the end of
 *   the last word. A text without result (words off) is one final token
 *   without times. With max_alternatives the first alternative counts.
 * Parsing policy as in dialect-soniox.c.
 */
#include "dialect.h"
#include "dialect-json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <spa/utils/defs.h>

/* Both servers compare the whole text frame with this string. */
static const char vosk_eof[] = "{\"eof\" : 1}";

static int vosk_auth_header(const char *api_key, char *buf, size_t size)
{
	(void)api_key;
	(void)buf;
	(void)size;
	return -ENOTSUP;	/* vosk-server takes no key */
}

static int vosk_build_config(const struct dialect_params *p, const char *api_key,
		char *buf, size_t size)
{
	struct json_object *obj, *config;
	int res;

	(void)api_key;
	if (p == NULL || p->rate == 0 || p->channels != 1)
		return -EINVAL;		/* vosk hears mono only */
	if ((obj = json_object_new_object()) == NULL)
		return -ENOMEM;
	/* The server's default rate is 8000 Hz: always say ours; words on
	 * for word times (the committed position needs them). */
	res = dialect_add(obj, "config", config = json_object_new_object());
	if (res == 0)
		res = dialect_add(config, "sample_rate", json_object_new_int64(p->rate));
	if (res == 0)
		res = dialect_add(config, "words", json_object_new_boolean(1));
	if (res == 0)
		res = dialect_json_to_buf(obj, buf, size);
	json_object_put(obj);
	return res;
}

static void add_untimed(struct json_object *text, bool is_final, struct dialect_result *out)
{
	struct transcript_token *tok;

	if (text == NULL || json_object_get_string_len(text) == 0)
		return;
	tok = &out->tokens[out->n_tokens++];
	tok->text[0] = ' ';
	dialect_copy_string(tok->text + 1, sizeof(tok->text) - 1, text, false);
	tok->start_ms = tok->end_ms = -1;
	tok->is_final = is_final;
	tok->confidence = -1;
}

static void parse_words(struct json_object *words, struct dialect_result *out)
{
	size_t n = json_object_array_length(words);

	for (size_t i = 0; i < n; i++) {
		struct json_object *w = json_object_array_get_idx(words, i), *text;
		struct transcript_token *tok;
		double conf;

		if (!json_object_is_type(w, json_type_object))
			continue;
		if (out->n_tokens >= DIALECT_MAX_TOKENS) {
			out->n_dropped++;
			continue;
		}
		tok = &out->tokens[out->n_tokens++];
		tok->text[0] = ' ';
		if ((text = dialect_get_typed(w, "word", json_type_string)) != NULL)
			dialect_copy_string(tok->text + 1, sizeof(tok->text) - 1, text, false);
		else
			tok->text[1] = '\0';
		tok->start_ms = dialect_get_sec_ms(w, "start");
		tok->end_ms = dialect_get_sec_ms(w, "end");
		tok->is_final = true;
		tok->confidence = dialect_get_number(w, "conf", 0, 1, &conf) ? conf : -1;
		/* The end of the last word with a time is what is committed. */
		if (tok->end_ms >= 0)
			out->final_audio_proc_ms = SPA_MAX(out->final_audio_proc_ms, tok->end_ms);
	}
	out->total_audio_proc_ms = out->final_audio_proc_ms;
}

static void parse_reply(struct json_object *obj, struct dialect_result *out)
{
	struct json_object *v;

	if ((v = dialect_get_typed(obj, "result", json_type_array)) != NULL &&
	    json_object_array_length(v) > 0)
		parse_words(v, out);
	else if ((v = dialect_get_typed(obj, "text", json_type_string)) != NULL)
		add_untimed(v, true, out);
	else if ((v = dialect_get_typed(obj, "partial", json_type_string)) != NULL)
		add_untimed(v, false, out);
}

static int vosk_parse(struct dialect_conn *conn, const char *msg, size_t len,
		struct dialect_result *out, char *err, size_t err_size)
{
	struct json_object *root, *alts, *first;

	(void)conn;	/* every vosk reply stands alone */
	spa_zero(*out);
	out->final_audio_proc_ms = -1;
	out->total_audio_proc_ms = -1;
	dialect_set_err(err, err_size, "%s", "");

	if ((root = dialect_parse_object("vosk", msg, len, err, err_size)) == NULL)
		return -EINVAL;
	if ((alts = dialect_get_typed(root, "alternatives", json_type_array)) != NULL) {
		if (json_object_array_length(alts) > 0 &&
		    json_object_is_type(first = json_object_array_get_idx(alts, 0), json_type_object))
			parse_reply(first, out);
	} else {
		parse_reply(root, out);
	}
	out->alive = true;
	json_object_put(root);

	if (out->n_dropped > 0)
		dialect_set_err(err, err_size, "vosk: result has %" PRIu32 " words, kept %" PRIu32
				", dropped %" PRIu32, out->n_tokens + out->n_dropped, out->n_tokens,
				out->n_dropped);
	return 0;
}

const struct dialect_ops dialect_vosk = {
	.name = "vosk",
	.ready_without_ack = true,
	.max_session_sec = 0,
	.required_rate = 0,
	.auth_header = vosk_auth_header,
	.build_config = vosk_build_config,
	.parse = vosk_parse,
	/* keepalive and finalize: none in the protocol. */
	.end_of_stream = { .text = true, .len = sizeof(vosk_eof) - 1, .data = vosk_eof },
	.keepalive_ms = 0,
};
