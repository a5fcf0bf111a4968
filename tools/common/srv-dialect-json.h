/* srv-dialect-json: the JSON helpers every dialect (srv-dialect-*.c)
 * shares: strict parsing of a whole message, typed field access, and
 * pushing an object as a text message. Pure; any thread. */
#ifndef SRV_DIALECT_JSON_H
#define SRV_DIALECT_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srv-out.h"

/* The whole message as one JSON value, white space around it allowed; NULL
 * for anything else (trailing bytes, a NUL inside, too deep). */
json_object *dj_parse_whole(const char *msg, size_t len);
/* An integer field in min..max (a number with a fraction is not one). */
bool dj_get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out);
/* The same, a number with no fraction (1.6e4, 16000.0) taken as well. */
bool dj_get_whole(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out);
/* A string field, or NULL. */
const char *dj_get_string(json_object *o, const char *key);
/* An object field, or NULL. */
json_object *dj_get_object(json_object *o, const char *key);
/* A field that is true (true, non-zero, non-empty). */
bool dj_get_flag(json_object *o, const char *key);
/* The model name, printable and quote-free, for the log ("-" for NULL). */
void dj_copy_model(char *out, size_t size, const char *m);
/* A number with at most `decimals` decimals, trailing zeros dropped. */
json_object *dj_fixed(double v, int decimals);
/* o (taken) and a newline into buf, for an HTTP body: the length, as
 * snprintf's. */
int dj_print(json_object *o, char *buf, size_t size);
/* Pushes o (taken; NULL = out of memory) as a text message: 0 or -1. */
int dj_push(struct srv_outq *q, json_object *o);

#endif
