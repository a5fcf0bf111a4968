/* srv-dialect-openai-realtime: OpenAI's realtime transcription protocol
 * (wss://api.openai.com/v1/realtime?intent=transcription; also vLLM's
 * /v1/realtime) as a server speaks it. Facts: OpenAI's realtime API
 * reference (client and server events); vLLM's
 * vllm/entrypoints/openai/realtime/; doc/protocols/openai-realtime.md.
 *
 *   - Auth on the upgrade: "Authorization: Bearer <key or client secret>";
 *     a bad or missing one is HTTP 401 with OpenAI's {"error":{...}} body.
 *   - On open: session.created. Config: {"type":"session.update",
 *     "session":{"type":"transcription","audio":{"input":{"format":
 *     {"type":"audio/pcm","rate":24000},"transcription":{"model":...},
 *     "turn_detection":...}}}} (GA) or {"type":"transcription_session.update",
 *     "session":{"input_audio_format":"pcm16",...}} (beta); vLLM's top-level
 *     "model" is taken too. Acked with session.updated (resp.
 *     transcription_session.updated): the client's readiness. Optional:
 *     audio before it is 24 kHz mono PCM16. Our extension: "rate" may be
 *     8000..48000 (pw-transcribe-server's model takes 16000 only).
 *   - Audio: {"type":"input_audio_buffer.append","audio":"<base64 PCM16>"}
 *     (no binary messages). input_audio_buffer.commit makes everything
 *     final (finalize); with "final":true (vLLM) it ends the stream.
 *     input_audio_buffer.clear is accepted and ignored (a recognizer
 *     cannot unhear audio).
 *   - Results, an item per utterance (our server VAD is the recognizer's
 *     utterance end): input_audio_buffer.speech_started {audio_start_ms}
 *     when words are first in progress; when they become final:
 *     speech_stopped {audio_end_ms = the audio final so far: the client's
 *     committed position}, input_audio_buffer.committed,
 *     conversation.item.input_audio_transcription.delta (the text) and
 *     ...completed {transcript}. No word times; no words in progress.
 *     A client's commit makes an item of what is in progress as OpenAI
 *     does: committed, delta, completed, but no speech_stopped; with less
 *     than 100 ms of audio since the last item it is the (non-fatal) error
 *     input_audio_buffer_commit_empty.
 *   - Errors: {"type":"error","error":{"type","code","message","param",
 *     "event_id"}}, then the close (the session cap: code session_expired).
 */
#include "srv-dialect.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv-dialect-json.h"

#define DEFAULT_RATE		24000	/* OpenAI's only PCM rate */
#define MIN_RATE		8000
#define MAX_RATE		48000
#define CLOSE_NORMAL		1000
#define VARIANT_BETA		1	/* transcription_session.* events */
#define ID_MAX			48
#define TRANSCRIPT_MAX		4096
#define MIN_COMMIT_MS		100	/* OpenAI's least audio in a commit */

static json_object *event_new(struct srv_dialect_state *st, const char *type)
{
	json_object *o = json_object_new_object();
	char id[ID_MAX];

	snprintf(id, sizeof(id), "event_%u_%llu", st->conn_id, (unsigned long long)++st->events);
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "event_id", json_object_new_string(id));
	return o;
}

static void item_id(const struct srv_dialect_state *st, unsigned n, char *buf, size_t size)
{
	snprintf(buf, size, "item_%u_%u", st->conn_id, n);
}

static int openai_opened(struct srv_dialect_state *st, struct srv_outq *q)
{
	json_object *o = event_new(st, "session.created"), *s = json_object_new_object();
	char id[ID_MAX];

	snprintf(id, sizeof(id), "sess_%u", st->conn_id);
	json_object_object_add(s, "id", json_object_new_string(id));
	json_object_object_add(s, "type", json_object_new_string("transcription"));
	json_object_object_add(o, "session", s);
	return dj_push(q, o);
}

static int config_error(struct srv_error *err, const char *msg)
{
	srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL, "%s", msg);
	return -2;
}

