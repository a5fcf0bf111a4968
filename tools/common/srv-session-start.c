/* srv-session-start: how a session's stream begins (see srv-session.h):
 * the request's config, an optional or required first message, the key,
 * the rate, a stream slot, the recognizer and the dialect's ack. */
#include "srv-session-int.h"

#include <stdio.h>
#include <string.h>

#include "srv-key.h"
#include "srv-log.h"

/* The config's api_key may stand in for a missing or wrong header. */
static bool authorized(const struct sess *s)
{
	const char *k = s->cfg.api_key;

	if (!s->p->key || s->auth == SRV_AUTH_OK)
		return true;
	return k && key_matches(s->p->key, k, strlen(k));
}

static int check_rate(struct sess *s)
{
	struct srv_error e;
	unsigned want = s->rc->rate;

	/* Clients resample (the PipeWire module's adapter does): no
	 * hand-written resampler here. */
	if (!want || s->cfg.rate == want)
		return 0;
	srv_error_set(&e, 400, "invalid_config", CLOSE_NORMAL,
		      "Unsupported sample_rate %u: the %s model needs %u Hz "
		      "(set audio.rate = %u; PipeWire resamples for you).",
		      s->cfg.rate, s->rc->name, want, want);
	sess_send_error(s, &e);
	return -1;
}

/* Only a client with the key and a valid config gets a recognizer. */
static int take_slot(struct sess *s)
{
	struct srv_slots *sl = s->p->slots;
	bool ok;

	if (!sl)
		return 0;
	pthread_mutex_lock(&sl->lock);
	ok = sl->used < sl->max;
	if (ok)
		sl->used++;
	pthread_mutex_unlock(&sl->lock);
	if (!ok) {
		sess_fail(s, 429, "too_many_requests", CLOSE_NORMAL,
		     "Too many concurrent streams on this server; try again later.");
		return -1;
	}
	s->has_slot = true;
	return 0;
}

/* The stream's config is known: check the key, the rate and the slots,
 * then start the recognizer and ack (where the dialect has an ack). */
static void start_stream(struct sess *s)
{
	struct srv_stream_params sp;
	struct srv_outq q = { 0 };

	if (!authorized(s)) {
		sess_fail(s, 401, "unauthenticated", CLOSE_NORMAL, s->auth == SRV_AUTH_MISSING ?
		     "Missing API key: send \"Authorization: Bearer <key>\" or \"api_key\"." :
		     "Invalid API key.");
		return;
	}
	if (check_rate(s) || take_slot(s))
		return;
	srv_log("conn=%u config rate=%u channels=%u model=%s endpoint=%d auth=%s", s->id,
		s->cfg.rate, s->cfg.channels, s->cfg.model, s->cfg.endpoint,
		!s->p->key ? "none" : s->auth == SRV_AUTH_OK ? "header" : "api_key");
	memset(&sp, 0, sizeof(sp));
	sp.conn_id = s->id;
	sp.rate = s->cfg.rate;
	sp.diarize = s->cfg.diarize;
	s->rec = s->rc->open(s->p->rec_ctx, &sp);
	if (!s->rec) {
		sess_fail(s, 500, "internal_error", CLOSE_INTERNAL,
		     "The speech recognizer could not be started; see the server log.");
		return;
	}
	s->init_ms = sp.init_ms;
	s->ready_cpu_ms = sess_thread_cpu_ms();
	s->state = ST_STREAMING;
	if (s->p->dialect->configured)
		sess_push_dialect(s, &q, s->p->dialect->configured(&s->cfg, &s->dst, &q));
	if (s->p->hooks && s->p->hooks->configured)
		s->p->hooks->configured(s->priv, s);
}

static void on_config(struct sess *s, const char *msg, size_t len)
{
	struct srv_error e;
	int rc = s->p->dialect->parse_config(msg, len, &s->cfg, &e);

	if (rc == -1) {
		sess_send_error(s, &e);
		return;
	}
	if (rc < 0 && authorized(s)) {
		sess_send_error(s, &e);
		return;
	}
	start_stream(s);
}

void sess_open(struct sess *s, const char *query)
{
	const struct srv_dialect *d = s->p->dialect;
	struct srv_outq q = { 0 };
	struct srv_error e;

	s->dst.conn_id = s->id;
	if (d->opened)
		sess_push_dialect(s, &q, d->opened(&s->dst, &q));
	if (d->parse_request && d->parse_request(query ? query : "", &s->cfg, &e) < 0) {
		sess_send_error(s, &e);	/* the upgrade checked it: not expected */
		return;
	}
	if (s->p->hooks && s->p->hooks->opened)
		s->p->hooks->opened(s->priv, s);
	if (!d->parse_config && s->state == ST_CONFIG)
		start_stream(s);
}

/* Audio before any config: the dialect's defaults, where it has them. */
bool sess_ready_for_audio(struct sess *s)
{
	if (s->state == ST_CONFIG && s->p->dialect->config_optional)
		start_stream(s);
	if (s->state == ST_CONFIG)
		sess_fail(s, 400, "invalid_request", CLOSE_NORMAL,
		     "Audio received before the configuration message.");
	return s->state == ST_STREAMING;
}

/* Before the stream is configured: true when msg was taken as the config
 * (or refused); false lets the control be acted on. */
bool sess_config_first(struct sess *s, enum srv_ctl ctl, const char *msg, size_t len)
{
	if (s->state != ST_CONFIG)
		return false;
	if (ctl == SRV_CTL_CONFIG || !s->p->dialect->config_optional) {
		on_config(s, msg, len);
		return true;
	}
	if (ctl == SRV_CTL_AUDIO)
		return false;	/* ready_for_audio() */
	if (ctl != SRV_CTL_INVALID)
		start_stream(s);
	return false;
}

