/* fs-session: Soniox-subset protocol of one fault-server connection.
 * See fs-session.h; the wire format is documented in fault-server.c. */
#include "fs-session.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-log.h"

#define MIN_RATE		8000
#define MAX_RATE		48000
#define CONFIDENCE		"0.99"
#define GARBAGE_TEXT		"fault-server garbage: this is not JSON }{ <tokens>"
#define MAX_MODEL_LOG		64

enum sess_state {
	ST_CONFIG,		/* waiting for the first (config) message */
	ST_STREAMING,
	ST_DONE,		/* terminal item queued */
};

struct sess {
	unsigned id;
	const struct sess_params *p;
	enum sess_auth auth;
	enum sess_state state;

	unsigned rate, channels;
	struct rec *rec;
	uint64_t frames;		/* audio frames received */
	unsigned char carry[4];		/* bytes of an incomplete frame */
	size_t carry_len;
	uint64_t msg_bytes;		/* bytes of the binary message in progress */
	int16_t *mono;			/* conversion buffer */
	size_t mono_cap;
	uint64_t next_log_s;		/* next "audio_ms" log line at this second */

	struct rec_word *finals;	/* final words not sent yet */
	size_t n_finals, cap_finals;
	uint64_t last_resp_ms;		/* total_audio_proc_ms of the last response */
	uint64_t last_partial_ms;	/* same, last response carrying a partial */

	struct fault_item items[FAULT_MAX_ITEMS];
	size_t n_items;
	bool opened, muted, paused;

	/* "enable_speaker_diarization": low words (< 1500 Hz) are one voice,
	 * high ones another; like a real diarizer, each session numbers the
	 * voices in the order it first hears them, so labels differ between
	 * sessions and a client has to map them. */
	bool diarize;
	unsigned voice_label[2];	/* 0: not heard yet */
	unsigned n_voices;

	struct sess_out *head, *tail;
};

static void check_faults(struct sess *s);

static struct sess_out *out_push(struct sess *s, enum sess_out_kind kind, const void *data, size_t len)
{
	struct sess_out *o = calloc(1, sizeof(*o));

	if (!o) {
		fs_log("conn=%u error what=out-of-memory", s->id);
		return NULL;
	}
	o->kind = kind;
	if (kind == SESS_OUT_TEXT || kind == SESS_OUT_BINARY) {
		o->buf = malloc(s->p->pre + len + 1);
		if (!o->buf) {
			free(o);
			fs_log("conn=%u error what=out-of-memory", s->id);
			return NULL;
		}
		if (data)
			memcpy(o->buf + s->p->pre, data, len);
		o->len = len;
	}
	if (s->tail)
		s->tail->next = o;
	else
		s->head = o;
	s->tail = o;
	return o;
}

static void push_close(struct sess *s, int code)
{
	struct sess_out *o = out_push(s, SESS_OUT_CLOSE, NULL, 0);

	if (o)
		o->code = code;
	s->state = ST_DONE;
}

static void push_json(struct sess *s, json_object *o)
{
	const char *str = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	out_push(s, SESS_OUT_TEXT, str, strlen(str));
	json_object_put(o);
}

/* Soniox error: JSON, then close (ws_code). */
static void push_error(struct sess *s, int code, const char *msg, int ws_code)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error_code", json_object_new_int(code));
	json_object_object_add(o, "error_message", json_object_new_string(msg));
	push_json(s, o);
	fs_log("conn=%u error code=%d close=%d", s->id, code, ws_code);
	push_close(s, ws_code);
}

static json_object *token_new(const char *text, uint64_t start_ms, uint64_t end_ms, bool final)
{
	json_object *t = json_object_new_object();

	json_object_object_add(t, "text", json_object_new_string(text));
	json_object_object_add(t, "start_ms", json_object_new_int64((int64_t)start_ms));
	json_object_object_add(t, "end_ms", json_object_new_int64((int64_t)end_ms));
	json_object_object_add(t, "confidence", json_object_new_double_s(0.99, CONFIDENCE));
	json_object_object_add(t, "is_final", json_object_new_boolean(final));
	return t;
}

