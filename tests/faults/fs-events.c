/* fs-events: see fs-events.h; the behaviour is documented at the top of
 * fault-server.c. */
#include "fs-events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-hostile.h"
#include "srv-log.h"

#define GARBAGE_TEXT	"fault-server garbage: this is not JSON }{ <tokens>"

/* One connection's faults (srv_conn_priv, the session hooks' priv). */
struct fs_conn {
	struct fault_spec spec;
	struct fault_item items[FAULT_MAX_ITEMS];	/* timed items, by at_ms */
	size_t n_items;
	bool opened;
	uint64_t next_log_s;		/* next "audio_ms" line at this second */
};

static void set_items(struct fs_conn *fc, const struct fault_spec *spec)
{
	fc->spec = *spec;
	/* stable insertion sort by at_ms: items crossing together keep their order */
	fc->n_items = 0;
	for (size_t i = 0; i < spec->n_items; i++) {
		size_t j = fc->n_items++;
		while (j > 0 && fc->items[j - 1].at_ms > spec->items[i].at_ms) {
			fc->items[j] = fc->items[j - 1];
			j--;
		}
		fc->items[j] = spec->items[i];
		fc->items[j].fired = false;
	}
}

static const char *error_type(int code)
{
	switch (code) {
	case 400: return "invalid_request";
	case 401: return "unauthenticated";
	case 402: return "payment_required";
	case 408: return "request_timeout";
	case 429: return "too_many_requests";
	case 500: return "internal_error";
	case 503: return "service_unavailable";
	default: return "error";
	}
}

static void push_garbage(struct sess *s, int64_t bytes)
{
	struct srv_out *o;

	sess_push(s, srv_out_new(SRV_OUT_TEXT, GARBAGE_TEXT, strlen(GARBAGE_TEXT)));
	o = srv_out_new(SRV_OUT_BINARY, NULL, (size_t)bytes);
	if (o)
		for (int64_t i = 0; i < bytes; i++)
			srv_out_payload(o)[i] = (unsigned char)(i * 151 + 7);
	sess_push(s, o);
}

/* A valid response padded to `bytes`: {"tokens":[],"padding":"xxx...",...} */
static void push_oversized(struct sess *s, int64_t bytes)
{
	const char *head = "{\"tokens\":[],\"padding\":\"";
	size_t hl = strlen(head), tl, pad;
	struct srv_out *o;
	char tail[128];

	tl = (size_t)snprintf(tail, sizeof(tail),
			      "\",\"final_audio_proc_ms\":%" PRIu64 ",\"total_audio_proc_ms\":%" PRIu64 "}",
			      sess_final_ms(s), sess_total_ms(s));
	pad = (size_t)bytes > hl + tl ? (size_t)bytes - hl - tl : 0;
	o = srv_out_new(SRV_OUT_TEXT, NULL, hl + pad + tl);
	if (o) {
		memcpy(srv_out_payload(o), head, hl);
		memset(srv_out_payload(o) + hl, 'x', pad);
		memcpy(srv_out_payload(o) + hl + pad, tail, tl);
	}
	sess_push(s, o);
}

static void push_kind(struct sess *s, enum srv_out_kind kind, int64_t for_ms)
{
	struct srv_out *o = srv_out_new(kind, NULL, 0);

	if (o)
		o->for_ms = for_ms;
	sess_push(s, o);
}

static void log_fire(struct sess *s, const struct fault_item *it)
{
	char value[32] = "";

	if (it->kind == FAULT_TIMES)
		snprintf(value, sizeof(value), "=%s", fault_times_name(it->variant));
	else if (it->kind == FAULT_RAWCLOSE && it->code < 0)
		snprintf(value, sizeof(value), "=%s", it->code == RAWCLOSE_SHORT ? "short" : "empty");
	else if (it->code || it->kind == FAULT_RAWCLOSE)
		snprintf(value, sizeof(value), "=%d", it->code);
	srv_log("conn=%u fault %s%s audio_ms=%" PRIu64, sess_id(s), fault_kind_name(it->kind), value,
		sess_audio_ms(s));
}

