/* session: see session.h. The wire format is the Soniox real-time subset
 * described at the top of pw-transcribe-server.c. */
#include "session.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key.h"
#include "log.h"

#define BLOCK_MS		100	/* responses are considered this often (audio) */
#define BLOCK_SAMPLES		(BLOCK_MS * REC_RATE / 1000)
#define MAX_PARTIAL_WORDS	256
#define MAX_MODEL_LOG		64
#define CLOSE_NORMAL		1000
#define CLOSE_TOO_BIG		1009
#define CLOSE_INTERNAL		1011

enum sess_state { ST_CONFIG, ST_STREAMING, ST_DONE };

struct sess {
	unsigned id;
	const struct sess_params *p;
	enum sess_auth auth;
	enum sess_state state;
	unsigned rate, channels;
	bool endpoint_tokens;		/* config enable_endpoint_detection: "<end>" tokens */

	struct rec *rec;
	unsigned init_ms;
	uint64_t ready_cpu_ms;
	unsigned char carry[4];		/* a partial input frame between chunks */
	size_t carry_len;
	int16_t *mono;			/* scratch: mono input */
	size_t mono_cap;
	uint64_t in_frames;		/* input frames received */
	size_t msg_bytes;		/* size of the binary message so far */

	struct rec_word *finals;	/* final tokens of the next response */
	size_t n_finals, cap_finals;
	struct rec_word partial[MAX_PARTIAL_WORDS];	/* current non-final tokens */
	size_t n_partial;
	uint64_t partial_hash;
	bool dirty;			/* the non-final tokens changed since the last response */
	uint64_t last_resp_ms, last_partial_ms, sent_final_ms;
	unsigned n_final_words;

	struct sess_out *head, *tail;
};

static struct sess_out *out_push(struct sess *s, enum sess_out_kind kind, const char *text, size_t len)
{
	struct sess_out *o = calloc(1, sizeof(*o));

	if (o && kind == SESS_OUT_TEXT) {
		o->buf = malloc(s->p->pre + len + 1);
		if (!o->buf) {
			free(o);
			o = NULL;
		} else {
			memcpy(o->buf + s->p->pre, text, len);
			o->len = len;
		}
	}
	if (!o) {
		srv_log("conn=%u error what=out-of-memory", s->id);
		return NULL;
	}
	o->kind = kind;
	if (s->tail)
		s->tail->next = o;
	else
		s->head = o;
	s->tail = o;
	return o;
}

static void push_json(struct sess *s, json_object *o)
{
	const char *str = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	out_push(s, SESS_OUT_TEXT, str, strlen(str));
	json_object_put(o);
}

static void push_close(struct sess *s, int code)
{
	struct sess_out *o = out_push(s, SESS_OUT_CLOSE, NULL, 0);

	if (o)
		o->code = code;
	s->state = ST_DONE;
}

/* Soniox error message, then close. */
static void push_error(struct sess *s, int code, const char *type, const char *msg, int ws_code)
{
	json_object *o = json_object_new_object();
	char logmsg[256];
	size_t i;

	json_object_object_add(o, "error_code", json_object_new_int(code));
	json_object_object_add(o, "error_type", json_object_new_string(type));
	json_object_object_add(o, "error_message", json_object_new_string(msg));
	push_json(s, o);
	for (i = 0; msg[i] && i < sizeof(logmsg) - 1; i++)
		logmsg[i] = msg[i] == '"' ? '\'' : msg[i];
	logmsg[i] = '\0';
	srv_log("conn=%u error code=%d type=%s close=%d msg=\"%s\"", s->id, code, type, ws_code, logmsg);
	push_close(s, ws_code);
}

