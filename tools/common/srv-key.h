/* srv-key: the optional shared secret (--key-file). A client proves it knows
 * the key with "Authorization: Bearer <key>" on the upgrade request
 * ("Token <key>" too in the deepgram dialect) or, in the soniox dialect,
 * with "api_key" in its config message. Single-threaded use at startup
 * (key_load); key_matches is a pure function, safe from any thread. */
#ifndef SRV_KEY_H
#define SRV_KEY_H

#include <stdbool.h>
#include <stddef.h>

#define KEY_MAX_LEN	4096

/* Reads the key from the first line of path (surrounding whitespace
 * removed). Refuses files that are not regular files, that group or others
 * may access (mode & 077), or whose key is empty or longer than KEY_MAX_LEN.
 * On success *out is a malloc'ed string (free it); on error returns -errno
 * style and fills err with what failed and what to do. */
int key_load(const char *path, char **out, char *err, size_t errlen);

/* Constant-time comparison of key with given[0..len). */
bool key_matches(const char *key, const char *given, size_t len);

/* True when header is "Bearer <key>" (scheme case-insensitive). */
bool key_bearer_matches(const char *key, const char *header);
/* The same, or "Token <key>" (Deepgram's API keys) when token is set. */
bool key_scheme_matches(const char *key, const char *header, bool token);

#endif
