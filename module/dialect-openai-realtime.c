/* OpenAI realtime transcription (wss://api.openai.com/v1/realtime?intent=
 * transcription) and the servers that copy it: the session.update message,
 * base64 audio framing, the event parser and the error classes. Wire facts:
 * doc/protocols/openai-realtime.md.
 *
 * - Config: one session.update of type "transcription" (GA shape): input
 *   audio/pcm at 24 kHz, the transcription model, the first language hint,
 *   server VAD, which cuts the audio into items at pauses (a commit of ours
 *   could split a word: doc/protocols/openai-realtime.md, Continuity).
 * - Audio: input_audio_buffer.append with the PCM in base64 (OpenSSL).
 * - Ready at session.created/updated (or transcription_session.*): the
 *   server handles messages in order, so audio after the update is heard
 *   with it.
 * - An item's audio span comes first (speech_started/speech_stopped,
 *   ms on the connection's clock), its text later (deltas, then completed):
 *   the connection's memory (dialect_conn) joins them. Deltas are one
 *   non-final token (all deltas of the item so far), completed one final
 *   token; both carry the item's span (no word times in this protocol).
 *   C = the end of an item whose transcript completed.
 * - Finalize and end of stream: input_audio_buffer.commit. The end is
 *   acknowledged (finished) when no committed item waits for its transcript.
 * - vLLM's /v1/realtime events (transcription.delta/done, error as a
 *   string) parse too; they carry no times.
 * Parsing policy as in dialect-soniox.c.
 */
#include "dialect.h"
#include "dialect-json.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include <spa/utils/defs.h>
#include <spa/utils/string.h>

/* The GA session takes audio/pcm at 24 kHz only. */
#define OPENAI_RATE		24000
/* Sessions last at most 60 minutes. */
#define OPENAI_MAX_SESSION_SEC	3600
/* Between speech_started and speech_stopped nothing comes: an utterance
 * without a pause of the VAD's silence_duration_ms (500 ms by default
 * [U]) this long would look like a hung service. */
#define OPENAI_QUIET_IN_SPEECH_MS	30000

static const char openai_commit[] = "{\"type\":\"input_audio_buffer.commit\"}";
static const char append_head[] = "{\"type\":\"input_audio_buffer.append\",\"audio\":\"";
static const char append_tail[] = "\"}";

static int openai_auth_header(const char *api_key, char *buf, size_t size)
{
	return dialect_auth_value("Bearer", api_key, buf, size);
}

static int add_session(struct json_object *session, const struct dialect_params *p)
{
	struct json_object *audio, *input, *format, *tr, *vad;
	int res;

	res = dialect_add(session, "type", json_object_new_string("transcription"));
	if (res == 0)
		res = dialect_add(session, "audio", audio = json_object_new_object());
	if (res == 0)
		res = dialect_add(audio, "input", input = json_object_new_object());
	if (res == 0)
		res = dialect_add(input, "format", format = json_object_new_object());
	if (res == 0)
		res = dialect_add(format, "type", json_object_new_string("audio/pcm"));
	if (res == 0)
		res = dialect_add(format, "rate", json_object_new_int64(p->rate));
	if (res == 0)
		res = dialect_add(input, "transcription", tr = json_object_new_object());
	if (res == 0)
		res = dialect_add_string(tr, "model", p->model);
	if (res == 0 && p->n_language_hints > 0)
		res = dialect_add_string(tr, "language", p->language_hints[0]);
	if (res == 0)
		res = dialect_add(input, "turn_detection", vad = json_object_new_object());
	if (res == 0)
		res = dialect_add(vad, "type", json_object_new_string("server_vad"));
	return res;
}

static int openai_build_config(const struct dialect_params *p, const char *api_key,
		char *buf, size_t size)
{
	struct json_object *obj, *session;
	int res;

	(void)api_key;	/* only in the Authorization header */
	if (p == NULL || p->model == NULL || p->model[0] == '\0' || p->rate != OPENAI_RATE ||
	    p->channels != 1)
		return -EINVAL;
	if ((obj = json_object_new_object()) == NULL)
		return -ENOMEM;
	res = dialect_add(obj, "type", json_object_new_string("session.update"));
	if (res == 0)
		res = dialect_add(obj, "session", session = json_object_new_object());
	if (res == 0)
		res = add_session(session, p);
	if (res == 0)
		res = dialect_json_to_buf(obj, buf, size);
	else if (buf != NULL && size > 0)
		explicit_bzero(buf, size);
	json_object_put(obj);
	return res;
}