static json_object *token_new(const struct rec_word *w, bool final)
{
	json_object *t = json_object_new_object();
	char text[REC_WORD_MAX + 1], conf[16];
	bool marker = w->text[0] == '<';

	snprintf(text, sizeof(text), "%s%s", marker ? "" : " ", w->text);
	json_object_object_add(t, "text", json_object_new_string(text));
	json_object_object_add(t, "start_ms", json_object_new_int64((int64_t)w->start_ms));
	json_object_object_add(t, "end_ms", json_object_new_int64((int64_t)w->end_ms));
	if (w->confidence >= 0.0) {
		snprintf(conf, sizeof(conf), "%.3f", w->confidence);
		json_object_object_add(t, "confidence", json_object_new_double_s(w->confidence, conf));
	}
	json_object_object_add(t, "is_final", json_object_new_boolean(final));
	return t;
}

/* New finals, then "<fin>" if asked, then the non-finals (unless finished). */
static void respond(struct sess *s, bool fin_token, bool finished)
{
	json_object *o = json_object_new_object(), *toks = json_object_new_array();
	uint64_t total = s->rec ? rec_total_ms(s->rec) : 0;
	uint64_t fin = finished ? total : s->rec ? rec_final_ms(s->rec) : 0;

	for (size_t i = 0; i < s->n_finals; i++) {
		if (s->finals[i].start_ms < s->sent_final_ms)
			srv_log("conn=%u warning what=final-token-before-final-audio start_ms=%" PRIu64
				" final_audio_proc_ms=%" PRIu64, s->id, s->finals[i].start_ms, s->sent_final_ms);
		json_object_array_add(toks, token_new(&s->finals[i], true));
	}
	s->n_finals = 0;
	if (fin_token) {
		struct rec_word w = { .text = "<fin>", .start_ms = total, .end_ms = total, .confidence = -1 };
		json_object_array_add(toks, token_new(&w, true));
	}
	for (size_t i = 0; !finished && i < s->n_partial; i++)
		json_object_array_add(toks, token_new(&s->partial[i], false));
	json_object_object_add(o, "tokens", toks);
	json_object_object_add(o, "final_audio_proc_ms", json_object_new_int64((int64_t)fin));
	json_object_object_add(o, "total_audio_proc_ms", json_object_new_int64((int64_t)total));
	if (finished)
		json_object_object_add(o, "finished", json_object_new_boolean(1));
	push_json(s, o);
	s->last_resp_ms = total;
	s->sent_final_ms = fin;
	s->dirty = false;
}

static int add_final(struct sess *s, const struct rec_word *w)
{
	if (s->n_finals == s->cap_finals) {
		size_t cap = s->cap_finals ? s->cap_finals * 2 : 32;
		struct rec_word *v = realloc(s->finals, cap * sizeof(*v));
		if (!v) {
			srv_log("conn=%u error what=out-of-memory", s->id);
			return -1;
		}
		s->finals = v;
		s->cap_finals = cap;
	}
	s->finals[s->n_finals++] = *w;
	return 0;
}

static void on_utterance(void *data, const struct rec_word *words, size_t n, enum rec_end_reason why)
{
	struct sess *s = data;
	uint64_t end = n ? words[n - 1].end_ms : rec_total_ms(s->rec);

	for (size_t i = 0; i < n; i++)
		add_final(s, &words[i]);
	s->n_final_words += (unsigned)n;
	if (s->endpoint_tokens && why != REC_END_FORCED && n > 0) {
		struct rec_word w = { .text = "<end>", .start_ms = end, .end_ms = end, .confidence = -1 };
		add_final(s, &w);
	}
	if (s->n_partial > 0)
		s->dirty = true;	/* the non-finals go away */
	s->n_partial = 0;
	s->partial_hash = 0;
}

static uint64_t hash_words(const struct rec_word *w, size_t n)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		for (const char *c = w[i].text; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h = (h ^ ' ') * 1099511628211ull;
		h = (h ^ w[i].end_ms) * 1099511628211ull;
	}
	return n ? h : 0;
}

/* After every block of audio: finals go out at once; non-finals at most
 * every partial_ms when they changed; something at least every progress_ms. */
