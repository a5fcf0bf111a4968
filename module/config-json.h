/* Strict check of the module's SPA-JSON argument string, before
 * config_parse() walks it with spa_json (which, fed broken input, stops
 * early without saying so, or reads past the end of an unterminated
 * container). Pure; any thread; no allocation.
 *
 * Accepted: what PipeWire writes and reads as SPA-JSON: an object in
 * braces, or its members without the braces; keys as words or strings;
 * '=', ':' and ',' as separators; '#' comments to the end of the line.
 * Refused, with the position (byte, counted from 1) and the key it is
 * under: anything after the closing '}', a bracket that is never closed
 * or closes the other kind, a key without a value, a container as a key,
 * an unterminated string, a bad escape, \u0000 (a NUL would cut the value
 * short), a lone surrogate, control characters, invalid UTF-8, a quote or
 * bracket inside a bare word, nesting deeper than CONFIG_JSON_DEPTH.
 */
#ifndef TRANSCRIBE_CONFIG_JSON_H
#define TRANSCRIBE_CONFIG_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_JSON_DEPTH	16

/* 0, or -EINVAL with one line "<key or 'arguments'>: <reason> at byte N"
 * in err. On 0, *content_len (may be NULL) is the length up to the end of
 * the last token: walk only that much with spa_json, which takes a comment
 * at the very end of the text (no newline after it) for a token. */
int config_json_check(const char *text, size_t len, size_t *content_len,
		char *err, size_t err_size);

/* Whether a key shows as is in messages (letters, digits, '.', '-', '_');
 * any other is shown in quotes, so a message always starts with a key. */
bool config_json_key_is_plain(const char *key, size_t len);

#endif
