/* JSON helpers of the dialects (see dialect-json.h). */
#include "dialect-json.h"
#include "utf8.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void dialect_set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

void dialect_copy_utf8(char *dst, size_t size, const char *src, size_t len, bool one_line)
{
	static const char replacement[] = "\xef\xbf\xbd";	/* U+FFFD */
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, l;

	if (size == 0)
		return;
	while (i < len) {
		const char *chunk = src + i;
		size_t chunk_len = l = utf8_seq_len(s + i, len - i);

		if (l == 0) {
			chunk = replacement;
			chunk_len = sizeof(replacement) - 1;
			l = 1;
		}
		if (o + chunk_len >= size)
			break;
		if (one_line && chunk_len == 1 && (*chunk < 0x20 || *chunk == 0x7f))
			dst[o] = ' ';
		else
			memcpy(dst + o, chunk, chunk_len);
		o += chunk_len;
		i += l;
	}
	dst[o] = '\0';
}

void dialect_copy_string(char *dst, size_t size, struct json_object *str, bool one_line)
{
	dialect_copy_utf8(dst, size, json_object_get_string(str),
			(size_t)json_object_get_string_len(str), one_line);
}

struct json_object *dialect_get_typed(struct json_object *obj, const char *key, enum json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

bool dialect_get_number(struct json_object *obj, const char *key, double min, double max,
		double *val)
{
	struct json_object *v;
	double d;

	if (!json_object_object_get_ex(obj, key, &v))
		return false;
	switch (json_object_get_type(v)) {
	case json_type_int:
		/* json-c saturates out-of-range integers at INT64_MIN/MAX. */
		d = (double)json_object_get_int64(v);
		break;
	case json_type_double:
		d = json_object_get_double(v);
		break;
	default:
		return false;
	}
	if (!isfinite(d) || d < min || d > max)
		return false;
	*val = d;
	return true;
}

int64_t dialect_get_ms(struct json_object *obj, const char *key)
{
	double d;

	return dialect_get_number(obj, key, 0, (double)DIALECT_MS_MAX, &d) ? (int64_t)d : -1;
}

int64_t dialect_get_sec_ms(struct json_object *obj, const char *key)
{
	double d;

	/* Rounded (d >= 0): 1.23 s is 1230 ms, not 1229.9999. */
	return dialect_get_number(obj, key, 0, (double)DIALECT_MS_MAX / 1000, &d) ?
		(int64_t)(d * 1000 + 0.5) : -1;
}

bool dialect_get_true(struct json_object *obj, const char *key)
{
	struct json_object *v = dialect_get_typed(obj, key, json_type_boolean);

	return v != NULL && json_object_get_boolean(v);
}

void dialect_get_label(struct json_object *obj, const char *key, char *dst, size_t size)
{
	struct json_object *v;
	double d;

	if ((v = dialect_get_typed(obj, key, json_type_string)) != NULL)
		dialect_copy_utf8(dst, size, json_object_get_string(v),
				(size_t)json_object_get_string_len(v), true);
	else if (dialect_get_number(obj, key, 0, INT_MAX, &d))	/* older APIs: speaker as a number */
		snprintf(dst, size, "%d", (int)d);
	else
		dst[0] = '\0';
}

struct json_object *dialect_parse_object(const char *name, const char *msg, size_t len,
		char *err, size_t err_size)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	size_t end, i;

	if (msg == NULL || len == 0) {
		dialect_set_err(err, err_size, "%s: empty message, want a JSON object", name);
		return NULL;
	}
	if (len > INT_MAX) {
		dialect_set_err(err, err_size, "%s: message of %zu bytes is too long", name, len);
		return NULL;
	}
	if ((tok = json_tokener_new_ex(DIALECT_JSON_DEPTH)) == NULL) {
		dialect_set_err(err, err_size, "%s: out of memory parsing a message", name);
		return NULL;
	}
	root = json_tokener_parse_ex(tok, msg, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if (root == NULL) {
		if (jerr == json_tokener_success)
			dialect_set_err(err, err_size, "%s: message is a JSON null, want an object", name);
		else if (jerr == json_tokener_continue)
			dialect_set_err(err, err_size, "%s: message of %zu bytes is not a complete "
					"JSON object", name, len);
		else
			dialect_set_err(err, err_size, "%s: message is not valid JSON at byte %zu "
					"of %zu: %s", name, end, len, json_tokener_error_desc(jerr));
		return NULL;
	}
	for (i = end; i < len; i++) {
		if (strchr(" \t\r\n", msg[i]) == NULL || msg[i] == '\0') {
			dialect_set_err(err, err_size, "%s: unexpected data after the JSON object "
					"at byte %zu of %zu", name, i, len);
			json_object_put(root);
			return NULL;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		dialect_set_err(err, err_size, "%s: message is a JSON %s, want an object", name,
				json_type_to_name(json_object_get_type(root)));
		json_object_put(root);
		return NULL;
	}
	return root;
}

int dialect_add(struct json_object *obj, const char *key, struct json_object *value)
{
	if (value == NULL)
		return -ENOMEM;
	if (json_object_object_add(obj, key, value) < 0) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

int dialect_add_string(struct json_object *obj, const char *key, const char *value)
{
	if (value == NULL || !utf8_valid(value))
		return -EINVAL;
	return dialect_add(obj, key, json_object_new_string(value));
}

int dialect_json_to_buf(struct json_object *obj, char *buf, size_t size)
{
	const char *json;
	size_t json_len = 0;

	json = json_object_to_json_string_length(obj,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &json_len);
	if (json == NULL) {
		if (buf != NULL && size > 0)
			explicit_bzero(buf, size);
		return -ENOMEM;
	}
	if (buf == NULL || json_len >= size || json_len > INT_MAX) {
		if (buf != NULL && size > 0)
			explicit_bzero(buf, size);
		return -ENOSPC;
	}
	memcpy(buf, json, json_len + 1);
	return (int)json_len;
}