static void maybe_respond(struct sess *s)
{
	uint64_t total = rec_total_ms(s->rec), h;

	if (rec_in_utterance(s->rec) && total - s->last_partial_ms >= s->p->partial_ms) {
		s->n_partial = rec_partial(s->rec, s->partial, MAX_PARTIAL_WORDS);
		s->last_partial_ms = total;
		h = hash_words(s->partial, s->n_partial);
		if (h != s->partial_hash)
			s->dirty = true;
		s->partial_hash = h;
	}
	if (s->n_finals > 0 || s->dirty || total - s->last_resp_ms >= s->p->progress_ms)
		respond(s, false, false);
}

static void decoder_failed(struct sess *s)
{
	push_error(s, 500, "internal_error",
		   "The speech recognizer failed; please restart the request.", CLOSE_INTERNAL);
}

/* 16 kHz mono into the recognizer, in blocks so responses keep their pace. */
static void feed_rec(struct sess *s, const int16_t *pcm, size_t n)
{
	while (n > 0 && s->state == ST_STREAMING) {
		size_t k = n < BLOCK_SAMPLES ? n : BLOCK_SAMPLES;

		if (rec_feed(s->rec, pcm, k, on_utterance, s) < 0) {
			decoder_failed(s);
			return;
		}
		pcm += k;
		n -= k;
		maybe_respond(s);
	}
}

static int16_t *grow(struct sess *s, int16_t **buf, size_t *cap, size_t n)
{
	if (n > *cap) {
		int16_t *b = realloc(*buf, n * sizeof(*b));
		if (!b) {
			srv_log("conn=%u error what=out-of-memory", s->id);
			return NULL;
		}
		*buf = b;
		*cap = n;
	}
	return *buf;
}

static int16_t sample_at(const unsigned char *b)
{
	return (int16_t)(uint16_t)(b[0] | (b[1] << 8));
}

/* n whole interleaved S16LE frames: to mono, to the recognizer. */
static void feed_frames(struct sess *s, const unsigned char *b, size_t n)
{
	int16_t *m = grow(s, &s->mono, &s->mono_cap, n);

	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		if (s->channels == 2)
			m[i] = (int16_t)(((int)sample_at(b + 4 * i) + sample_at(b + 4 * i + 2)) / 2);
		else
			m[i] = sample_at(b + 2 * i);
	}
	s->in_frames += n;
	feed_rec(s, m, n);
}

static void feed_audio(struct sess *s, const unsigned char *b, size_t len)
{
	size_t fb = 2 * s->channels;

	if (s->carry_len) {
		while (s->carry_len < fb && len) {
			s->carry[s->carry_len++] = *b++;
			len--;
		}
		if (s->carry_len < fb)
			return;
		feed_frames(s, s->carry, 1);
		s->carry_len = 0;
	}
	if (len / fb)
		feed_frames(s, b, len / fb);
	b += len / fb * fb;
	len %= fb;
	memcpy(s->carry, b, len);
	s->carry_len = len;
}

static uint64_t audio_ms(const struct sess *s)
{
	return s->rate ? s->in_frames * 1000 / s->rate : 0;
}

static void end_of_stream(struct sess *s)
{
	srv_log("conn=%u end-of-stream audio_ms=%" PRIu64, s->id, audio_ms(s));
	if (s->state == ST_STREAMING) {
		if (rec_finalize(s->rec, on_utterance, s) < 0) {
			decoder_failed(s);
			return;
		}
	}
	respond(s, false, true);
	srv_log("conn=%u finished audio_ms=%" PRIu64 " final_words=%u", s->id, audio_ms(s),
		s->n_final_words);
	push_close(s, CLOSE_NORMAL);
}

static void finalize(struct sess *s)
{
	srv_log("conn=%u finalize audio_ms=%" PRIu64, s->id, audio_ms(s));
	if (rec_finalize(s->rec, on_utterance, s) < 0) {
		decoder_failed(s);
		return;
	}
	respond(s, true, false);
}