/* GA: session.audio.input.{format,transcription,turn_detection}. */
static int read_ga(json_object *sess, struct srv_stream_cfg *cfg, struct srv_error *err)
{
	json_object *in = dj_get_object(dj_get_object(sess, "audio"), "input");
	json_object *fmt = dj_get_object(in, "format"), *td;
	const char *type = fmt ? dj_get_string(fmt, "type") : NULL;
	int64_t rate;

	if (fmt && (!type || strcmp(type, "audio/pcm")))
		return config_error(err, "Invalid session.audio.input.format.type: only "
				    "\"audio/pcm\" (16-bit PCM) is supported.");
	if (fmt && json_object_object_get_ex(fmt, "rate", NULL)) {
		if (!dj_get_whole(fmt, "rate", MIN_RATE, MAX_RATE, &rate))
			return config_error(err, "Invalid session.audio.input.format.rate: an "
					    "integer in 8000..48000 (OpenAI: 24000).");
		cfg->rate = (unsigned)rate;
	}
	if (dj_get_object(in, "transcription"))
		dj_copy_model(cfg->model, sizeof(cfg->model),
			      dj_get_string(dj_get_object(in, "transcription"), "model"));
	if (in && json_object_object_get_ex(in, "turn_detection", &td))
		cfg->endpoint = td != NULL;
	return 0;
}

/* Beta: session.{input_audio_format,input_audio_transcription,turn_detection}. */
static int read_beta(json_object *sess, struct srv_stream_cfg *cfg, struct srv_error *err)
{
	const char *fmt = dj_get_string(sess, "input_audio_format");
	json_object *td;

	if (json_object_object_get_ex(sess, "input_audio_format", NULL) &&
	    (!fmt || strcmp(fmt, "pcm16")))
		return config_error(err, "Invalid session.input_audio_format: only \"pcm16\" is "
				    "supported.");
	if (dj_get_object(sess, "input_audio_transcription"))
		dj_copy_model(cfg->model, sizeof(cfg->model),
			      dj_get_string(dj_get_object(sess, "input_audio_transcription"), "model"));
	if (json_object_object_get_ex(sess, "turn_detection", &td))
		cfg->endpoint = td != NULL;
	return 0;
}

static int openai_parse_config(const char *msg, size_t len, struct srv_stream_cfg *cfg,
			       struct srv_error *err)
{
	json_object *o = dj_parse_whole(msg, len), *sess;
	const char *type = o ? dj_get_string(o, "type") : NULL;
	int rc;

	if (!type || (strcmp(type, "session.update") && strcmp(type, "transcription_session.update"))) {
		json_object_put(o);
		srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL,
			      "Expected a session.update event.");
		return -1;
	}
	cfg->variant = strcmp(type, "session.update") ? VARIANT_BETA : 0;
	sess = dj_get_object(o, "session");
	if (dj_get_string(o, "model"))	/* vLLM */
		dj_copy_model(cfg->model, sizeof(cfg->model), dj_get_string(o, "model"));
	if (!sess)
		rc = 0;
	else
		rc = cfg->variant == VARIANT_BETA ? read_beta(sess, cfg, err) : read_ga(sess, cfg, err);
	json_object_put(o);
	return rc;
}

static int openai_parse_request(const char *query, struct srv_stream_cfg *cfg,
				struct srv_error *err)
{
	(void)query;
	(void)err;
	cfg->rate = DEFAULT_RATE;
	cfg->channels = 1;
	cfg->endpoint = true;	/* server VAD is the default */
	dj_copy_model(cfg->model, sizeof(cfg->model), NULL);
	return 0;
}

static int openai_configured(const struct srv_stream_cfg *cfg, struct srv_dialect_state *st,
			     struct srv_outq *q)
{
	bool beta = cfg->variant == VARIANT_BETA;
	json_object *o = event_new(st, beta ? "transcription_session.updated" : "session.updated");
	json_object *s = json_object_new_object(), *tr = json_object_new_object();
	char id[ID_MAX];

	snprintf(id, sizeof(id), "sess_%u", st->conn_id);
	json_object_object_add(s, "id", json_object_new_string(id));
	json_object_object_add(tr, "model", json_object_new_string(cfg->model));
	if (beta) {
		json_object_object_add(s, "input_audio_format", json_object_new_string("pcm16"));
		json_object_object_add(s, "input_audio_transcription", tr);
	} else {
		json_object *audio = json_object_new_object(), *in = json_object_new_object();
		json_object *fmt = json_object_new_object();

		json_object_object_add(s, "type", json_object_new_string("transcription"));
		json_object_object_add(fmt, "type", json_object_new_string("audio/pcm"));
		json_object_object_add(fmt, "rate", json_object_new_int((int)cfg->rate));
		json_object_object_add(in, "format", fmt);
		json_object_object_add(in, "transcription", tr);
		json_object_object_add(audio, "input", in);
		json_object_object_add(s, "audio", audio);
	}
	json_object_object_add(o, "session", s);
	return dj_push(q, o);
}