static void fire(struct sess *s, const struct fault_item *it)
{
	struct srv_error e;

	log_fire(s, it);
	if (fs_hostile_fire(s, it))
		return;
	switch (it->kind) {
	case FAULT_RST:
		push_kind(s, SRV_OUT_RST, 0);
		break;
	case FAULT_FIN:
		push_kind(s, SRV_OUT_FIN, 0);
		break;
	case FAULT_CLOSE:
		sess_close(s, it->code);
		break;
	case FAULT_ERROR:
		srv_error_set(&e, it->code, error_type(it->code), it->close_code,
			      "Fault injected by fault-server (error=%d).", it->code);
		sess_send_error(s, &e);
		break;
	case FAULT_LIMIT:
		srv_error_set(&e, it->code, error_type(it->code), it->close_code,
			      "Cannot continue request: session limit of %" PRId64
			      " ms of audio reached (fault-server limit).", it->at_ms);
		e.cap = true;
		sess_send_error(s, &e);
		break;
	case FAULT_STALL:
		push_kind(s, SRV_OUT_STALL, it->for_ms);
		sess_pause(s, true);
		break;
	case FAULT_MUTE:
		sess_mute(s);
		break;
	case FAULT_GARBAGE:
		push_garbage(s, it->bytes);
		break;
	case FAULT_OVERSIZED:
		push_oversized(s, it->bytes);
		break;
	default:
		break;
	}
}

/* Fires the items whose audio mark was crossed, once each, in order. */
static void check_faults(struct fs_conn *fc, struct sess *s)
{
	uint64_t ms = sess_audio_ms(s);

	if (!fc->opened)
		return;
	for (size_t i = 0; i < fc->n_items && !sess_done(s); i++) {
		struct fault_item *it = &fc->items[i];
		if (it->fired || (uint64_t)it->at_ms > ms)
			continue;
		it->fired = true;
		fire(s, it);
	}
}

static void hook_opened(void *priv, struct sess *s)
{
	struct fs_conn *fc = priv;

	fc->opened = true;
	check_faults(fc, s);
}

static void hook_configured(void *priv, struct sess *s)
{
	check_faults(priv, s);
}

static void hook_audio(void *priv, struct sess *s)
{
	struct fs_conn *fc = priv;
	uint64_t ms = sess_audio_ms(s);

	if (ms / 1000 >= fc->next_log_s) {
		srv_log("conn=%u audio_ms=%" PRIu64, sess_id(s), ms);
		fc->next_log_s = ms / 1000 + 1;
	}
	check_faults(fc, s);
}

static void hook_control(void *priv, struct sess *s, enum srv_ctl ctl)
{
	if (ctl == SRV_CTL_KEEPALIVE)
		srv_log("conn=%u keepalive", sess_id(s));
	else if (ctl == SRV_CTL_FINALIZE)
		srv_log("conn=%u finalize audio_ms=%" PRIu64, sess_id(s), sess_audio_ms(s));
}

const struct sess_hooks fs_hooks = {
	.opened = hook_opened,
	.configured = hook_configured,
	.audio = hook_audio,
	.control = hook_control,
};

static void *ev_accept(void *data, struct srv_conn *c, int64_t *delay_ms)
{
	struct fs_state *st = data;
	const struct fault_spec *spec = fault_table_get(st->faults, srv_conn_id(c));
	struct fs_conn *fc = calloc(1, sizeof(*fc));
	struct fault_spec none;

	if (!spec) {
		fault_parse("", &none, NULL, 0);
		spec = &none;
	}
	srv_log("conn=%u accept peer=%s port=%u faults=%s", srv_conn_id(c), srv_conn_peer_ip(c),
		srv_conn_peer_port(c), spec->text[0] ? spec->text : "none");
	if (!fc) {
		srv_log("conn=%u error what=out-of-memory", srv_conn_id(c));
		return NULL;
	}
	set_items(fc, spec);
	fc->next_log_s = 1;
	srv_conn_set_idle(c, spec->idle_ms);
	if (spec->delay_accept_ms > 0) {
		srv_log("conn=%u fault delay_accept=%" PRId64, srv_conn_id(c), spec->delay_accept_ms);
		*delay_ms = spec->delay_accept_ms;
	}
	return fc;
}

static void ev_count(void *data, unsigned open)
{
	struct fs_state *st = data;

	srv_log("connections open=%u", open);
	if (open == 0)
		st->idle_since_us = srv_now_us();
}

/* ok/missing/bad as a client sees it: without --key a header is "ok". */
static const char *auth_word(const struct srv_conn *c)
{
	switch (srv_conn_auth(c)) {
	case SRV_AUTH_OK:	return "ok";
	case SRV_AUTH_BAD:	return "bad";
	case SRV_AUTH_MISSING:	return "missing";
	case SRV_AUTH_NONE:	break;
	}
	return srv_conn_auth_header(c) ? "ok" : "missing";
}

