/* The service URL: ws://, wss:// and ws+unix://. Pure; any thread.
 *
 * Strict RFC 3986: the scheme (any case), then "//" and an authority of a
 * host name (letters, digits, '-', '.', '_', '~'), an IPv4 address or a
 * bracketed IPv6 address (no zone id), and an optional port of 1 to 5
 * digits in 1..65535; then a path and query of RFC 3986 characters or
 * %-escapes. Refused: user info (a password must never sit in a URL, and
 * is never printed), fragments (RFC 6455 forbids them), whitespace,
 * control and non-ASCII bytes anywhere.
 *
 * ws+unix:///abs/path.sock:/resource (the form of Node's ws library): a
 * WebSocket over the Unix socket /abs/path.sock with request path
 * /resource ("/" when ":/resource" is left out); the socket path may not
 * hold ':' or '%' and must fit sun_path.
 *
 * Error messages never quote the URL (it could carry a secret); they name
 * the problem and its position, counted in bytes from 1.
 */
#ifndef TRANSCRIBE_URL_H
#define TRANSCRIBE_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_HOST_MAX	256
#define URL_PATH_MAX	512
#define URL_SOCKET_MAX	108	/* sizeof(sun_path), with the NUL */
#define URL_PORT_UNIX	0	/* port of a ws+unix URL: no TCP, no DNS */
#define URL_UNIX_HOST	"localhost"	/* the Host header over a Unix socket */

struct url {
	bool tls;
	bool unix_socket;		/* ws+unix: socket_path, no host to resolve */
	char host[URL_HOST_MAX];	/* name or address, no brackets; ws+unix: the
					 * socket path (for messages: nothing resolves it) */
	uint16_t port;			/* URL_PORT_UNIX for ws+unix */
	char path[URL_PATH_MAX];	/* with query; starts with '/' */
	char socket_path[URL_SOCKET_MAX];	/* ws+unix only; absolute */
};

/* Returns 0 or -EINVAL with a one-line reason in err (see above). */
int url_parse(const char *text, struct url *u, char *err, size_t err_size);

/* True for a ws+unix URL and for a host that is this machine by its
 * spelling: "localhost", 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104. */
bool url_is_loopback(const struct url *u);

#endif
