/* srv-dialect-deepgram: Deepgram's live streaming (/v1/listen) as a server
 * speaks it (PROTOCOLS.md B; doc/protocols/deepgram.md).
 *
 *   - Auth on the upgrade: "Authorization: Token <key>" (or "Bearer <jwt>");
 *     a bad or missing one is HTTP 401 with {"err_code","err_msg",
 *     "request_id"} and a dg-error header, as is a bad query (400).
 *   - Config in the query: encoding=linear16 and sample_rate are required,
 *     channels (1|2), model, interim_results, endpointing (false or ms),
 *     diarize. No config message; audio in binary messages.
 *   - Text controls: KeepAlive, Finalize, CloseStream (end of stream).
 *   - Results: {"type":"Results","start":S,"duration":D,"is_final":..} in
 *     seconds on the connection's clock. A final one covers the audio that
 *     became final since the previous one (start+duration = the audio
 *     final so far: the client's committed position), with its words, also
 *     while nothing is said; speech_final when an utterance ended,
 *     from_finalize after Finalize. Interim ones (interim_results=true)
 *     cover the audio after it. After CloseStream: the last final Results,
 *     a Metadata message, close 1000.
 *   - Errors: a close frame whose reason names them (1008 "DATA-0000 ..."
 *     bad data, 1011 "NET-0001 ..." idle, 1011 "NET-0000 ..." internal).
 */
#include "srv-dialect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv-dialect-json.h"

#define MIN_RATE		8000
#define MAX_RATE		48000
#define MAX_CHANNELS		2
#define CLOSE_NORMAL		1000
#define CLOSE_POLICY		1008
#define CLOSE_INTERNAL		1011
#define ARG_MAX			128

static void request_id(const struct srv_dialect_state *st, char *buf, size_t size)
{
	snprintf(buf, size, "00000000-0000-4000-8000-%012x", st->conn_id);
}

/* name=value of the query (args joined by '&'), copied into val. */
static bool query_get(const char *query, const char *name, char *val, size_t size)
{
	size_t n = strlen(name);

	for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) || p[n] != '=')
			continue;
		p += n + 1;
		n = strcspn(p, "&");
		if (n >= size)
			n = size - 1;
		memcpy(val, p, n);
		val[n] = '\0';
		return true;
	}
	return false;
}

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static int bad_query(struct srv_error *err, const char *what)
{
	srv_error_set(err, 400, "invalid_request", CLOSE_POLICY, "%s", what);
	return -1;
}

static int deepgram_parse_request(const char *query, struct srv_stream_cfg *cfg,
				  struct srv_error *err)
{
	char v[ARG_MAX];

	if (!query_get(query, "encoding", v, sizeof(v)) || strcmp(v, "linear16"))
		return bad_query(err, "Invalid encoding: only encoding=linear16 (raw 16-bit "
				 "little-endian PCM) is supported.");
	if (!query_get(query, "sample_rate", v, sizeof(v)) ||
	    !parse_uint(v, MIN_RATE, MAX_RATE, &cfg->rate))
		return bad_query(err, "Invalid sample_rate: an integer in 8000..48000 is required "
				 "with encoding=linear16.");
	cfg->channels = 1;
	if (query_get(query, "channels", v, sizeof(v)) &&
	    !parse_uint(v, 1, MAX_CHANNELS, &cfg->channels))
		return bad_query(err, "Invalid channels: 1 or 2.");
	dj_copy_model(cfg->model, sizeof(cfg->model),
		      query_get(query, "model", v, sizeof(v)) ? v : NULL);
	cfg->interim = query_get(query, "interim_results", v, sizeof(v)) && !strcmp(v, "true");
	cfg->endpoint = !query_get(query, "endpointing", v, sizeof(v)) || strcmp(v, "false");
	cfg->diarize = query_get(query, "diarize", v, sizeof(v)) && !strcmp(v, "true");
	return 0;
}

