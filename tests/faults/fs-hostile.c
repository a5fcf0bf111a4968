/* fs-hostile: see fs-hostile.h. */
#include "fs-hostile.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TWO_40			1099511627775LL		/* 2^40 - 1 */
#define TOKEN_ROOM		256	/* bytes of one token object, at most */
#define HEAD			"{\"tokens\":["
#define CLOSE_REASON		"fault-server"

/* One final token " <text>" with raw start/end JSON values. */
static int token(char *out, size_t room, const char *text, const char *start, const char *end,
		 bool final)
{
	return snprintf(out, room, "{\"text\":\" %s\",\"start_ms\":%s,\"end_ms\":%s,%s\"is_final\":%s}",
			text, start, end, final ? "\"confidence\":0.99," : "",
			final ? "true" : "false");
}

/* {"tokens":[<toks>],"final_audio_proc_ms":F,"total_audio_proc_ms":T} */
static int response(char *out, size_t room, const char *toks, int64_t fin, int64_t total)
{
	return snprintf(out, room, HEAD "%s],\"final_audio_proc_ms\":%" PRId64
			",\"total_audio_proc_ms\":%" PRId64 "}", toks, fin, total);
}

static void push_text(struct sess *s, const char *text)
{
	sess_push(s, srv_out_new(SRV_OUT_TEXT, text, strlen(text)));
}

/* 100k final tokens "t<i>" in one message, spread over the audio. */
static void push_tokens(struct sess *s, int64_t count)
{
	size_t room = (size_t)count * TOKEN_ROOM + 256, n = 0;
	struct srv_out *o = srv_out_new_cap(SRV_OUT_TEXT, NULL, 0, room);
	int64_t total = (int64_t)sess_total_ms(s);
	char *p, t[32], a[32], b[32];

	if (!o) {
		sess_push(s, NULL);
		return;
	}
	p = (char *)srv_out_payload(o);
	n += (size_t)snprintf(p, room, HEAD);
	for (int64_t i = 0; i < count && n + TOKEN_ROOM < room; i++) {
		snprintf(t, sizeof(t), "t%" PRId64, i);
		snprintf(a, sizeof(a), "%" PRId64, total * i / count);
		snprintf(b, sizeof(b), "%" PRId64, total * (i + 1) / count);
		n += (size_t)token(p + n, TOKEN_ROOM, t, a, b, true);
		if (i + 1 < count)
			p[n++] = ',';
	}
	n += (size_t)snprintf(p + n, room - n, "],\"final_audio_proc_ms\":%" PRId64
			      ",\"total_audio_proc_ms\":%" PRId64 "}", total, total);
	o->len = n < room ? n : room;
	sess_push(s, o);
}

static void push_times(struct sess *s, int variant)
{
	static const char *const raw[][2] = {
		[TIMES_HUGE] = { "1099511627774", "1099511627775" },
		[TIMES_NEGATIVE] = { "-5000", "-4000" },
		[TIMES_REVERSED] = { "5000", "100" },
		[TIMES_FLOAT] = { "1.5e300", "1.6e300" },
		[TIMES_STRING] = { "\"abc\"", "\"def\"" },
	};
	int64_t total = (int64_t)sess_total_ms(s), fin = (int64_t)sess_final_ms(s);
	char tok[TOKEN_ROOM], msg[2 * TOKEN_ROOM], a[32], b[32];
	int64_t base = total > 1200 ? total : 1200;

	switch (variant) {
	case TIMES_BEYOND:
		snprintf(a, sizeof(a), "%" PRId64, total + 600000);
		snprintf(b, sizeof(b), "%" PRId64, total + 600500);
		token(tok, sizeof(tok), "beyond", a, b, true);
		break;
	case TIMES_DECREASING:
		snprintf(a, sizeof(a), "%" PRId64, base - 200);
		snprintf(b, sizeof(b), "%" PRId64, base - 100);
		token(tok, sizeof(tok), "late", a, b, true);
		response(msg, sizeof(msg), tok, fin, total);
		push_text(s, msg);
		snprintf(a, sizeof(a), "%" PRId64, base - 1200);
		snprintf(b, sizeof(b), "%" PRId64, base - 1100);
		token(tok, sizeof(tok), "early", a, b, true);
		break;
	case TIMES_PROGRESS:
		response(msg, sizeof(msg), "", TWO_40, TWO_40);
		push_text(s, msg);
		return;
	default:
		token(tok, sizeof(tok), "absurd", raw[variant][0], raw[variant][1], true);
		break;
	}
	response(msg, sizeof(msg), tok, fin, total);
	push_text(s, msg);
}