/* Base64 (OpenSSL's decoder) into *audio; -1 when it is not base64. */
static int decode_audio(const char *b64, struct srv_audio *audio)
{
	size_t n = strlen(b64), pad = 0;
	int got;

	if (n % 4 || n > (size_t)1 << 30)
		return -1;
	if (n >= 1 && b64[n - 1] == '=')
		pad++;
	if (n >= 2 && b64[n - 2] == '=')
		pad++;
	audio->data = malloc(n / 4 * 3 + 1);
	if (!audio->data)
		return -1;
	got = n ? EVP_DecodeBlock(audio->data, (const unsigned char *)b64, (int)n) : 0;
	if (got < 0 || (size_t)got < pad) {
		free(audio->data);
		audio->data = NULL;
		return -1;
	}
	audio->len = (size_t)got - pad;
	return 0;
}

static enum srv_ctl openai_parse_control(const char *msg, size_t len, struct srv_audio *audio,
					 struct srv_error *err)
{
	json_object *o = dj_parse_whole(msg, len);
	const char *type = o ? dj_get_string(o, "type") : NULL, *b64;
	enum srv_ctl ctl = SRV_CTL_INVALID;

	if (type && !strcmp(type, "input_audio_buffer.append")) {
		b64 = dj_get_string(o, "audio");
		if (b64 && decode_audio(b64, audio) == 0)
			ctl = SRV_CTL_AUDIO;
		else
			srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL,
				      "Invalid 'audio': base64-encoded PCM16 is required.");
	} else if (type && !strcmp(type, "input_audio_buffer.commit")) {
		ctl = dj_get_flag(o, "final") ? SRV_CTL_END : SRV_CTL_FINALIZE;
	} else if (type && !strcmp(type, "input_audio_buffer.clear")) {
		ctl = SRV_CTL_IGNORE;
	} else if (type && (!strcmp(type, "session.update") ||
			    !strcmp(type, "transcription_session.update"))) {
		ctl = SRV_CTL_CONFIG;
	} else {
		srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL,
			      "Invalid 'type': expected session.update, input_audio_buffer.append, "
			      "input_audio_buffer.commit or input_audio_buffer.clear.");
	}
	json_object_put(o);
	return ctl;
}

static int push_event_ms(struct srv_dialect_state *st, struct srv_outq *q, const char *type,
			 const char *field, uint64_t ms, unsigned item)
{
	json_object *o = event_new(st, type);
	char id[ID_MAX];

	item_id(st, item, id, sizeof(id));
	json_object_object_add(o, field, json_object_new_int64((int64_t)ms));
	json_object_object_add(o, "item_id", json_object_new_string(id));
	return dj_push(q, o);
}

static int start_item(struct srv_dialect_state *st, struct srv_outq *q, uint64_t start_ms)
{
	st->in_item = true;
	st->item_start_ms = start_ms;
	return push_event_ms(st, q, "input_audio_buffer.speech_started", "audio_start_ms", start_ms,
			     st->items + 1);
}

static json_object *item_event(struct srv_dialect_state *st, const char *type, unsigned item)
{
	json_object *o = event_new(st, type);
	char id[ID_MAX];

	item_id(st, item, id, sizeof(id));
	json_object_object_add(o, "item_id", json_object_new_string(id));
	return o;
}

/* The item ends at end_ms: stopped (when the VAD ended it, not a commit),
 * committed, its text, completed. */
static int complete_item(struct srv_dialect_state *st, struct srv_outq *q, uint64_t end_ms,
			 bool vad, const char *text)
{
	unsigned n = ++st->items;
	json_object *o;
	char prev[ID_MAX];
	int rc = 0;

	if (vad)
		rc = push_event_ms(st, q, "input_audio_buffer.speech_stopped", "audio_end_ms", end_ms, n);
	st->item_end_ms = end_ms;

	o = item_event(st, "input_audio_buffer.committed", n);
	item_id(st, n - 1, prev, sizeof(prev));
	json_object_object_add(o, "previous_item_id", n > 1 ? json_object_new_string(prev) : NULL);
	rc |= dj_push(q, o);
	if (text[0]) {
		o = item_event(st, "conversation.item.input_audio_transcription.delta", n);
		json_object_object_add(o, "content_index", json_object_new_int(0));
		json_object_object_add(o, "delta", json_object_new_string(text));
		rc |= dj_push(q, o);
	}
	o = item_event(st, "conversation.item.input_audio_transcription.completed", n);
	json_object_object_add(o, "content_index", json_object_new_int(0));
	json_object_object_add(o, "transcript", json_object_new_string(text));
	rc |= dj_push(q, o);
	st->in_item = false;
	return rc;
}