static int openai_frame_audio(const void *pcm, size_t len, char *buf, size_t size)
{
	size_t head = sizeof(append_head) - 1, tail = sizeof(append_tail) - 1;
	size_t b64 = (len + 2) / 3 * 4;

	if (len > INT_MAX / 2 || buf == NULL || head + b64 + tail >= size)
		return -ENOSPC;
	memcpy(buf, append_head, head);
	EVP_EncodeBlock((unsigned char *)buf + head, pcm, (int)len);
	memcpy(buf + head + b64, append_tail, tail + 1);
	return (int)(head + b64 + tail);
}

/* ---- the connection's items ---- */

static struct dialect_item *find_item(struct dialect_conn *c, const char *id)
{
	for (uint32_t i = 0; i < c->n_items; i++)
		if (spa_streq(c->items[i].id, id))
			return &c->items[i];
	return NULL;
}

/* The item id (cut to fit) into id; false when the event has none. */
static bool get_item_id(struct json_object *root, char id[DIALECT_ITEM_ID_MAX])
{
	struct json_object *v = dialect_get_typed(root, "item_id", json_type_string);

	if (v == NULL)
		return false;
	dialect_copy_string(id, DIALECT_ITEM_ID_MAX, v, true);
	return true;
}

/* The item called id, made (over the oldest) when new. */
static struct dialect_item *item(struct dialect_conn *c, const char *id)
{
	struct dialect_item *it = find_item(c, id);

	if (it != NULL)
		return it;
	it = &c->items[c->next_item];
	c->next_item = (c->next_item + 1) % DIALECT_CONN_ITEMS;
	c->n_items = SPA_MIN(c->n_items + 1, (uint32_t)DIALECT_CONN_ITEMS);
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->start_ms = it->end_ms = -1;
	it->pending = it->completed = false;
	return it;
}

/* Completed events of different items may come out of order: C is the
 * latest end of a completed item before which no committed item still
 * waits for its transcript (one whose start is unknown waits everywhere). */
static int64_t committed_position(const struct dialect_conn *c)
{
	int64_t at = -1;

	for (uint32_t i = 0; i < c->n_items; i++)
		if (c->items[i].completed)
			at = SPA_MAX(at, c->items[i].end_ms);
	for (uint32_t i = 0; i < c->n_items && at >= 0; i++) {
		const struct dialect_item *it = &c->items[i];

		if (it->pending && (it->start_ms < 0 || it->start_ms < at))
			at = it->start_ms;	/* -1 when unknown: no C */
	}
	return at;
}

static uint32_t pending_items(const struct dialect_conn *c)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->n_items; i++)
		n += c->items[i].pending;
	return n;
}

/* ---- events ---- */

static void add_text(struct dialect_result *out, const char *text, const struct dialect_item *it,
		bool is_final)
{
	struct transcript_token *tok;
	size_t o = text[0] == ' ' ? 0 : 1;

	if (text[0] == '\0' || out->n_tokens >= DIALECT_MAX_TOKENS)
		return;
	tok = &out->tokens[out->n_tokens++];
	/* Items are utterances: a space between them, as between words. The
	 * copy cuts at a character, which the space may have pushed out. */
	tok->text[0] = ' ';
	dialect_copy_utf8(tok->text + o, sizeof(tok->text) - o, text, strlen(text), false);
	tok->start_ms = it != NULL ? it->start_ms : -1;
	tok->end_ms = it != NULL && it->start_ms >= 0 ? it->end_ms : -1;
	tok->is_final = is_final;
	tok->confidence = -1;
}

static void on_speech(struct dialect_conn *c, struct json_object *root, bool stopped,
		struct dialect_result *out)
{
	char id[DIALECT_ITEM_ID_MAX];
	int64_t ms = dialect_get_ms(root, stopped ? "audio_end_ms" : "audio_start_ms");
	struct dialect_item *it;

