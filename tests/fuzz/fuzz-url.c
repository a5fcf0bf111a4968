/* libFuzzer target for the service URL parser (module/url.c).
 *
 * Besides the sanitizers it checks the contracts: 0 or -EINVAL; the error
 * is one line of printable ASCII that does not depend on the URL's user
 * info (the same with it blanked out); a
 * parsed URL has a host of RFC 3986 characters, a port in 1..65535 (0 and
 * an absolute socket path for ws+unix), a path that starts with '/' and
 * has no space, control or non-ASCII byte, no user info and no fragment;
 * and it parses again, from its parts, to the same parts.
 *
 *   fuzz-url -dict=tests/fuzz/url.dict NEW_CORPUS_DIR tests/fuzz/url-seeds
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz-check.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* The user info of text (between "//" and '@' in the authority), or NULL. */
static const char *userinfo(const char *text, size_t *len)
{
	const char *p = strstr(text, "//"), *end, *at;

	if (p == NULL)
		return NULL;
	p += 2;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at == NULL)
		return NULL;
	*len = (size_t)(at - p);
	return p;
}

static void check_parts(const struct url *u)
{
	check(memchr(u->host, '\0', sizeof(u->host)) && u->host[0] != '\0');
	check(memchr(u->path, '\0', sizeof(u->path)) && u->path[0] == '/');
	check(printable(u->host) && printable(u->path));
	check(strchr(u->path, '#') == NULL);
	if (u->unix_socket) {
		check(u->port == URL_PORT_UNIX && !u->tls);
		check(u->socket_path[0] == '/' && strlen(u->socket_path) < URL_SOCKET_MAX);
		check(strchr(u->socket_path, ':') == NULL);
		check(url_is_loopback(u));
	} else {
		check(u->port >= 1);
		check(strchr(u->host, '@') == NULL);
	}
}

/* Written back from its parts, the URL parses to the same parts. */
static void check_round_trip(const struct url *u)
{
	char text[1024], err[256];
	static struct url again;

	if (u->unix_socket)
		snprintf(text, sizeof(text), "ws+unix://%s:%s", u->socket_path, u->path);
	else if (strchr(u->host, ':') != NULL)
		snprintf(text, sizeof(text), "%s://[%s]:%u%s", u->tls ? "wss" : "ws", u->host,
				u->port, u->path);
	else
		snprintf(text, sizeof(text), "%s://%s:%u%s", u->tls ? "wss" : "ws", u->host,
				u->port, u->path);
	check(url_parse(text, &again, err, sizeof(err)) == 0);
	check(again.tls == u->tls && again.unix_socket == u->unix_socket);
	check(again.port == u->port);
	check(strcmp(again.host, u->host) == 0 && strcmp(again.path, u->path) == 0);
	check(strcmp(again.socket_path, u->socket_path) == 0);
}

/* The error says the same with the user info blanked out: it can not
 * hold any of it. */
static void check_blind_to(const char *text, const char *ui, size_t ui_len, const char *err)
{
	static struct url u2;
	char *blank = strdup(text), err2[256];

	if (blank == NULL)
		return;
	memset(blank + (ui - text), 'A', ui_len);
	check(url_parse(blank, &u2, err2, sizeof(err2)) == -EINVAL);
	check(strcmp(err, err2) == 0);
	free(blank);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct url u;
	size_t len = strnlen((const char *)data, size), ui_len = 0;
	char *text = malloc(len + 1), err[256];
	const char *ui;
	int r;

	if (text == NULL)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	r = url_parse(text, &u, err, sizeof(err));
	check(r == 0 || r == -EINVAL);
	check(memchr(err, '\0', sizeof(err)) != NULL);
	for (const char *c = err; *c; c++)
		check((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
	ui = userinfo(text, &ui_len);
	if (r == 0) {
		check(err[0] == '\0');
		check(ui == NULL || strncasecmp(text, "ws+unix:", 8) == 0);
		check_parts(&u);
		check_round_trip(&u);
	} else {
		check(err[0] != '\0');
		if (ui != NULL)
			check_blind_to(text, ui, ui_len, err);
	}
	(void)url_is_loopback(&u);
	free(text);
	return 0;
}
