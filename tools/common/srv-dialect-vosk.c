/* srv-dialect-vosk: vosk-server's WebSocket protocol as a server speaks it
 * (PROTOCOLS.md C; alphacep/vosk-server websocket/asr_server.py;
 * doc/protocols/vosk.md).
 *
 *   - No auth (with --key: "Authorization: Bearer <key>" on the upgrade,
 *     else HTTP 401). Optional first text message
 *     {"config":{"sample_rate":16000,...}} (no reply); without it the
 *     audio is 8000 Hz mono, vosk-server's default.
 *   - Audio: binary S16LE mono. Exactly one text reply per audio message:
 *     {"partial":"words in progress"}, or, when words became final,
 *     {"result":[{"conf":1.0,"end":0.75,"start":0.5,"word":"w700"},...],
 *     "text":"w700 ..."} (seconds on the connection's clock; the end of the
 *     last result word is the client's committed position).
 *   - Text {"eof" : 1} (exactly that string, as vosk-server compares it):
 *     the final result, then close 1000. {"reset" : 1}: the final result,
 *     the stream goes on (our finalize).
 *   - No keepalive, no error message: errors are a close code whose reason
 *     says what went wrong (1008 bad input, 1011 server side).
 */
#include "srv-dialect.h"

#include <stdio.h>
#include <string.h>

#include "srv-dialect-json.h"

#define DEFAULT_RATE		8000	/* VOSK_SAMPLE_RATE's default */
#define MIN_RATE		8000
#define MAX_RATE		48000
#define CLOSE_NORMAL		1000
#define CLOSE_POLICY		1008
#define CLOSE_INTERNAL		1011
#define EOF_MSG			"{\"eof\" : 1}"
#define RESET_MSG		"{\"reset\" : 1}"
#define TEXT_MAX		4096

static int vosk_parse_request(const char *query, struct srv_stream_cfg *cfg, struct srv_error *err)
{
	(void)query;
	(void)err;
	cfg->rate = DEFAULT_RATE;
	cfg->channels = 1;
	cfg->endpoint = true;
	dj_copy_model(cfg->model, sizeof(cfg->model), NULL);
	return 0;
}

static int vosk_parse_config(const char *msg, size_t len, struct srv_stream_cfg *cfg,
			     struct srv_error *err)
{
	json_object *o = dj_parse_whole(msg, len), *c = dj_get_object(o, "config");
	int64_t rate;
	int rc = 0;

	if (!c) {
		srv_error_set(err, 400, "invalid_request", CLOSE_POLICY,
			      "Expected {\"config\":{\"sample_rate\":N}}.");
		rc = -1;
	} else if (json_object_object_get_ex(c, "sample_rate", NULL)) {
		if (dj_get_whole(c, "sample_rate", MIN_RATE, MAX_RATE, &rate)) {
			cfg->rate = (unsigned)rate;
		} else {
			srv_error_set(err, 400, "invalid_config", CLOSE_POLICY,
				      "Invalid sample_rate: a number in 8000..48000.");
			rc = -2;
		}
	}
	if (c && dj_get_string(c, "model"))
		dj_copy_model(cfg->model, sizeof(cfg->model), dj_get_string(c, "model"));
	json_object_put(o);
	return rc;
}

/* vosk-server looks for "config" anywhere in a text message. */
static enum srv_ctl vosk_parse_control(const char *msg, size_t len, struct srv_audio *audio,
				       struct srv_error *err)
{
	(void)audio;
	if (len == strlen(EOF_MSG) && !memcmp(msg, EOF_MSG, len))
		return SRV_CTL_END;
	if (len == strlen(RESET_MSG) && !memcmp(msg, RESET_MSG, len))
		return SRV_CTL_FINALIZE;
	if (strstr(msg, "config"))
		return SRV_CTL_CONFIG;
	srv_error_set(err, 400, "invalid_request", CLOSE_POLICY,
		      "Text messages are {\"config\":{...}}, exactly '" EOF_MSG "' or '"
		      RESET_MSG "'.");
	return SRV_CTL_INVALID;
}

static void join_words(const struct srv_word *w, size_t n, char *text, size_t size)
{
	size_t used = 0, k = 0;

	text[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		if (w[i].kind != SRV_WORD)
			continue;
		used += (size_t)snprintf(text + used, size - used, "%s%s", k++ ? " " : "", w[i].text);
	}
}

/* {"result":[...],"text":"..."}; just {"text":""} when nothing was said. */
static json_object *result_new(const struct srv_word *w, size_t n)
{
	json_object *o = json_object_new_object(), *res = json_object_new_array();
	char text[TEXT_MAX];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *jw;

		if (w[i].kind != SRV_WORD)
			continue;
		jw = json_object_new_object();
		json_object_object_add(jw, "conf", dj_fixed(w[i].confidence >= 0 ? w[i].confidence : 1, 6));
		json_object_object_add(jw, "end", dj_fixed((double)w[i].end_ms / 1000, 6));
		json_object_object_add(jw, "start", dj_fixed((double)w[i].start_ms / 1000, 6));
		json_object_object_add(jw, "word", json_object_new_string(w[i].text));
		json_object_array_add(res, jw);
		k++;
	}
	if (k)
		json_object_object_add(o, "result", res);
	else
		json_object_put(res);
	join_words(w, n, text, sizeof(text));
	json_object_object_add(o, "text", json_object_new_string(text));
	return o;
}

static int vosk_result(const struct srv_result *r, const struct srv_stream_cfg *cfg,
		       struct srv_dialect_state *st, struct srv_outq *q)
{
	char text[TEXT_MAX];
	size_t words = 0;
	bool fin = false;
	json_object *o;

	(void)cfg;
	(void)st;
	for (size_t i = 0; i < r->n_finals; i++) {
		words += r->finals[i].kind == SRV_WORD;
		fin |= r->finals[i].kind == SRV_MARK_FIN;
	}
	if (words || fin || r->finished)
		return dj_push(q, result_new(r->finals, r->n_finals));
	if (!r->per_audio)
		return 0;	/* only answers to audio carry partials */
	join_words(r->partials, r->n_partials, text, sizeof(text));
	o = json_object_new_object();
	json_object_object_add(o, "partial", json_object_new_string(text));
	return dj_push(q, o);
}

static int vosk_error(const struct srv_error *e, struct srv_dialect_state *st,
		      struct srv_outq *q)
{
	int close = e->close;

	(void)st;
	if (close == CLOSE_NORMAL)
		close = e->code >= 500 || e->code == 408 || e->code == 429 || e->cap ?
			CLOSE_INTERNAL : CLOSE_POLICY;
	return srv_dialect_close(q, close, e->message);
}

const struct srv_dialect srv_dialect_vosk = {
	.name = "vosk",
	.parse_request = vosk_parse_request,
	.parse_config = vosk_parse_config,
	.parse_control = vosk_parse_control,
	.config_optional = true,
	.key_in_config = false,
	.empty_binary_ends = false,
	.binary_audio = true,
	.reply_per_audio = true,
	.result = vosk_result,
	.error = vosk_error,
};