	out->alive = true;
	if (ms < 0 || !get_item_id(root, id))
		return;
	it = item(c, id);
	if (stopped)
		it->end_ms = ms;
	else
		it->start_ms = ms;
	c->heard_ms = SPA_MAX(c->heard_ms, ms);
	out->total_audio_proc_ms = c->heard_ms;
}

/* Deltas of one item add up to its words so far (a new item starts over). */
static void on_delta(struct dialect_conn *c, struct json_object *root, const char *key,
		struct dialect_result *out)
{
	char id[DIALECT_ITEM_ID_MAX] = "", delta[DIALECT_PARTIAL_MAX];
	struct json_object *v = dialect_get_typed(root, key, json_type_string);
	size_t used;

	get_item_id(root, id);
	if (!spa_streq(id, c->partial_item)) {
		snprintf(c->partial_item, sizeof(c->partial_item), "%s", id);
		c->partial[0] = '\0';
	}
	if (v != NULL) {
		dialect_copy_string(delta, sizeof(delta), v, false);
		used = strlen(c->partial);
		/* Cut at a character: copy_utf8 stops before one that does not fit. */
		dialect_copy_utf8(c->partial + used, sizeof(c->partial) - used, delta,
				strlen(delta), false);
	}
	add_text(out, c->partial, find_item(c, id), false);
}

static void on_completed(struct dialect_conn *c, struct json_object *root, const char *key,
		struct dialect_result *out)
{
	char id[DIALECT_ITEM_ID_MAX] = "", text[TOKEN_TEXT_MAX] = "";
	struct json_object *v = dialect_get_typed(root, key, json_type_string);
	struct dialect_item *it;

	get_item_id(root, id);
	it = find_item(c, id);
	if (v != NULL)
		dialect_copy_string(text, sizeof(text), v, false);
	add_text(out, text, it, true);
	if (spa_streq(id, c->partial_item))
		c->partial[0] = c->partial_item[0] = '\0';
	if (it != NULL) {
		it->pending = false;
		it->completed = true;
	}
	out->final_audio_proc_ms = committed_position(c);
	out->finished = pending_items(c) == 0;
}

static void on_committed(struct dialect_conn *c, struct json_object *root,
		struct dialect_result *out)
{
	char id[DIALECT_ITEM_ID_MAX];

	out->alive = true;
	if (get_item_id(root, id))
		item(c, id)->pending = true;
}

static enum err_class classify(const char *type, const char *code)
{
	if (spa_streq(code, "invalid_api_key") || spa_streq(type, "authentication_error"))
		return ERR_AUTH;
	/* The 60-minute cap: a new session at once. */
	if (spa_streq(code, "session_expired"))
		return ERR_TRANSIENT_NOW;
	if (spa_streq(type, "invalid_request_error") || spa_streq(code, "model_not_found") ||
	    spa_streq(code, "insufficient_quota") || spa_streq(type, "permission_error"))
		return ERR_FATAL;
	return ERR_TRANSIENT;	/* server_error, rate limits, what is new */
}

/* {"type":"error","error":{type,code,message,param}} (OpenAI) or
 * {"type":"error","error":"message","code":"slug"} (vLLM). A commit of an
 * empty buffer (a finalize in silence) is no error: nothing waits. */
static void on_error(struct dialect_conn *c, struct json_object *root, struct dialect_result *out)
{
	struct json_object *e = dialect_get_typed(root, "error", json_type_object), *v;
	char type[64] = "";

	if (e == NULL)
		e = root;
	if ((v = dialect_get_typed(e, "code", json_type_string)) != NULL)
		dialect_copy_string(out->error_type, sizeof(out->error_type), v, true);
	if ((v = dialect_get_typed(e, "type", json_type_string)) != NULL && e != root)
		dialect_copy_string(type, sizeof(type), v, true);
	if (spa_streq(out->error_type, "input_audio_buffer_commit_empty")) {
		out->error_type[0] = '\0';
		out->alive = true;
		out->finished = pending_items(c) == 0;
		return;
	}
	out->has_error = true;
	out->error_class = classify(type, out->error_type);
	if ((v = dialect_get_typed(e, "message", json_type_string)) != NULL ||
	    (v = dialect_get_typed(root, "error", json_type_string)) != NULL)
		dialect_copy_string(out->error_message, sizeof(out->error_message), v, true);
	if (out->error_message[0] == '\0')	/* absent or "" */
		snprintf(out->error_message, sizeof(out->error_message), "%s",
				out->error_type[0] ? out->error_type : "error without a message");
}

