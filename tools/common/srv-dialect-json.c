/* srv-dialect-json: see srv-dialect-json.h. */
#include "srv-dialect-json.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define JSON_DEPTH	16	/* the deepest message we read nests 5 deep */

json_object *dj_parse_whole(const char *msg, size_t len)
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

bool dj_get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out >= min && *out <= max;
}

bool dj_get_whole(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;
	double d;

	if (dj_get_int(o, key, min, max, out))
		return true;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_double))
		return false;
	d = json_object_get_double(v);
	if (!(d >= (double)min && d <= (double)max) || d != floor(d))
		return false;
	*out = (int64_t)d;
	return true;
}

const char *dj_get_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

json_object *dj_get_object(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

bool dj_get_flag(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

void dj_copy_model(char *out, size_t size, const char *m)
{
	size_t i;

	if (!m) {
		snprintf(out, size, "-");
		return;
	}
	for (i = 0; m[i] && i + 1 < size; i++)
		out[i] = (m[i] > ' ' && m[i] < 0x7f && m[i] != '"') ? m[i] : '?';
	out[i] = '\0';
}

json_object *dj_fixed(double v, int decimals)
{
	char buf[32];
	size_t n;

	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
	return json_object_new_double_s(v, buf);
}

int dj_print(json_object *o, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return n;
}

int dj_push(struct srv_outq *q, json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	struct srv_out *out = s ? srv_out_new(SRV_OUT_TEXT, s, strlen(s)) : NULL;

	json_object_put(o);
	if (!out)
		return -1;
	srv_outq_push(q, out);
	return 0;
}
