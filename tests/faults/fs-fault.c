/* fs-fault: fault spec parser and per-connection table. */
#include "fs-fault.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_GARBAGE_BYTES	(1024 * 1024)
#define DEFAULT_OVERSIZED_BYTES	(1024 * 1024)
#define MAX_FRAME_BYTES		(64 * 1024 * 1024)
#define MAX_FLOOD		10000000	/* messages in one flood item */
#define DEFAULT_CLOSE_AFTER_ERR	1000

static const char *const kind_names[] = {
	[FAULT_RST] = "rst",
	[FAULT_FIN] = "fin",
	[FAULT_CLOSE] = "close",
	[FAULT_ERROR] = "error",
	[FAULT_LIMIT] = "limit",
	[FAULT_STALL] = "stall",
	[FAULT_MUTE] = "mute",
	[FAULT_GARBAGE] = "garbage",
	[FAULT_OVERSIZED] = "oversized",
	[FAULT_BIGBINARY] = "bigbinary",
	[FAULT_TOKENS] = "tokens",
	[FAULT_TIMES] = "times",
	[FAULT_BADUTF8] = "badutf8",
	[FAULT_PARTIALS] = "partials",
	[FAULT_FINALS] = "finals",
	[FAULT_PINGS] = "pings",
	[FAULT_RAWCLOSE] = "rawclose",
};

const char *fault_kind_name(enum fault_kind k)
{
	if ((size_t)k < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[k])
		return kind_names[k];
	return "?";
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* One item split in place: name, value (or NULL), at (or NULL), params. */
struct raw_item {
	char *name, *value, *at;
	char *params[4];
	size_t n_params;
};

static int split_item(char *s, struct raw_item *ri, char *err, size_t errlen)
{
	char *semi, *p;

	memset(ri, 0, sizeof(*ri));
	semi = strchr(s, ';');
	if (semi) {
		*semi++ = '\0';
		while (semi) {
			if (ri->n_params == sizeof(ri->params) / sizeof(ri->params[0]))
				return fail(err, errlen, "too many ';' parameters");
			ri->params[ri->n_params++] = semi;
			semi = strchr(semi, ';');
			if (semi)
				*semi++ = '\0';
		}
	}
	p = strchr(s, '@');
	if (p) {
		*p++ = '\0';
		ri->at = p;
	}
	p = strchr(s, '=');
	if (p) {
		*p++ = '\0';
		ri->value = p;
	}
	ri->name = s;
	if (!*ri->name)
		return fail(err, errlen, "empty item name");
	return 0;
}

static int item_param(struct raw_item *ri, const char *key, int64_t min, int64_t max,
		      int64_t *out, char *err, size_t errlen)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < ri->n_params; i++) {
		char *p = ri->params[i];
		if (!p || strncmp(p, key, klen) || p[klen] != '=')
			continue;
		if (!parse_int(p + klen + 1, min, max, out))
			return fail(err, errlen, "%s: bad %s '%s'", ri->name, key, p + klen + 1);
		ri->params[i] = NULL;	/* consumed */
		return 1;
	}
	return 0;
}

/* What "=" carries for a timed item. */
enum value_kind { V_NONE, V_CLOSE, V_CODE, V_TIMES, V_RAWCLOSE };

static const struct {
	const char *name;
	enum fault_kind kind;
	enum value_kind value;
} timed[] = {
	{ "rst", FAULT_RST, V_NONE },
	{ "fin", FAULT_FIN, V_NONE },
	{ "close", FAULT_CLOSE, V_CLOSE },
	{ "error", FAULT_ERROR, V_CODE },
	{ "stall", FAULT_STALL, V_NONE },
	{ "mute", FAULT_MUTE, V_NONE },
	{ "garbage", FAULT_GARBAGE, V_NONE },
	{ "oversized", FAULT_OVERSIZED, V_NONE },
	{ "bigbinary", FAULT_BIGBINARY, V_NONE },
	{ "tokens", FAULT_TOKENS, V_NONE },
	{ "times", FAULT_TIMES, V_TIMES },
	{ "badutf8", FAULT_BADUTF8, V_NONE },
	{ "partials", FAULT_PARTIALS, V_NONE },
	{ "finals", FAULT_FINALS, V_NONE },
	{ "pings", FAULT_PINGS, V_NONE },
	{ "rawclose", FAULT_RAWCLOSE, V_RAWCLOSE },
};

