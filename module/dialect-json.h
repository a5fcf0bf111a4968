/* JSON helpers every dialect parses and builds with (json-c): one object
 * per message, typed lookups where a wrong type counts as absent, numbers
 * in a range, strings copied as valid UTF-8. Pure; any thread.
 */
#ifndef TRANSCRIBE_DIALECT_JSON_H
#define TRANSCRIBE_DIALECT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <spa/utils/defs.h>

/* Service messages are a few levels deep; anything much deeper is garbage. */
#define DIALECT_JSON_DEPTH	16
/* Largest time accepted (about 34 years of audio): callers add offsets to
 * token times, this keeps that far from overflow. */
#define DIALECT_MS_MAX		(INT64_C(1) << 40)

SPA_PRINTF_FUNC(3, 4)
void dialect_set_err(char *err, size_t size, const char *fmt, ...);

/* src[0..len) into dst as valid, NUL-terminated UTF-8: bytes that are not
 * part of a valid sequence (and NUL) become U+FFFD; cut at a character
 * boundary. one_line: control characters become spaces. */
void dialect_copy_utf8(char *dst, size_t size, const char *src, size_t len, bool one_line);
/* The same from a json string object. */
void dialect_copy_string(char *dst, size_t size, struct json_object *str, bool one_line);

/* The member key when it exists and has type, else NULL. */
struct json_object *dialect_get_typed(struct json_object *obj, const char *key, enum json_type type);
/* A number in [min, max] (integers, or doubles), else false. */
bool dialect_get_number(struct json_object *obj, const char *key, double min, double max,
		double *val);
/* A time in ms in [0, DIALECT_MS_MAX], else -1. */
int64_t dialect_get_ms(struct json_object *obj, const char *key);
/* A time in seconds (Deepgram, vosk) as ms, else -1. */
int64_t dialect_get_sec_ms(struct json_object *obj, const char *key);
/* A boolean member that is true. */
bool dialect_get_true(struct json_object *obj, const char *key);

/* A label (speaker, language): a one-line string, or a number in int range
 * as digits (older APIs send speakers as numbers); "" when absent. */
void dialect_get_label(struct json_object *obj, const char *key, char *dst, size_t size);

/* One JSON object from msg[0..len), optionally followed by whitespace, or
 * NULL with err filled ("<name>: why"). */
struct json_object *dialect_parse_object(const char *name, const char *msg, size_t len,
		char *err, size_t err_size);

/* Adds key: value to obj; value is consumed even on failure. */
int dialect_add(struct json_object *obj, const char *key, struct json_object *value);
/* Adds a string that must be valid UTF-8 (-EINVAL). */
int dialect_add_string(struct json_object *obj, const char *key, const char *value);
/* obj as compact JSON into buf: length, or -ENOSPC/-ENOMEM (buf wiped). */
int dialect_json_to_buf(struct json_object *obj, char *buf, size_t size);

#endif
