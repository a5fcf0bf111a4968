/* srv-dialect-soniox: the Soniox real-time subset as a server speaks it
 * (the wire format is described at the top of
 * tools/server/pw-transcribe-server.c). See srv-dialect.h. */
#include "srv-dialect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv-dialect-json.h"

#define MIN_RATE	8000
#define MAX_RATE	48000
#define MAX_CHANNELS	2
#define CLOSE_NORMAL	1000

static int check_fields(json_object *o, struct srv_stream_cfg *cfg, struct srv_error *err)
{
	const char *fmt = dj_get_string(o, "audio_format");
	int64_t n;

	if (!fmt || strcmp(fmt, "pcm_s16le")) {
		srv_error_set(err, 400, "invalid_config", CLOSE_NORMAL,
			      "Invalid audio_format: only \"pcm_s16le\" (raw 16-bit little-endian PCM) "
			      "is supported.");
		return -1;
	}
	if (!dj_get_int(o, "sample_rate", MIN_RATE, MAX_RATE, &n)) {
		srv_error_set(err, 400, "invalid_config", CLOSE_NORMAL,
			      "Invalid sample_rate: an integer in %d..%d is required.", MIN_RATE, MAX_RATE);
		return -1;
	}
	cfg->rate = (unsigned)n;
	if (!dj_get_int(o, "num_channels", 1, MAX_CHANNELS, &n)) {
		srv_error_set(err, 400, "invalid_config", CLOSE_NORMAL,
			      "Invalid num_channels: 1 or 2 is required.");
		return -1;
	}
	cfg->channels = (unsigned)n;
	return 0;
}

/* The api_key is taken before the fields are checked: a client with a
 * bad key hears 401 before it hears about its config. */
static int soniox_parse_config(const char *msg, size_t len, struct srv_stream_cfg *cfg,
			       struct srv_error *err)
{
	json_object *o = dj_parse_whole(msg, len);
	const char *key;
	int rc;

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL,
			      "The first message must be the JSON configuration object, and nothing "
			      "after it.");
		return -1;
	}
	key = dj_get_string(o, "api_key");
	if (key)
		cfg->api_key = strdup(key);
	dj_copy_model(cfg->model, sizeof(cfg->model), dj_get_string(o, "model"));
	cfg->endpoint = dj_get_flag(o, "enable_endpoint_detection");
	cfg->diarize = dj_get_flag(o, "enable_speaker_diarization");
	rc = check_fields(o, cfg, err);
	json_object_put(o);
	return rc ? -2 : 0;
}

static enum srv_ctl soniox_parse_control(const char *msg, size_t len, struct srv_audio *audio,
					  struct srv_error *err)
{
	json_object *o;
	const char *type;
	enum srv_ctl ctl = SRV_CTL_INVALID;

	(void)audio;
	if (len == 0)
		return SRV_CTL_END;
	o = dj_parse_whole(msg, len);
	type = o ? dj_get_string(o, "type") : NULL;
	if (type && !strcmp(type, "keepalive"))
		ctl = SRV_CTL_KEEPALIVE;
	else if (type && !strcmp(type, "finalize"))
		ctl = SRV_CTL_FINALIZE;
	else if (type)
		srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL, "Unknown control message type.");
	else
		srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL,
			      "Text messages must be JSON control messages ({\"type\":\"finalize\"} or "
			      "{\"type\":\"keepalive\"}) or empty (end of audio).");
	json_object_put(o);
	return ctl;
}

static json_object *token_new(const struct srv_word *w, bool final)
{
	json_object *t = json_object_new_object();
	char text[SRV_WORD_MAX + 1];

	if (w->kind == SRV_MARK_END)
		strcpy(text, "<end>");
	else if (w->kind == SRV_MARK_FIN)
		strcpy(text, "<fin>");
	else
		snprintf(text, sizeof(text), " %s", w->text);
	json_object_object_add(t, "text", json_object_new_string(text));
	json_object_object_add(t, "start_ms", json_object_new_int64((int64_t)w->start_ms));
	json_object_object_add(t, "end_ms", json_object_new_int64((int64_t)w->end_ms));
	if (w->kind == SRV_WORD && w->confidence >= 0.0)
		json_object_object_add(t, "confidence", dj_fixed(w->confidence, 3));
	json_object_object_add(t, "is_final", json_object_new_boolean(final));
	if (w->kind == SRV_WORD && w->speaker[0])
		json_object_object_add(t, "speaker", json_object_new_string(w->speaker));
	return t;
}

/* {"tokens":[finals..., partials...],"final_audio_proc_ms":F,"total_audio_proc_ms":T[,"finished":true]} */
static int soniox_result(const struct srv_result *r, const struct srv_stream_cfg *cfg,
			 struct srv_dialect_state *st, struct srv_outq *q)
{
	json_object *o = json_object_new_object(), *toks = json_object_new_array();

	for (size_t i = 0; i < r->n_finals; i++)
		json_object_array_add(toks, token_new(&r->finals[i], true));
	for (size_t i = 0; i < r->n_partials; i++)
		json_object_array_add(toks, token_new(&r->partials[i], false));
	json_object_object_add(o, "tokens", toks);
	json_object_object_add(o, "final_audio_proc_ms", json_object_new_int64((int64_t)r->final_ms));
	json_object_object_add(o, "total_audio_proc_ms", json_object_new_int64((int64_t)r->total_ms));
	if (r->finished)
		json_object_object_add(o, "finished", json_object_new_boolean(1));
	(void)cfg;
	(void)st;
	return dj_push(q, o);
}

/* Soniox sends the error and closes at once (1000 unless said otherwise). */
static int soniox_error(const struct srv_error *e, struct srv_dialect_state *st, struct srv_outq *q)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error_code", json_object_new_int(e->code));
	json_object_object_add(o, "error_type", json_object_new_string(e->type));
	json_object_object_add(o, "error_message", json_object_new_string(e->message));
	(void)st;
	if (dj_push(q, o))
		return -1;
	return srv_dialect_close(q, e->close, NULL);
}

const struct srv_dialect srv_dialect_soniox = {
	.name = "soniox",
	.parse_request = NULL,
	.parse_config = soniox_parse_config,
	.parse_control = soniox_parse_control,
	.config_optional = false,
	.key_in_config = true,
	.empty_binary_ends = true,
	.binary_audio = true,
	.result = soniox_result,
	.error = soniox_error,
};