static const char *const times_names[] = {
	[TIMES_HUGE] = "huge", [TIMES_NEGATIVE] = "negative", [TIMES_REVERSED] = "reversed",
	[TIMES_BEYOND] = "beyond", [TIMES_FLOAT] = "float", [TIMES_STRING] = "string",
	[TIMES_DECREASING] = "decreasing", [TIMES_PROGRESS] = "progress",
};

const char *fault_times_name(int variant)
{
	if (variant >= 0 && (size_t)variant < sizeof(times_names) / sizeof(times_names[0]))
		return times_names[variant];
	return "?";
}

/* ";key=value" parameters of a kind: range and default. */
static const struct {
	enum fault_kind kind;
	const char *key;
	int64_t min, max, def;
	size_t offset;		/* of the int64_t in struct fault_item */
} params[] = {
	{ FAULT_STALL, "for", 1, INT64_MAX / 2, 0, offsetof(struct fault_item, for_ms) },
	{ FAULT_GARBAGE, "bytes", 64, MAX_FRAME_BYTES, DEFAULT_GARBAGE_BYTES,
	  offsetof(struct fault_item, bytes) },
	{ FAULT_OVERSIZED, "bytes", 64, MAX_FRAME_BYTES, DEFAULT_OVERSIZED_BYTES,
	  offsetof(struct fault_item, bytes) },
	{ FAULT_BIGBINARY, "bytes", 1, MAX_FRAME_BYTES, 3000000, offsetof(struct fault_item, bytes) },
	{ FAULT_TOKENS, "count", 1, 1000000, 100000, offsetof(struct fault_item, count) },
	{ FAULT_PARTIALS, "count", 1, MAX_FLOOD, 10000, offsetof(struct fault_item, count) },
	{ FAULT_FINALS, "count", 1, MAX_FLOOD, 1000000, offsetof(struct fault_item, count) },
	{ FAULT_FINALS, "step", 0, 1000000, 0, offsetof(struct fault_item, step) },
	{ FAULT_PINGS, "count", 1, MAX_FLOOD, 1000, offsetof(struct fault_item, count) },
};

static int parse_value(struct raw_item *ri, enum value_kind vk, struct fault_item *it,
		       char *err, size_t errlen)
{
	int64_t v;

	switch (vk) {
	case V_NONE:
		return ri->value ? fail(err, errlen, "%s takes no '=' value", ri->name) : 0;
	case V_CLOSE:
	case V_CODE:
		if (!ri->value || !parse_int(ri->value, vk == V_CLOSE ? 1000 : 1,
					     vk == V_CLOSE ? 4999 : 999999, &v))
			return fail(err, errlen, "%s: needs =<code>", ri->name);
		it->code = (int)v;
		return 0;
	case V_TIMES:
		for (size_t i = 0; ri->value && i < sizeof(times_names) / sizeof(times_names[0]); i++)
			if (!strcmp(ri->value, times_names[i])) {
				it->variant = (int)i;
				return 0;
			}
		return fail(err, errlen, "times: needs =huge|negative|reversed|beyond|float|string|"
			    "decreasing|progress");
	case V_RAWCLOSE:
		if (ri->value && !strcmp(ri->value, "short"))
			it->code = RAWCLOSE_SHORT;
		else if (ri->value && !strcmp(ri->value, "empty"))
			it->code = RAWCLOSE_EMPTY;
		else if (ri->value && parse_int(ri->value, 0, 65535, &v))
			it->code = (int)v;
		else
			return fail(err, errlen, "rawclose: needs =<0..65535>|short|empty");
		return 0;
	}
	return 0;
}

static int parse_timed(struct raw_item *ri, enum fault_kind kind, enum value_kind vk,
		       struct fault_item *it, char *err, size_t errlen)
{
	int64_t v;
	int r;

	memset(it, 0, sizeof(*it));
	it->kind = kind;
	if (!ri->at || !parse_int(ri->at, 0, INT64_MAX / 2, &it->at_ms))
		return fail(err, errlen, "%s: needs @<ms of audio>", ri->name);
	if ((r = parse_value(ri, vk, it, err, errlen)) < 0)
		return r;
	it->close_code = DEFAULT_CLOSE_AFTER_ERR;
	if (kind == FAULT_ERROR) {
		r = item_param(ri, "close", 1000, 4999, &v, err, errlen);
		if (r < 0)
			return r;
		if (r)
			it->close_code = (int)v;
	}
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		int64_t *dst = (int64_t *)((char *)it + params[i].offset);