static unsigned voice_of(struct sess *s, const struct rec_word *w)
{
	unsigned v = w->freq_hz < 1500 ? 0 : 1;

	if (s->voice_label[v] == 0)
		s->voice_label[v] = ++s->n_voices;
	return s->voice_label[v];
}

static json_object *word_token(struct sess *s, const struct rec_word *w, bool final)
{
	char text[32], speaker[8];
	json_object *t;

	snprintf(text, sizeof(text), " w%u", w->freq_hz);
	t = token_new(text, w->start_ms, w->end_ms, final);
	if (s->diarize) {
		snprintf(speaker, sizeof(speaker), "%u", voice_of(s, w));
		json_object_object_add(t, "speaker", json_object_new_string(speaker));
	}
	return t;
}

/* Pending finals, then "<fin>" if asked, then the partial (unless finished). */
static void push_response(struct sess *s, bool fin_token, bool finished)
{
	json_object *o, *toks;
	struct rec_word w;
	uint64_t total = rec_total_ms(s->rec);
	bool partial = !finished && rec_partial(s->rec, &w);

	if (s->muted) {
		s->n_finals = 0;
		return;
	}
	o = json_object_new_object();
	toks = json_object_new_array();
	for (size_t i = 0; i < s->n_finals; i++)
		json_object_array_add(toks, word_token(s, &s->finals[i], true));
	s->n_finals = 0;
	if (fin_token)
		json_object_array_add(toks, token_new("<fin>", total, total, true));
	if (partial)
		json_object_array_add(toks, word_token(s, &w, false));
	json_object_object_add(o, "tokens", toks);
	json_object_object_add(o, "final_audio_proc_ms", json_object_new_int64((int64_t)rec_final_ms(s->rec)));
	json_object_object_add(o, "total_audio_proc_ms", json_object_new_int64((int64_t)total));
	if (finished)
		json_object_object_add(o, "finished", json_object_new_boolean(1));
	push_json(s, o);
	s->last_resp_ms = total;
	if (partial)
		s->last_partial_ms = total;
}

static void on_final(void *data, const struct rec_word *w)
{
	struct sess *s = data;

	if (s->diarize)
		fs_log("conn=%u final text=w%u start_ms=%" PRIu64 " end_ms=%" PRIu64 " speaker=%u",
		       s->id, w->freq_hz, w->start_ms, w->end_ms, voice_of(s, w));
	else
		fs_log("conn=%u final text=w%u start_ms=%" PRIu64 " end_ms=%" PRIu64,
		       s->id, w->freq_hz, w->start_ms, w->end_ms);
	if (s->n_finals == s->cap_finals) {
		size_t cap = s->cap_finals ? s->cap_finals * 2 : 16;
		struct rec_word *v = realloc(s->finals, cap * sizeof(*v));
		if (!v) {
			fs_log("conn=%u error what=out-of-memory", s->id);
			return;
		}
		s->finals = v;
		s->cap_finals = cap;
	}
	s->finals[s->n_finals++] = *w;
}

struct sess *sess_new(unsigned id, const struct sess_params *p, enum sess_auth auth,
		      const struct fault_spec *faults)
{
	struct sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->p = p;
	s->auth = auth;
	s->next_log_s = 1;
	if (faults)
		sess_set_faults(s, faults);
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
	rec_free(s->rec);
	free(s->mono);
	free(s->finals);
	free(s);
}

void sess_set_faults(struct sess *s, const struct fault_spec *faults)
{
	/* stable insertion sort by at_ms: items crossing together keep their order */
	s->n_items = 0;
	for (size_t i = 0; i < faults->n_items; i++) {
		size_t j = s->n_items++;
		while (j > 0 && s->items[j - 1].at_ms > faults->items[i].at_ms) {
			s->items[j] = s->items[j - 1];
			j--;
		}
		s->items[j] = faults->items[i];
		s->items[j].fired = false;
	}
	if (s->opened)
		check_faults(s);
}