/* Checks the config's fields; returns an error message or NULL. */
static const char *config_check(struct sess *s, json_object *cfg, char *buf, size_t buflen)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(cfg, "audio_format", &v) ||
	    !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "pcm_s16le"))
		return "Invalid audio_format: pw-transcribe-server supports only \"pcm_s16le\" "
		       "(raw 16-bit little-endian PCM).";
	if (!json_object_object_get_ex(cfg, "sample_rate", &v) || !json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < SESS_MIN_RATE || n > SESS_MAX_RATE)
		return "Invalid sample_rate: an integer in 8000..48000 is required.";
	s->rate = (unsigned)n;
	if (!json_object_object_get_ex(cfg, "num_channels", &v) || !json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < 1 || n > 2)
		return "Invalid num_channels: 1 or 2 is required.";
	s->channels = (unsigned)n;
	if (json_object_object_get_ex(cfg, "enable_endpoint_detection", &v))
		s->endpoint_tokens = json_object_get_boolean(v);
	/* The en-us model is 16 kHz. Clients resample (the PipeWire module's
	 * adapter does): no hand-written resampler here. */
	if (s->rate != REC_RATE) {
		snprintf(buf, buflen, "Unsupported sample_rate %u: the en-us model needs %u Hz "
			 "(set audio.rate = %u; PipeWire resamples for you).", s->rate, REC_RATE, REC_RATE);
		return buf;
	}
	return NULL;
}