static enum srv_ctl deepgram_parse_control(const char *msg, size_t len, struct srv_audio *audio,
					   struct srv_error *err)
{
	json_object *o = dj_parse_whole(msg, len);
	const char *type = o ? dj_get_string(o, "type") : NULL;
	enum srv_ctl ctl = SRV_CTL_INVALID;

	(void)audio;
	if (type && !strcmp(type, "KeepAlive"))
		ctl = SRV_CTL_KEEPALIVE;
	else if (type && !strcmp(type, "Finalize"))
		ctl = SRV_CTL_FINALIZE;
	else if (type && !strcmp(type, "CloseStream"))
		ctl = SRV_CTL_END;
	else
		srv_error_set(err, 400, "invalid_request", CLOSE_POLICY,
			      "Text messages must be {\"type\":\"KeepAlive\"}, {\"type\":\"Finalize\"} "
			      "or {\"type\":\"CloseStream\"}.");
	json_object_put(o);
	return ctl;
}

static int speaker_number(const char *label)
{
	int n = atoi(label);

	return n > 0 ? n - 1 : 0;	/* Deepgram counts speakers from 0 */
}

/* One Results message over [start_ms, end_ms) with the words (markers
 * give speech_final/from_finalize). */
static int push_results(struct srv_outq *q, const struct srv_stream_cfg *cfg,
			const struct srv_dialect_state *st, const struct srv_word *w, size_t n,
			uint64_t start_ms, uint64_t end_ms, bool final)
{
	json_object *o = json_object_new_object(), *ch = json_object_new_object();
	json_object *alt = json_object_new_object(), *alts = json_object_new_array();
	json_object *words = json_object_new_array(), *idx = json_object_new_array();
	json_object *meta = json_object_new_object();
	char transcript[4096] = "", id[64];
	size_t used = 0;
	bool speech_final = false, from_finalize = false;
	double conf = 0;
	unsigned nw = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *jw;

		if (w[i].kind == SRV_MARK_END)
			speech_final = true;
		if (w[i].kind == SRV_MARK_FIN)
			from_finalize = true;
		if (w[i].kind != SRV_WORD)
			continue;
		jw = json_object_new_object();
		json_object_object_add(jw, "word", json_object_new_string(w[i].text));
		json_object_object_add(jw, "start", dj_fixed((double)w[i].start_ms / 1000, 3));
		json_object_object_add(jw, "end", dj_fixed((double)w[i].end_ms / 1000, 3));
		json_object_object_add(jw, "confidence",
				       dj_fixed(w[i].confidence >= 0 ? w[i].confidence : 0, 3));
		json_object_object_add(jw, "punctuated_word", json_object_new_string(w[i].text));
		if (cfg->diarize && w[i].speaker[0])
			json_object_object_add(jw, "speaker",
					       json_object_new_int(speaker_number(w[i].speaker)));
		json_object_array_add(words, jw);
		used += (size_t)snprintf(transcript + used, used < sizeof(transcript) ?
					 sizeof(transcript) - used : 0, "%s%s", nw ? " " : "", w[i].text);
		if (used >= sizeof(transcript))
			used = sizeof(transcript) - 1;
		conf += w[i].confidence >= 0 ? w[i].confidence : 0;
		nw++;
	}
	json_object_object_add(alt, "transcript", json_object_new_string(transcript));
	json_object_object_add(alt, "confidence", dj_fixed(nw ? conf / nw : 0, 3));
	json_object_object_add(alt, "words", words);
	json_object_array_add(alts, alt);
	json_object_object_add(ch, "alternatives", alts);
	json_object_array_add(idx, json_object_new_int(0));
	json_object_array_add(idx, json_object_new_int(1));
	json_object_object_add(o, "type", json_object_new_string("Results"));
	json_object_object_add(o, "channel_index", idx);
	json_object_object_add(o, "duration", dj_fixed((double)(end_ms - start_ms) / 1000, 3));
	json_object_object_add(o, "start", dj_fixed((double)start_ms / 1000, 3));
	json_object_object_add(o, "is_final", json_object_new_boolean(final));
	json_object_object_add(o, "speech_final", json_object_new_boolean(speech_final));
	json_object_object_add(o, "from_finalize", json_object_new_boolean(from_finalize));
	json_object_object_add(o, "channel", ch);
	request_id(st, id, sizeof(id));
	json_object_object_add(meta, "request_id", json_object_new_string(id));
	json_object_object_add(meta, "model_uuid", json_object_new_string(id));
	json_object_object_add(o, "metadata", meta);
	return dj_push(q, o);
}