uint64_t sess_audio_ms(const struct sess *s)
{
	return s->rate ? s->frames * 1000 / s->rate : 0;
}

static void push_garbage(struct sess *s, int64_t bytes)
{
	struct sess_out *o;

	out_push(s, SESS_OUT_TEXT, GARBAGE_TEXT, strlen(GARBAGE_TEXT));
	o = out_push(s, SESS_OUT_BINARY, NULL, (size_t)bytes);
	if (o)
		for (int64_t i = 0; i < bytes; i++)
			o->buf[s->p->pre + (size_t)i] = (unsigned char)(i * 151 + 7);
}

/* A valid response padded to `bytes`: {"tokens":[],"padding":"xxx...",...} */
static void push_oversized(struct sess *s, int64_t bytes)
{
	char tail[128];
	const char *head = "{\"tokens\":[],\"padding\":\"";
	size_t hl = strlen(head), tl, pad;
	struct sess_out *o;
	uint64_t total = s->rec ? rec_total_ms(s->rec) : 0;
	uint64_t fin = s->rec ? rec_final_ms(s->rec) : 0;

	tl = (size_t)snprintf(tail, sizeof(tail),
			      "\",\"final_audio_proc_ms\":%" PRIu64 ",\"total_audio_proc_ms\":%" PRIu64 "}",
			      fin, total);
	pad = (size_t)bytes > hl + tl ? (size_t)bytes - hl - tl : 0;
	o = out_push(s, SESS_OUT_TEXT, NULL, hl + pad + tl);
	if (!o)
		return;
	memcpy(o->buf + s->p->pre, head, hl);
	memset(o->buf + s->p->pre + hl, 'x', pad);
	memcpy(o->buf + s->p->pre + hl + pad, tail, tl);
}

static void fire(struct sess *s, struct fault_item *it)
{
	char msg[160];
	uint64_t ms = sess_audio_ms(s);
	struct sess_out *o;

	if (it->code)
		fs_log("conn=%u fault %s=%d audio_ms=%" PRIu64, s->id, fault_kind_name(it->kind),
		       it->code, ms);
	else
		fs_log("conn=%u fault %s audio_ms=%" PRIu64, s->id, fault_kind_name(it->kind), ms);
	switch (it->kind) {
	case FAULT_RST:
		out_push(s, SESS_OUT_RST, NULL, 0);
		s->state = ST_DONE;
		break;
	case FAULT_FIN:
		out_push(s, SESS_OUT_FIN, NULL, 0);
		s->state = ST_DONE;
		break;
	case FAULT_CLOSE:
		push_close(s, it->code);
		break;
	case FAULT_ERROR:
		snprintf(msg, sizeof(msg), "Fault injected by fault-server (error=%d).", it->code);
		push_error(s, it->code, msg, it->close_code);
		break;
	case FAULT_LIMIT:
		snprintf(msg, sizeof(msg), "Cannot continue request: session limit of %" PRId64
			 " ms of audio reached (fault-server limit).", it->at_ms);
		push_error(s, it->code, msg, it->close_code);
		break;
	case FAULT_STALL:
		o = out_push(s, SESS_OUT_STALL, NULL, 0);
		if (o)
			o->for_ms = it->for_ms;
		s->paused = true;
		break;
	case FAULT_MUTE:
		s->muted = true;
		break;
	case FAULT_GARBAGE:
		push_garbage(s, it->bytes);
		break;
	case FAULT_OVERSIZED:
		push_oversized(s, it->bytes);
		break;
	}
}

static void check_faults(struct sess *s)
{
	uint64_t ms = sess_audio_ms(s);

	for (size_t i = 0; i < s->n_items && s->state != ST_DONE; i++) {
		struct fault_item *it = &s->items[i];
		if (it->fired || (uint64_t)it->at_ms > ms)
			continue;
		it->fired = true;
		fire(s, it);
	}
}