static void push_badutf8(struct sess *s)
{
	char tok[TOKEN_ROOM], msg[2 * TOKEN_ROOM], a[32];

	snprintf(a, sizeof(a), "%" PRIu64, sess_total_ms(s));
	token(tok, sizeof(tok), "bad\xff\xfe\xc0utf8", a, a, true);
	response(msg, sizeof(msg), tok, (int64_t)sess_final_ms(s), (int64_t)sess_total_ms(s));
	push_text(s, msg);
}

/* Message i of a flood: arg[0] = kind, [1] = count, [2] = total, [3] = step. */
static void refill_flood(struct srv_out *o)
{
	int64_t i = (int64_t)o->index, count = o->arg[1], total = o->arg[2], step = o->arg[3];
	char tok[TOKEN_ROOM], t[32], a[32], b[32];
	bool final = o->arg[0] == FAULT_FINALS;

	if (final && step > 0) {
		snprintf(a, sizeof(a), "%" PRId64, total + i * step);
		snprintf(b, sizeof(b), "%" PRId64, total + (i + 1) * step);
	} else if (final) {
		snprintf(a, sizeof(a), "%" PRId64, total * i / count);
		snprintf(b, sizeof(b), "%" PRId64, total * (i + 1) / count);
	} else {
		snprintf(a, sizeof(a), "%" PRId64, total);
		snprintf(b, sizeof(b), "%" PRId64, total + 100);
	}
	snprintf(t, sizeof(t), "%s%" PRId64, final ? "f" : "p", i);
	token(tok, sizeof(tok), t, a, b, final);
	o->len = (size_t)response((char *)srv_out_payload(o), o->cap, tok,
				  final ? total : (int64_t)0, total);
}

static void push_flood(struct sess *s, const struct fault_item *it)
{
	struct srv_out *o = srv_out_new_cap(SRV_OUT_TEXT, NULL, 0, 2 * TOKEN_ROOM);

	if (o) {
		o->arg[0] = it->kind;
		o->arg[1] = it->count;
		o->arg[2] = (int64_t)sess_total_ms(s);
		o->arg[3] = it->step;
		o->repeat = (uint64_t)it->count - 1;
		o->refill = refill_flood;
		refill_flood(o);
	}
	sess_push(s, o);
}

static void refill_ping(struct srv_out *o)
{
	o->len = (size_t)snprintf((char *)srv_out_payload(o), o->cap, "ping %" PRIu64, o->index);
}

static void push_pings(struct sess *s, int64_t count)
{
	struct srv_out *o = srv_out_new_cap(SRV_OUT_PING, NULL, 0, 32);

	if (o) {
		o->repeat = (uint64_t)count - 1;
		o->refill = refill_ping;
		refill_ping(o);
	}
	sess_push(s, o);
}

/* code 0..65535 + reason, one byte, or nothing; the session ends. */
static void push_rawclose(struct sess *s, int code)
{
	unsigned char p[2 + sizeof(CLOSE_REASON)];
	size_t n = 0;

	if (code == RAWCLOSE_SHORT) {
		p[n++] = 0x03;
	} else if (code != RAWCLOSE_EMPTY) {
		p[n++] = (unsigned char)(code >> 8);
		p[n++] = (unsigned char)code;
		memcpy(p + n, CLOSE_REASON, strlen(CLOSE_REASON));
		n += strlen(CLOSE_REASON);
	}
	sess_push(s, srv_out_new(SRV_OUT_RAW_CLOSE, p, n));	/* ends the session */
}

static void push_bigbinary(struct sess *s, const struct fault_item *it)
{
	sess_push(s, srv_out_new(SRV_OUT_BINARY, NULL, (size_t)it->bytes));
}

static void fire_tokens(struct sess *s, const struct fault_item *it) { push_tokens(s, it->count); }
static void fire_times(struct sess *s, const struct fault_item *it) { push_times(s, it->variant); }
static void fire_badutf8(struct sess *s, const struct fault_item *it) { push_badutf8(s); }
static void fire_pings(struct sess *s, const struct fault_item *it) { push_pings(s, it->count); }
static void fire_rawclose(struct sess *s, const struct fault_item *it) { push_rawclose(s, it->code); }

static void (*const fire_fn[])(struct sess *s, const struct fault_item *it) = {
	[FAULT_BIGBINARY] = push_bigbinary,
	[FAULT_TOKENS] = fire_tokens,
	[FAULT_TIMES] = fire_times,
	[FAULT_BADUTF8] = fire_badutf8,
	[FAULT_PARTIALS] = push_flood,
	[FAULT_FINALS] = push_flood,
	[FAULT_PINGS] = fire_pings,
	[FAULT_RAWCLOSE] = fire_rawclose,
};

bool fs_hostile_fire(struct sess *s, const struct fault_item *it)
{
	if ((size_t)it->kind >= sizeof(fire_fn) / sizeof(fire_fn[0]) || !fire_fn[it->kind])
		return false;
	fire_fn[it->kind](s, it);
	return true;
}