static int push_metadata(struct srv_outq *q, const struct srv_stream_cfg *cfg,
			 const struct srv_dialect_state *st, uint64_t total_ms)
{
	json_object *o = json_object_new_object();
	char id[64];

	request_id(st, id, sizeof(id));
	json_object_object_add(o, "type", json_object_new_string("Metadata"));
	json_object_object_add(o, "request_id", json_object_new_string(id));
	json_object_object_add(o, "duration", dj_fixed((double)total_ms / 1000, 3));
	json_object_object_add(o, "channels", json_object_new_int((int)cfg->channels));
	return dj_push(q, o);
}

static int deepgram_result(const struct srv_result *r, const struct srv_stream_cfg *cfg,
			   struct srv_dialect_state *st, struct srv_outq *q)
{
	int rc = 0;

	if (r->n_finals > 0 || r->final_ms > r->prev_final_ms || r->finished)
		rc |= push_results(q, cfg, st, r->finals, r->n_finals, r->prev_final_ms,
				   r->final_ms > r->prev_final_ms ? r->final_ms : r->prev_final_ms, true);
	if (cfg->interim && r->n_partials > 0 && !r->finished)
		rc |= push_results(q, cfg, st, r->partials, r->n_partials, r->final_ms,
				   r->total_ms > r->final_ms ? r->total_ms : r->final_ms, false);
	if (r->finished)
		rc |= push_metadata(q, cfg, st, r->total_ms);
	return rc ? -1 : 0;
}

/* Deepgram's error codes ride in the close reason. */
static const char *error_tag(const struct srv_error *e)
{
	if (e->code == 408)
		return "NET-0001";
	if (e->code >= 500 || e->cap)
		return "NET-0000";
	if (e->code == 401)
		return "INVALID_AUTH";
	if (e->code == 402)
		return "INSUFFICIENT_CREDITS";
	if (e->code == 429)
		return "TOO_MANY_REQUESTS";
	return "DATA-0000";
}

static int deepgram_error(const struct srv_error *e, struct srv_dialect_state *st,
			  struct srv_outq *q)
{
	char reason[SRV_ERROR_MSG_MAX + 32];
	int close = e->close;

	(void)st;
	if (close == CLOSE_NORMAL)	/* an error never closes "normally" here */
		close = e->code >= 500 || e->code == 408 || e->code == 429 || e->cap ?
			CLOSE_INTERNAL : CLOSE_POLICY;
	snprintf(reason, sizeof(reason), "%s %s", error_tag(e), e->message);
	return srv_dialect_close(q, close, reason);
}

static int deepgram_http_body(int status, const char *msg, char *buf, size_t size)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "err_code", json_object_new_string(
		status == 401 ? "INVALID_AUTH" : status == 400 ? "Bad Request" :
		status == 429 ? "TOO_MANY_REQUESTS" : "REQUEST_FAILED"));
	json_object_object_add(o, "err_msg", json_object_new_string(msg));
	json_object_object_add(o, "request_id",
			       json_object_new_string("00000000-0000-4000-8000-000000000000"));
	return dj_print(o, buf, size);
}

const struct srv_dialect srv_dialect_deepgram = {
	.name = "deepgram",
	.parse_request = deepgram_parse_request,
	.parse_config = NULL,
	.parse_control = deepgram_parse_control,
	.config_optional = false,
	.key_in_config = false,
	.auth_token = true,
	.empty_binary_ends = false,	/* the legacy close; docs: do not send it */
	.binary_audio = true,
	.result = deepgram_result,
	.error = deepgram_error,
	.http_body = deepgram_http_body,
	.http_error_header = "dg-error",
};