void sess_idle_timeout(struct sess *s, int64_t idle_ms)
{
	char msg[128];

	if (s->state == ST_DONE)
		return;
	fs_log("conn=%u fault idle=%" PRId64 " audio_ms=%" PRIu64, s->id, idle_ms, sess_audio_ms(s));
	snprintf(msg, sizeof(msg), "Request timeout: no audio or keepalive for %" PRId64 " ms.", idle_ms);
	push_error(s, 408, msg, 1000);
}

void sess_on_open(struct sess *s)
{
	s->opened = true;
	check_faults(s);
}

static void end_of_stream(struct sess *s)
{
	fs_log("conn=%u end-of-stream audio_ms=%" PRIu64, s->id, sess_audio_ms(s));
	if (s->rec)
		rec_flush(s->rec, on_final, s);
	if (s->muted) {
		/* muted: not even a goodbye; the client has to give up */
		s->state = ST_DONE;
		return;
	}
	if (s->rec) {
		push_response(s, false, true);
	} else {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "tokens", json_object_new_array());
		json_object_object_add(o, "final_audio_proc_ms", json_object_new_int(0));
		json_object_object_add(o, "total_audio_proc_ms", json_object_new_int(0));
		json_object_object_add(o, "finished", json_object_new_boolean(1));
		push_json(s, o);
	}
	fs_log("conn=%u finished", s->id);
	push_close(s, 1000);
}

static void log_model(const struct sess *s, json_object *cfg)
{
	json_object *v;
	char model[MAX_MODEL_LOG + 1] = "-";
	const char *m;
	size_t i;

	if (json_object_object_get_ex(cfg, "model", &v) && json_object_is_type(v, json_type_string)) {
		m = json_object_get_string(v);
		for (i = 0; m[i] && i < MAX_MODEL_LOG; i++)
			model[i] = (m[i] > ' ' && m[i] < 0x7f) ? m[i] : '?';
		model[i] = '\0';
	}
	fs_log("conn=%u config rate=%u channels=%u model=%s auth=%s", s->id, s->rate, s->channels,
	       model, s->auth == SESS_AUTH_OK ? "ok" : s->auth == SESS_AUTH_BAD ? "bad" : "missing");
}

/* Validates the config; returns an error message or NULL. */
static const char *config_check(struct sess *s, json_object *cfg)
{
	json_object *v;
	int64_t n;

	if (!cfg || !json_object_is_type(cfg, json_type_object))
		return "The first message must be the JSON configuration object.";
	if (!json_object_object_get_ex(cfg, "audio_format", &v) ||
	    !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "pcm_s16le"))
		return "Invalid audio_format: fault-server supports only \"pcm_s16le\".";
	if (!json_object_object_get_ex(cfg, "sample_rate", &v) || !json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < MIN_RATE || n > MAX_RATE)
		return "Invalid sample_rate: an integer in 8000..48000 is required.";
	s->rate = (unsigned)n;
	if (!json_object_object_get_ex(cfg, "num_channels", &v) || !json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < 1 || n > 2)
		return "Invalid num_channels: 1 or 2 is required.";
	s->channels = (unsigned)n;
	return NULL;
}