/* The config's api_key may stand in for a missing or wrong header. */
static bool config_authorizes(const struct sess *s, json_object *cfg)
{
	json_object *v;

	if (!s->p->key || s->auth == SESS_AUTH_OK)
		return true;
	return json_object_object_get_ex(cfg, "api_key", &v) && json_object_is_type(v, json_type_string) &&
	       key_matches(s->p->key, json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

static void log_config(const struct sess *s, json_object *cfg)
{
	char model[MAX_MODEL_LOG + 1] = "-";
	json_object *v;
	const char *m;
	size_t i;

	if (json_object_object_get_ex(cfg, "model", &v) && json_object_is_type(v, json_type_string)) {
		m = json_object_get_string(v);
		for (i = 0; m[i] && i < MAX_MODEL_LOG; i++)
			model[i] = (m[i] > ' ' && m[i] < 0x7f && m[i] != '"') ? m[i] : '?';
		model[i] = '\0';
	}
	srv_log("conn=%u config rate=%u channels=%u model=%s endpoint=%d auth=%s", s->id, s->rate,
		s->channels, model, s->endpoint_tokens,
		!s->p->key ? "none" : s->auth == SESS_AUTH_OK ? "header" : "api_key");
}

static void on_config(struct sess *s, const char *msg, size_t len)
{
	json_object *cfg = json_tokener_parse(msg);
	struct timespec ts;
	char buf[200];
	const char *err;

	if (!cfg || !json_object_is_type(cfg, json_type_object) || strlen(msg) != len) {
		json_object_put(cfg);
		push_error(s, 400, "invalid_request",
			   "The first message must be the JSON configuration object.", CLOSE_NORMAL);
		return;
	}
	if (!config_authorizes(s, cfg)) {
		json_object_put(cfg);
		push_error(s, 401, "unauthenticated", s->auth == SESS_AUTH_MISSING ?
			   "Missing API key: send \"Authorization: Bearer <key>\" or \"api_key\"." :
			   "Invalid API key.", CLOSE_NORMAL);
		return;
	}
	err = config_check(s, cfg, buf, sizeof(buf));
	if (!err)
		log_config(s, cfg);
	json_object_put(cfg);
	if (err) {
		push_error(s, 400, "invalid_config", err, CLOSE_NORMAL);
		return;
	}
	s->rec = rec_open(s->p->pool, s->id, &s->init_ms);
	if (!s->rec) {
		push_error(s, 500, "internal_error",
			   "The speech recognizer could not be started; see the server log.", CLOSE_INTERNAL);
		return;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	s->ready_cpu_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	srv_log("conn=%u decoder ready init_ms=%u", s->id, s->init_ms);
	s->state = ST_STREAMING;
}

struct sess *sess_new(unsigned id, const struct sess_params *p, enum sess_auth auth)
{
	struct sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->p = p;
	s->auth = auth;
	return s;
}

void sess_out_free(struct sess_out *o)
{
	if (!o)
		return;
	free(o->buf);
	free(o);
}

void sess_free(struct sess *s)
{
	struct sess_out *o;

	if (!s)
		return;
	while ((o = sess_pop(s)))
		sess_out_free(o);
	rec_close(s->rec);
	free(s->mono);
	free(s->finals);
	free(s);
}

void sess_on_text(struct sess *s, const char *msg, size_t len)
{
	json_object *o, *t;
	const char *type = NULL;

	if (s->state == ST_DONE)
		return;
	if (len == 0) {
		end_of_stream(s);
		return;
	}
	if (s->state == ST_CONFIG) {
		on_config(s, msg, len);
		return;
	}
	o = json_tokener_parse(msg);
	if (o && json_object_object_get_ex(o, "type", &t) && json_object_is_type(t, json_type_string))
		type = json_object_get_string(t);
	if (type && !strcmp(type, "keepalive"))
		;	/* its arrival is all that matters (idle timer) */
	else if (type && !strcmp(type, "finalize"))
		finalize(s);
	else if (o && type)
		push_error(s, 400, "invalid_request", "Unknown control message type.", CLOSE_NORMAL);
	else
		push_error(s, 400, "invalid_request",
			   "Text messages must be JSON control messages ({\"type\":\"finalize\"} or "
			   "{\"type\":\"keepalive\"}) or empty (end of audio).", CLOSE_NORMAL);
	json_object_put(o);
}

void sess_on_binary(struct sess *s, const void *data, size_t len, bool first, bool msg_end)
{
	if (s->state == ST_DONE)
		return;
	if (first)
		s->msg_bytes = 0;
	s->msg_bytes += len;
	if (msg_end && s->msg_bytes == 0) {
		end_of_stream(s);
		return;
	}
	if (s->state == ST_CONFIG) {
		push_error(s, 400, "invalid_request",
			   "Audio received before the configuration message.", CLOSE_NORMAL);
		return;
	}
	feed_audio(s, data, len);
}

void sess_on_oversized(struct sess *s, size_t bytes)
{
	char msg[160];

	if (s->state == ST_DONE)
		return;
	snprintf(msg, sizeof(msg), "Message of more than %zu bytes refused (limit %d); "
		 "send audio in smaller chunks.", bytes, SESS_MAX_MESSAGE);
	push_error(s, 400, "message_too_large", msg, CLOSE_TOO_BIG);
}

void sess_on_idle(struct sess *s, unsigned idle_s)
{
	char msg[128];

	if (s->state == ST_DONE)
		return;
	snprintf(msg, sizeof(msg), "Request timeout: no audio or keepalive for %u s.", idle_s);
	push_error(s, 408, "request_timeout", msg, CLOSE_NORMAL);
}

void sess_on_reject(struct sess *s, int code, const char *type, const char *msg)
{
	if (s->state != ST_DONE)
		push_error(s, code, type, msg, CLOSE_NORMAL);
}

struct sess_out *sess_pop(struct sess *s)
{
	struct sess_out *o = s->head;

	if (!o)
		return NULL;
	s->head = o->next;
	if (!s->head)
		s->tail = NULL;
	o->next = NULL;
	return o;
}

bool sess_done(const struct sess *s)
{
	return s->state == ST_DONE;
}

void sess_get_stats(const struct sess *s, struct sess_stats *st)
{
	st->audio_ms = audio_ms(s);
	st->finals = s->n_final_words;
	st->init_ms = s->init_ms;
	st->ready_cpu_ms = s->ready_cpu_ms;
}