static int push_error(struct srv_dialect_state *st, struct srv_outq *q, const char *type,
		      const char *code, const char *message)
{
	json_object *o = event_new(st, "error"), *er = json_object_new_object();

	json_object_object_add(er, "type", json_object_new_string(type));
	json_object_object_add(er, "code", json_object_new_string(code));
	json_object_object_add(er, "message", json_object_new_string(message));
	json_object_object_add(er, "param", NULL);
	json_object_object_add(er, "event_id", NULL);
	json_object_object_add(o, "error", er);
	return dj_push(q, o);
}

/* OpenAI's words; the stream goes on. */
static int push_commit_empty(struct srv_dialect_state *st, struct srv_outq *q, uint64_t ms)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Error committing input audio buffer: buffer too small. Expected "
		 "at least 100ms of audio, but buffer only has %llums of audio.",
		 (unsigned long long)ms);
	return push_error(st, q, "invalid_request_error", "input_audio_buffer_commit_empty", msg);
}

static int openai_result(const struct srv_result *r, const struct srv_stream_cfg *cfg,
			 struct srv_dialect_state *st, struct srv_outq *q)
{
	char text[TRANSCRIPT_MAX] = "";
	size_t used = 0, words = 0;
	bool fin = false;
	int rc = 0;

	(void)cfg;
	for (size_t i = 0; i < r->n_finals; i++) {
		const struct srv_word *w = &r->finals[i];

		if (w->kind == SRV_MARK_FIN)
			fin = true;
		if (w->kind != SRV_WORD)
			continue;
		if (!st->in_item)
			rc |= start_item(st, q, w->start_ms);
		if (used < sizeof(text))
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
						 words ? " " : "", w->text);
		words++;
	}
	if (fin && !words && !st->in_item && r->total_ms < st->item_end_ms + MIN_COMMIT_MS)
		rc |= push_commit_empty(st, q, r->total_ms - st->item_end_ms);
	else if (words || fin || (r->finished && st->in_item))
		rc |= complete_item(st, q, r->final_ms, !fin, text);
	if (!st->in_item && r->n_partials > 0 && !r->finished)
		rc |= start_item(st, q, r->partials[0].start_ms);
	return rc ? -1 : 0;
}

static void error_names(const struct srv_error *e, const char **type, const char **code)
{
	*type = "invalid_request_error";
	if (e->cap)
		*code = "session_expired";
	else if (e->code == 401)
		*code = "invalid_api_key";
	else if (e->code == 408)
		*code = "session_idle_timeout";
	else if (e->code == 429)
		*type = *code = "rate_limit_exceeded";
	else if (e->code >= 500)
		*type = *code = "server_error";
	else
		*code = e->type;
}

static int openai_error(const struct srv_error *e, struct srv_dialect_state *st,
			struct srv_outq *q)
{
	const char *type, *code;

	error_names(e, &type, &code);
	if (push_error(st, q, type, code, e->message))
		return -1;
	return srv_dialect_close(q, e->close, NULL);
}

static int openai_http_body(int status, const char *msg, char *buf, size_t size)
{
	json_object *o = json_object_new_object(), *er = json_object_new_object();

	json_object_object_add(er, "message", json_object_new_string(msg));
	json_object_object_add(er, "type", json_object_new_string(
		status >= 500 ? "server_error" : "invalid_request_error"));
	json_object_object_add(er, "param", NULL);
	json_object_object_add(er, "code",
			       status == 401 ? json_object_new_string("invalid_api_key") : NULL);
	json_object_object_add(o, "error", er);
	return dj_print(o, buf, size);
}

const struct srv_dialect srv_dialect_openai_realtime = {
	.name = "openai-realtime",
	.parse_request = openai_parse_request,
	.parse_config = openai_parse_config,
	.parse_control = openai_parse_control,
	.config_optional = true,
	.key_in_config = false,
	.empty_binary_ends = false,
	.binary_audio = false,
	.opened = openai_opened,
	.configured = openai_configured,
	.result = openai_result,
	.error = openai_error,
	.http_body = openai_http_body,
};
