/* srv-dialect-soniox: the Soniox real-time subset as a server speaks it
 * (the wire format is described at the top of
 * tools/server/pw-transcribe-server.c). See srv-dialect.h. */
#include "srv-dialect.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH	16	/* our messages nest 3 deep */
#define MIN_RATE	8000
#define MAX_RATE	48000
#define MAX_CHANNELS	2
#define CLOSE_NORMAL	1000

void srv_error_set(struct srv_error *e, int code, const char *type, int close,
		   const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	e->type = type;
	e->close = close;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

void srv_stream_cfg_clear(struct srv_stream_cfg *cfg)
{
	if (cfg->api_key) {
		explicit_bzero(cfg->api_key, strlen(cfg->api_key));
		free(cfg->api_key);
	}
	memset(cfg, 0, sizeof(*cfg));
}

/* The whole message as one JSON value, white space around it allowed; NULL
 * for anything else (trailing bytes, a NUL inside, too deep). */
static json_object *parse_whole(const char *msg, size_t len)
{
	struct json_tokener *tok;
	json_object *o = NULL;
	size_t end;

	if (len > INT_MAX || strlen(msg) != len || !(tok = json_tokener_new_ex(JSON_DEPTH)))
		return NULL;
	o = json_tokener_parse_ex(tok, msg, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		end = json_tokener_get_parse_end(tok);
		while (end < len && (msg[end] == ' ' || msg[end] == '\t' || msg[end] == '\r' ||
				     msg[end] == '\n'))
			end++;
		if (end != len) {
			json_object_put(o);
			o = NULL;
		}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static bool get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out >= min && *out <= max;
}

static const char *get_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_flag(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* The model name, printable and quote-free, for the log. */
static void copy_model(char *out, const char *m)
{
	size_t i;

	if (!m) {
		strcpy(out, "-");
		return;
	}
	for (i = 0; m[i] && i < SRV_MODEL_MAX; i++)
		out[i] = (m[i] > ' ' && m[i] < 0x7f && m[i] != '"') ? m[i] : '?';
	out[i] = '\0';
}

static int check_fields(json_object *o, struct srv_stream_cfg *cfg, struct srv_error *err)
{
	const char *fmt = get_string(o, "audio_format");
	int64_t n;

	if (!fmt || strcmp(fmt, "pcm_s16le")) {
		srv_error_set(err, 400, "invalid_config", CLOSE_NORMAL,
			      "Invalid audio_format: only \"pcm_s16le\" (raw 16-bit little-endian PCM) "
			      "is supported.");
		return -1;
	}
	if (!get_int(o, "sample_rate", MIN_RATE, MAX_RATE, &n)) {
		srv_error_set(err, 400, "invalid_config", CLOSE_NORMAL,
			      "Invalid sample_rate: an integer in %d..%d is required.", MIN_RATE, MAX_RATE);
		return -1;
	}
	cfg->rate = (unsigned)n;
	if (!get_int(o, "num_channels", 1, MAX_CHANNELS, &n)) {
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
	json_object *o = parse_whole(msg, len);
	const char *key;
	int rc;

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		srv_error_set(err, 400, "invalid_request", CLOSE_NORMAL,
			      "The first message must be the JSON configuration object, and nothing "
			      "after it.");
		return -1;
	}
	key = get_string(o, "api_key");
	if (key)
		cfg->api_key = strdup(key);
	copy_model(cfg->model, get_string(o, "model"));
	cfg->endpoint = get_flag(o, "enable_endpoint_detection");
	cfg->diarize = get_flag(o, "enable_speaker_diarization");
	rc = check_fields(o, cfg, err);
	json_object_put(o);
	return rc ? -2 : 0;
}

static enum srv_ctl soniox_parse_control(const char *msg, size_t len, struct srv_error *err)
{
	json_object *o;
	const char *type;
	enum srv_ctl ctl = SRV_CTL_INVALID;

	if (len == 0)
		return SRV_CTL_END;
	o = parse_whole(msg, len);
	type = o ? get_string(o, "type") : NULL;
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

static struct srv_out *json_out(json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	struct srv_out *out = s ? srv_out_new(SRV_OUT_TEXT, s, strlen(s)) : NULL;

	json_object_put(o);
	return out;
}

/* Confidence with three decimals at most, trailing zeros dropped. */
static json_object *confidence_new(double c)
{
	char buf[16];
	size_t n;

	snprintf(buf, sizeof(buf), "%.3f", c);
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
	return json_object_new_double_s(c, buf);
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
		json_object_object_add(t, "confidence", confidence_new(w->confidence));
	json_object_object_add(t, "is_final", json_object_new_boolean(final));
	if (w->kind == SRV_WORD && w->speaker[0])
		json_object_object_add(t, "speaker", json_object_new_string(w->speaker));
	return t;
}

/* {"tokens":[finals..., partials...],"final_audio_proc_ms":F,"total_audio_proc_ms":T[,"finished":true]} */
static struct srv_out *soniox_result(const struct srv_result *r)
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
	return json_out(o);
}

static struct srv_out *soniox_error(const struct srv_error *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error_code", json_object_new_int(e->code));
	json_object_object_add(o, "error_type", json_object_new_string(e->type));
	json_object_object_add(o, "error_message", json_object_new_string(e->message));
	return json_out(o);
}

const struct srv_dialect srv_dialect_soniox = {
	.name = "soniox",
	.parse_request = NULL,
	.parse_config = soniox_parse_config,
	.parse_control = soniox_parse_control,
	.empty_binary_ends = true,
	.result = soniox_result,
	.error = soniox_error,
};
