/* The service URL (see url.h). */
#include "url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>


#define PORT_DIGITS_MAX	5

struct scan {
	const char *text;
	char *err;
	size_t err_size;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct scan *s, const char *at, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (s->err == NULL || s->err_size == 0)
		return -EINVAL;
	va_start(ap, fmt);
	n = vsnprintf(s->err, s->err_size, fmt, ap);
	va_end(ap);
	if (at != NULL && n >= 0 && (size_t)n < s->err_size)
		snprintf(s->err + n, s->err_size - n, " (at byte %zu)", (size_t)(at - s->text) + 1);
	return -EINVAL;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_unreserved(char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Says what is wrong with the byte at p, which no rule allowed. */
static int bad_byte(struct scan *s, const char *p, const char *where)
{
	unsigned char c = (unsigned char)*p;

	if (c == ' ' || c == '\t')
		return fail(s, p, "whitespace in the %s", where);
	if (c < 0x20 || c == 0x7f)
		return fail(s, p, "a control character in the %s", where);
	if (c >= 0x80)
		return fail(s, p, "a non-ASCII byte in the %s (percent-encode it)", where);
	return fail(s, p, "'%c' is not allowed in the %s", c, where);
}

/* path-abempty [ "?" query ], RFC 3986 3.3/3.4; no fragment (RFC 6455 3). */
static int check_path(struct scan *s, const char *p)
{
	bool query = false;

	for (; *p != '\0'; p++) {
		if (*p == '%') {
			if (!is_hex(p[1]) || !is_hex(p[2]))
				return fail(s, p, "'%%' must start a %%XX escape");
			p += 2;
		} else if (*p == '#') {
			return fail(s, p, "a WebSocket URL has no #fragment");
		} else if (*p == '?') {
			query = true;
		} else if (!is_unreserved(*p) && !is_sub_delim(*p) && *p != ':' && *p != '@' &&
				*p != '/') {
			return bad_byte(s, p, query ? "query" : "path");
		}
	}
	return 0;
}

static int set_path(struct scan *s, struct url *u, const char *p)
{
	int res;

	if ((res = check_path(s, p)) < 0)
		return res;
	if (strlen(p) + 2 > sizeof(u->path))
		return fail(s, p, "the path is longer than %zu bytes", sizeof(u->path) - 2);
	snprintf(u->path, sizeof(u->path), "%s%s", *p == '/' ? "" : "/", p);
	return 0;
}

/* port = 1*5DIGIT in 1..65535 ("h:+80", "h:", "h:0" are errors). */
static int parse_port(struct scan *s, const char *p, const char *end, struct url *u)
{
	unsigned long v = 0;
	const char *d;

	if (p == end)
		return fail(s, p, "empty port after ':'");
	if (end - p > PORT_DIGITS_MAX)
		return fail(s, p, "port of more than %d digits", PORT_DIGITS_MAX);
	for (d = p; d < end; d++) {
		if (*d < '0' || *d > '9')
			return fail(s, d, "the port must be digits only");
		v = v * 10 + (unsigned long)(*d - '0');
	}
	if (v < 1 || v > 65535)
		return fail(s, p, "port %lu is not in 1..65535", v);
	u->port = (uint16_t)v;
	return 0;
}

/* "[" IPv6address "]" (no zone id, no IPvFuture); returns the byte after ']'. */
static const char *parse_ipv6(struct scan *s, const char *p, const char *end, struct url *u)
{
	const char *rb = memchr(p, ']', (size_t)(end - p));
	struct in6_addr a;
	size_t n;

	if (rb == NULL) {
		fail(s, p, "'[' without ']'");
		return NULL;
	}
	n = (size_t)(rb - p - 1);
	if (n == 0 || n >= sizeof(u->host)) {
		fail(s, p, "bad IPv6 address in brackets");
		return NULL;
	}
	memcpy(u->host, p + 1, n);
	u->host[n] = '\0';
	if (inet_pton(AF_INET6, u->host, &a) != 1) {
		fail(s, p, "not an IPv6 address in brackets (zone ids are not supported)");
		return NULL;
	}
	if (rb + 1 != end && rb[1] != ':') {
		fail(s, rb + 1, "only ':port' may follow ']'");
		return NULL;
	}
	return rb + 1;
}

/* authority = host [ ":" port ], no userinfo. */
static int parse_authority(struct scan *s, const char *p, const char *end, struct url *u)
{
	const char *h, *colon;
	size_t n;

	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return fail(s, NULL, "a user name or password in the URL is refused "
				"(it would be logged and sent in clear); use service.api-key.file, "
				".env or .command");
	if (p == end)
		return fail(s, p, "no host");
	if (*p == '[') {
		if ((colon = parse_ipv6(s, p, end, u)) == NULL)
			return -EINVAL;
	} else {
		for (h = p; h < end && *h != ':'; h++)
			if (!is_unreserved(*h))
				return bad_byte(s, h, "host name");
		colon = h;
		n = (size_t)(h - p);
		if (n == 0)
			return fail(s, p, "no host");
		if (n >= sizeof(u->host))
			return fail(s, p, "the host is longer than %zu bytes",
					sizeof(u->host) - 1);
		memcpy(u->host, p, n);
		u->host[n] = '\0';
	}
	u->port = u->tls ? 443 : 80;
	return colon < end ? parse_port(s, colon + 1, end, u) : 0;
}

/* ws+unix:///abs/path.sock[:/resource] */
static int parse_unix(struct scan *s, const char *p, struct url *u)
{
	const char *sock = p, *end;
	size_t n;

	u->unix_socket = true;
	u->port = URL_PORT_UNIX;
	if (*sock != '/')
		return fail(s, sock, "ws+unix takes no host, but an absolute socket "
				"path: ws+unix:///path/to.sock:/resource");
	for (end = sock; *end != '\0' && *end != ':'; end++)
		if (!is_unreserved(*end) && !is_sub_delim(*end) && *end != '/' && *end != '@')
			return bad_byte(s, end, "socket path");
	n = (size_t)(end - sock);
	if (n >= sizeof(u->socket_path))
		return fail(s, sock, "the socket path is longer than %zu bytes",
				sizeof(u->socket_path) - 1);
	memcpy(u->socket_path, sock, n);
	u->socket_path[n] = '\0';
	memcpy(u->host, u->socket_path, n + 1);
	if (*end == '\0')
		return set_path(s, u, "/");
	if (end[1] != '/')
		return fail(s, end + 1, "the resource after the socket path must "
				"start with '/'");
	return set_path(s, u, end + 1);
}

int url_parse(const char *text, struct url *u, char *err, size_t err_size)
{
	struct scan s = { .text = text, .err = err, .err_size = err_size };
	const char *p, *end;
	int res;

	memset(u, 0, sizeof(*u));
	if (err_size > 0)
		err[0] = '\0';
	if (text == NULL)
		return fail(&s, NULL, "none");
	if (strncasecmp(text, "ws+unix://", 10) == 0)
		return parse_unix(&s, text + 10, u);
	if (strncasecmp(text, "wss://", 6) == 0) {
		u->tls = true;
		p = text + 6;
	} else if (strncasecmp(text, "ws://", 5) == 0) {
		p = text + 5;
	} else {
		return fail(&s, NULL, "not a ws://, wss:// or ws+unix:// URL");
	}
	end = p + strcspn(p, "/?#");
	if ((res = parse_authority(&s, p, end, u)) < 0)
		return res;
	return set_path(&s, u, end);
}

bool url_is_loopback(const struct url *u)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (u->unix_socket || strcasecmp(u->host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, u->host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, u->host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}