static void on_config(struct sess *s, const char *msg)
{
	json_object *cfg = json_tokener_parse(msg), *v;
	const char *err;

	err = config_check(s, cfg);
	if (!err && s->p->key && s->auth == SESS_AUTH_MISSING) {
		if (json_object_object_get_ex(cfg, "api_key", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    !strcmp(json_object_get_string(v), s->p->key))
			s->auth = SESS_AUTH_OK;
	}
	if (!err)
		log_model(s, cfg);
	if (!err && json_object_object_get_ex(cfg, "enable_speaker_diarization", &v))
		s->diarize = json_object_get_boolean(v);
	if (!err && s->p->key && s->auth != SESS_AUTH_OK) {
		json_object_put(cfg);
		push_error(s, 401, "Invalid or missing API key.", 1000);
		return;
	}
	json_object_put(cfg);
	if (err) {
		fs_log("conn=%u bad-config", s->id);
		push_error(s, 400, err, 1000);
		return;
	}
	s->rec = rec_new(s->rate, &s->p->rec);
	if (!s->rec) {
		push_error(s, 500, "Out of memory.", 1011);
		return;
	}
	s->state = ST_STREAMING;
	check_faults(s);
}

void sess_on_text(struct sess *s, const char *msg, size_t len)
{
	json_object *o, *t;
	const char *type = NULL;

	if (s->state == ST_DONE || s->paused)
		return;
	if (len == 0) {
		end_of_stream(s);
		return;
	}
	if (s->state == ST_CONFIG) {
		on_config(s, msg);
		return;
	}
	o = json_tokener_parse(msg);
	if (o && json_object_object_get_ex(o, "type", &t) && json_object_is_type(t, json_type_string))
		type = json_object_get_string(t);
	if (type && !strcmp(type, "keepalive")) {
		fs_log("conn=%u keepalive", s->id);
	} else if (type && !strcmp(type, "finalize")) {
		fs_log("conn=%u finalize audio_ms=%" PRIu64, s->id, sess_audio_ms(s));
		rec_flush(s->rec, on_final, s);
		push_response(s, true, false);
	} else {
		fs_log("conn=%u bad-message len=%zu", s->id, len);
		push_error(s, 400, "Unknown control message.", 1000);
	}
	json_object_put(o);
}

static int16_t *mono_buf(struct sess *s, size_t n)
{
	if (n > s->mono_cap) {
		int16_t *m = realloc(s->mono, n * sizeof(*m));
		if (!m)
			return NULL;
		s->mono = m;
		s->mono_cap = n;
	}
	return s->mono;
}

static int16_t sample_at(const unsigned char *b)
{
	return (int16_t)(uint16_t)(b[0] | (b[1] << 8));
}

/* Whole frames of interleaved S16LE (carry handled by the caller). */
static void feed_frames(struct sess *s, const unsigned char *b, size_t n)
{
	int16_t *m = mono_buf(s, n);

	if (!m) {
		fs_log("conn=%u error what=out-of-memory", s->id);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (s->channels == 2)
			m[i] = (int16_t)(((int)sample_at(b + 4 * i) + sample_at(b + 4 * i + 2)) / 2);
		else
			m[i] = sample_at(b + 2 * i);
	}
	rec_feed(s->rec, m, n, on_final, s);
	s->frames += n;
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
	feed_frames(s, b, len / fb);
	b += len / fb * fb;
	len %= fb;
	memcpy(s->carry, b, len);
	s->carry_len = len;
}

static void after_audio(struct sess *s)
{
	uint64_t total = rec_total_ms(s->rec), ms = sess_audio_ms(s);
	struct rec_word w;
	bool partial = rec_partial(s->rec, &w);

	if (ms / 1000 >= s->next_log_s) {
		fs_log("conn=%u audio_ms=%" PRIu64, s->id, ms);
		s->next_log_s = ms / 1000 + 1;
	}
	if (s->n_finals > 0 ||
	    (partial && total - s->last_partial_ms >= s->p->partial_ms) ||
	    total - s->last_resp_ms >= s->p->progress_ms)
		push_response(s, false, false);
	check_faults(s);
}

void sess_on_binary(struct sess *s, const void *data, size_t len, bool first, bool msg_end)
{
	if (s->state == ST_DONE || s->paused)
		return;
	if (first)
		s->msg_bytes = 0;
	s->msg_bytes += len;
	if (s->state == ST_CONFIG) {
		if (msg_end) {
			fs_log("conn=%u audio-before-config", s->id);
			push_error(s, 400, "Audio received before the configuration message.", 1000);
		}
		return;
	}
	if (msg_end && s->msg_bytes == 0) {
		end_of_stream(s);
		return;
	}
	feed_audio(s, data, len);
	if (msg_end)
		after_audio(s);
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

bool sess_has_out(const struct sess *s)
{
	return s->head != NULL;
}

bool sess_rx_paused(const struct sess *s)
{
	return s->paused;
}

void sess_resume(struct sess *s)
{
	s->paused = false;
}

bool sess_terminal(const struct sess *s)
{
	return s->state == ST_DONE;
}