		if (params[i].kind != kind)
			continue;
		*dst = params[i].def;
		r = item_param(ri, params[i].key, params[i].min, params[i].max, dst, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_item(char *s, struct fault_spec *out, char *err, size_t errlen)
{
	struct raw_item ri;
	int64_t v;
	int r;

	r = split_item(s, &ri, err, errlen);
	if (r < 0)
		return r;

	if (!strcmp(ri.name, "http")) {
		if (!ri.value || !parse_int(ri.value, 100, 599, &v) || v == 101 || ri.at)
			return fail(err, errlen, "http: needs =<status 1xx..5xx, not 101>");
		out->http_status = (int)v;
		r = item_param(&ri, "retry_after", 0, 86400, &v, err, errlen);
		if (r < 0)
			return r;
		if (r)
			out->retry_after = (int)v;
	} else if (!strcmp(ri.name, "delay_accept")) {
		if (!ri.value || !parse_int(ri.value, 0, 3600000, &out->delay_accept_ms) || ri.at)
			return fail(err, errlen, "delay_accept: needs =<ms>");
	} else if (!strcmp(ri.name, "idle")) {
		if (!ri.value || !parse_int(ri.value, 1, 3600000, &out->idle_ms) || ri.at)
			return fail(err, errlen, "idle: needs =<ms>");
	} else if (!strcmp(ri.name, "limit")) {
		struct fault_item *it;
		if (out->n_items == FAULT_MAX_ITEMS)
			return fail(err, errlen, "too many items");
		it = &out->items[out->n_items];
		memset(it, 0, sizeof(*it));
		it->kind = FAULT_LIMIT;
		it->code = 503;
		it->close_code = DEFAULT_CLOSE_AFTER_ERR;
		if (!ri.value || !parse_int(ri.value, 0, INT64_MAX / 2, &it->at_ms) || ri.at)
			return fail(err, errlen, "limit: needs =<ms of audio>");
		out->n_items++;
	} else {
		size_t i;
		for (i = 0; i < sizeof(timed) / sizeof(timed[0]); i++)
			if (!strcmp(ri.name, timed[i].name))
				break;
		if (i == sizeof(timed) / sizeof(timed[0]))
			return fail(err, errlen, "unknown fault '%s'", ri.name);
		if (out->n_items == FAULT_MAX_ITEMS)
			return fail(err, errlen, "too many items");
		r = parse_timed(&ri, timed[i].kind, timed[i].value,
				&out->items[out->n_items], err, errlen);
		if (r < 0)
			return r;
		out->n_items++;
	}
	for (size_t i = 0; i < ri.n_params; i++)
		if (ri.params[i])
			return fail(err, errlen, "%s: unknown parameter '%s'", ri.name, ri.params[i]);
	return 0;
}

int fault_parse(const char *text, struct fault_spec *out, char *err, size_t errlen)
{
	char buf[FAULT_SPEC_MAX], *save = NULL, *tok;
	size_t len = strlen(text);
	int r;

	memset(out, 0, sizeof(*out));
	out->retry_after = -1;
	if (len >= sizeof(buf))
		return fail(err, errlen, "spec longer than %d characters", FAULT_SPEC_MAX - 1);
	memcpy(out->text, text, len + 1);
	memcpy(buf, text, len + 1);
	if (len == 0 || !strcmp(text, "none"))
		return 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		r = parse_item(tok, out, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

struct fault_entry {
	unsigned index;
	struct fault_spec spec;
};

struct fault_table {
	struct fault_entry *v;
	size_t n, cap;
};

struct fault_table *fault_table_new(void)
{
	return calloc(1, sizeof(struct fault_table));
}

void fault_table_free(struct fault_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

int fault_table_set(struct fault_table *t, unsigned index, const struct fault_spec *s)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].index == index) {
			t->v[i].spec = *s;
			return 0;
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct fault_entry *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].index = index;
	t->v[t->n].spec = *s;
	t->n++;
	return 0;
}

const struct fault_spec *fault_table_get(const struct fault_table *t, unsigned index)
{
	const struct fault_spec *all = NULL;

	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].index == index)
			return &t->v[i].spec;
		if (t->v[i].index == FAULT_INDEX_ALL)
			all = &t->v[i].spec;
	}
	return all;
}