/* A transcription that failed loses that item's words: a new connection
 * hears them again from C. */
static void on_failed(struct json_object *root, struct dialect_result *out)
{
	struct json_object *e = dialect_get_typed(root, "error", json_type_object), *v;

	out->has_error = true;
	out->error_class = ERR_TRANSIENT;
	snprintf(out->error_type, sizeof(out->error_type), "transcription_failed");
	if (e != NULL && (v = dialect_get_typed(e, "message", json_type_string)) != NULL)
		dialect_copy_string(out->error_message, sizeof(out->error_message), v, true);
	if (out->error_message[0] == '\0')
		snprintf(out->error_message, sizeof(out->error_message), "the transcription of an "
				"item failed");
}

static void dispatch(struct dialect_conn *c, const char *t, struct json_object *root,
		struct dialect_result *out)
{
	if (spa_streq(t, "session.created") || spa_streq(t, "session.updated") ||
	    spa_streq(t, "transcription_session.created") ||
	    spa_streq(t, "transcription_session.updated"))
		out->ready = true;
	else if (spa_streq(t, "input_audio_buffer.speech_started"))
		on_speech(c, root, false, out);
	else if (spa_streq(t, "input_audio_buffer.speech_stopped"))
		on_speech(c, root, true, out);
	else if (spa_streq(t, "input_audio_buffer.committed"))
		on_committed(c, root, out);
	else if (spa_streq(t, "conversation.item.input_audio_transcription.delta"))
		on_delta(c, root, "delta", out);
	else if (spa_streq(t, "conversation.item.input_audio_transcription.completed"))
		on_completed(c, root, "transcript", out);
	else if (spa_streq(t, "conversation.item.input_audio_transcription.failed"))
		on_failed(root, out);
	else if (spa_streq(t, "transcription.delta"))	/* vLLM */
		on_delta(c, root, "delta", out);
	else if (spa_streq(t, "transcription.done"))	/* vLLM: the end of its stream */
		on_completed(c, root, "text", out);
	else if (spa_streq(t, "error"))
		on_error(c, root, out);
	else	/* conversation.item.created/added, rate limits, what is new */
		out->alive = true;
}

static int openai_parse(struct dialect_conn *conn, const char *msg, size_t len,
		struct dialect_result *out, char *err, size_t err_size)
{
	struct json_object *root, *type;

	spa_zero(*out);
	out->final_audio_proc_ms = -1;
	out->total_audio_proc_ms = -1;
	dialect_set_err(err, err_size, "%s", "");

	if (conn == NULL) {
		dialect_set_err(err, err_size, "openai-realtime: no connection state");
		return -EINVAL;
	}
	if ((root = dialect_parse_object("openai-realtime", msg, len, err, err_size)) == NULL)
		return -EINVAL;
	type = dialect_get_typed(root, "type", json_type_string);
	dispatch(conn, type != NULL ? json_object_get_string(type) : "", root, out);
	json_object_put(root);
	return 0;
}

const struct dialect_ops dialect_openai_realtime = {
	.name = "openai-realtime",
	.ready_without_ack = false,
	.max_session_sec = OPENAI_MAX_SESSION_SEC,
	.required_rate = OPENAI_RATE,
	.quiet_in_speech_ms = OPENAI_QUIET_IN_SPEECH_MS,
	.auth_header = openai_auth_header,
	.build_config = openai_build_config,
	.frame_audio = openai_frame_audio,
	.parse = openai_parse,
	.finalize = { .text = true, .len = sizeof(openai_commit) - 1, .data = openai_commit },
	.end_of_stream = { .text = true, .len = sizeof(openai_commit) - 1, .data = openai_commit },
	.keepalive_ms = 0,	/* none required */
};