static int ev_upgrade(void *data, struct srv_conn *c, int *retry_after)
{
	struct fs_state *st = data;
	struct fs_conn *fc = srv_conn_priv(c);

	srv_log("conn=%u upgrade path=%s auth=%s", srv_conn_id(c), srv_conn_path(c), auth_word(c));
	if (fc && fc->spec.http_status) {
		if (fc->spec.retry_after >= 0)
			srv_log("conn=%u fault http=%d retry_after=%d", srv_conn_id(c),
				fc->spec.http_status, fc->spec.retry_after);
		else
			srv_log("conn=%u fault http=%d", srv_conn_id(c), fc->spec.http_status);
		*retry_after = fc->spec.retry_after;
		return fc->spec.http_status;
	}
	if (st->auth_http && st->key && srv_conn_auth(c) != SRV_AUTH_OK) {
		srv_log("conn=%u reject http=401 reason=auth", srv_conn_id(c));
		return 401;
	}
	return 0;
}

static void ev_open(void *data, struct srv_conn *c)
{
	srv_log("conn=%u open path=%s auth=%s", srv_conn_id(c), srv_conn_path(c), auth_word(c));
}

static void ev_peer_close(void *data, struct srv_conn *c, int code)
{
	srv_log("conn=%u peer-close code=%d", srv_conn_id(c), code);
}

static void ev_idle(void *data, struct srv_conn *c, int64_t idle_ms)
{
	srv_log("conn=%u fault idle=%" PRId64 " audio_ms=%" PRIu64, srv_conn_id(c), idle_ms,
		srv_conn_audio_ms(c));
}

/* code: the close code we sent, else the one received, else 1006 (no
 * close frame); 0 if the connection never upgraded. */
static void ev_closed(void *data, struct srv_conn *c)
{
	const char *by = srv_conn_killed(c) ? "server" : "peer";
	int code = 1006;

	if (!srv_conn_upgraded(c)) {
		code = 0;
		by = srv_conn_http_status(c) || srv_conn_killed(c) ? "server" : "peer";
	} else if (srv_conn_our_code(c)) {
		code = srv_conn_our_code(c);
		by = "server";
	} else if (srv_conn_peer_code(c)) {
		code = srv_conn_peer_code(c);
		by = "peer";
	}
	if (srv_conn_http_status(c))
		srv_log("conn=%u closed code=%d by=%s http=%d", srv_conn_id(c), code, by,
			srv_conn_http_status(c));
	else
		srv_log("conn=%u closed code=%d by=%s audio_ms=%" PRIu64, srv_conn_id(c), code, by,
			srv_conn_audio_ms(c));
	free(srv_conn_priv(c));
}

static void ev_tick(void *data, int64_t now_us)
{
	struct fs_state *st = data;

	if (st->quit_after_idle_s > 0 && srv_open_count(st->srv) == 0 &&
	    now_us - st->idle_since_us >= (int64_t)st->quit_after_idle_s * 1000000)
		srv_quit(st->srv, "idle");
}

static void ev_wake(void *data)
{
	struct fs_state *st = data;

	if (st->wake)
		st->wake();
}

const struct srv_events fs_events = {
	.accept = ev_accept,
	.upgrade = ev_upgrade,
	.open = ev_open,
	.peer_close = ev_peer_close,
	.idle = ev_idle,
	.closed = ev_closed,
	.count = ev_count,
	.tick = ev_tick,
	.wake = ev_wake,
};

struct recheck {
	struct fs_conn *fc;
};

static void recheck(struct sess *s, void *arg)
{
	check_faults(((struct recheck *)arg)->fc, s);
}

int fs_set_fault(struct fs_state *st, const char *arg, char *err, size_t errlen, unsigned *index)
{
	struct fault_spec spec;
	const char *colon = strchr(arg, ':');
	struct srv_conn *c;
	struct fs_conn *fc;
	struct recheck *rc;
	char *end;
	unsigned long n;

	if (!colon) {
		snprintf(err, errlen, "expected <N|next|all>:<SPEC>");
		return -1;
	}
	if (!strncmp(arg, "all:", 4)) {
		n = FAULT_INDEX_ALL;
	} else if (!strncmp(arg, "next:", 5)) {
		n = (st->srv ? srv_accepted_count(st->srv) : 0) + 1;
	} else {
		n = strtoul(arg, &end, 10);
		if (end != colon || n == 0 || n > 1000000) {
			snprintf(err, errlen, "bad connection index (1-based number, next or all)");
			return -1;
		}
	}
	if (fault_parse(colon + 1, &spec, err, errlen) < 0)
		return -1;
	if (fault_table_set(st->faults, (unsigned)n, &spec) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*index = (unsigned)n;
	c = n != FAULT_INDEX_ALL && st->srv ? srv_conn_find(st->srv, (unsigned)n) : NULL;
	fc = c ? srv_conn_priv(c) : NULL;
	if (!fc)
		return 0;
	set_items(fc, &spec);
	srv_conn_set_idle(c, spec.idle_ms);
	rc = malloc(sizeof(*rc));
	if (rc) {
		rc->fc = fc;
		srv_conn_call(c, recheck, rc);
	}
	return 0;
}
