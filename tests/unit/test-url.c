/* The service URL parser (module/url.c): RFC 3986 strictness, ws+unix://,
 * loopback detection, and error messages that never quote the URL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static struct url u;
static char err[256];

static void assert_url(const char *text, bool tls, const char *host, unsigned port,
		const char *path)
{
	if (url_parse(text, &u, err, sizeof(err)) != 0)
		fail_msg("url_parse(%s): %s", text, err);
	assert_string_equal(err, "");
	assert_int_equal(u.tls, tls);
	assert_false(u.unix_socket);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_string_equal(u.path, path);
}

/* Refused with a message containing `reason` (and, when given, the byte
 * position), on one line, quoting nothing of the URL. */
static void assert_refused(const char *text, const char *reason, int at)
{
	char pos[32];

	if (url_parse(text, &u, err, sizeof(err)) != -EINVAL)
		fail_msg("url_parse(%s) accepted it", text);
	if (strstr(err, reason) == NULL)
		fail_msg("url_parse(%s): \"%s\" does not say \"%s\"", text, err, reason);
	if (at > 0) {
		snprintf(pos, sizeof(pos), "(at byte %d)", at);
		if (strstr(err, pos) == NULL)
			fail_msg("url_parse(%s): \"%s\" does not say \"%s\"", text, err, pos);
	}
	for (const char *c = err; *c; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
}

static void test_good_urls_parse_into_their_parts(void **state)
{
	assert_url("ws://127.0.0.1:7681/transcribe-websocket", false, "127.0.0.1", 7681,
			"/transcribe-websocket");
	assert_url("wss://stt-rt.soniox.com/transcribe-websocket", true, "stt-rt.soniox.com", 443,
			"/transcribe-websocket");
	assert_url("ws://host", false, "host", 80, "/");
	assert_url("ws://host?x=1", false, "host", 80, "/?x=1");
	assert_url("WSS://Host.Example:8443/a/b?c=d&e=%2F:@!$'()*+,;=", true, "Host.Example", 8443,
			"/a/b?c=d&e=%2F:@!$'()*+,;=");
	assert_url("ws://[::1]:7000/x", false, "::1", 7000, "/x");
	assert_url("ws://[2001:db8::7]/", false, "2001:db8::7", 80, "/");
	assert_url("ws://a_b-c.d~e:00080/", false, "a_b-c.d~e", 80, "/");
	assert_url("ws://h:65535/", false, "h", 65535, "/");
}

static void test_unix_socket_urls_take_node_ws_form(void **state)
{
	assert_int_equal(url_parse("ws+unix:///run/user/1000/pipewire-transcribe/server.sock:"
			"/transcribe-websocket", &u, err, sizeof(err)), 0);
	assert_true(u.unix_socket);
	assert_false(u.tls);
	assert_string_equal(u.socket_path, "/run/user/1000/pipewire-transcribe/server.sock");
	assert_string_equal(u.path, "/transcribe-websocket");
	assert_string_equal(u.host, u.socket_path);
	assert_int_equal(u.port, URL_PORT_UNIX);
	assert_true(url_is_loopback(&u));

	assert_int_equal(url_parse("WS+UNIX:///tmp/s.sock", &u, err, sizeof(err)), 0);
	assert_string_equal(u.socket_path, "/tmp/s.sock");
	assert_string_equal(u.path, "/");
	assert_int_equal(url_parse("ws+unix:///tmp/s.sock:/a?b=c", &u, err, sizeof(err)), 0);
	assert_string_equal(u.path, "/a?b=c");
}

struct refusal {
	const char *url, *reason;
	int at;
};

static void assert_all_refused(const struct refusal *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_refused(r[i].url, r[i].reason, r[i].at);
}

static void test_unix_socket_urls_are_checked(void **state)
{
	static const struct refusal bad[] = {
		{ "ws+unix://host/tmp/s.sock:/x", "absolute socket path", 11 },
		{ "ws+unix://tmp/s.sock", "absolute socket path", 11 },
		{ "ws+unix:///tmp/s.sock:x", "must start with '/'", 23 },
		{ "ws+unix:///tmp/s sock:/x", "whitespace in the socket path", 17 },
		{ "ws+unix:///tmp/s%41.sock", "'%' is not allowed in the socket path", 17 },
		{ "ws+unix:///tmp/s.sock:/x\r\n", "control character in the path", 25 },
	};
	char long_path[160];

	assert_all_refused(bad, N_ELEMENTS(bad));
	snprintf(long_path, sizeof(long_path), "ws+unix:///%0108d", 0);
	assert_refused(long_path, "longer than 107 bytes", 11);
	snprintf(long_path, sizeof(long_path), "ws+unix:///%0106d", 0);
	assert_int_equal(url_parse(long_path, &u, err, sizeof(err)), 0);
}

static void test_the_issues_hostile_urls_are_refused(void **state)
{
	static const struct refusal hostile[] = {
		/* CR/LF would have become a header of the upgrade request */
		{ "ws://h/x\r\nX-Evil2: yes", "control character in the path", 9 },
		{ "ws://h\r\nX: y/x", "control character in the host name", 7 },
		{ "ws://[::1]junk:7000", "only ':port' may follow ']'", 11 },
		{ "ws://h:+80/", "digits only", 8 },
		{ "ws://h:-80/", "digits only", 8 },
		{ "ws://h: 80/", "digits only", 8 },
	};

	assert_all_refused(hostile, N_ELEMENTS(hostile));
}

static void test_bad_urls_say_what_and_where(void **state)
{
	static const struct refusal bad[] = {
		{ "", "not a ws://", 0 },
		{ "http://example.org/", "not a ws://", 0 },
		{ "ws:/h/", "not a ws://", 0 },
		{ "ws:///path", "no host", 6 },
		{ "ws://:80/", "no host", 6 },
		{ "ws://h:/", "empty port", 8 },
		{ "ws://h:0/", "port 0 is not in 1..65535", 8 },
		{ "ws://h:65536/", "not in 1..65535", 8 },
		{ "ws://h:000000080/", "more than 5 digits", 8 },
		{ "ws://h:80:81/", "digits only", 10 },
		{ "ws://h o/", "whitespace in the host name", 7 },
		{ "ws://h\tx/", "whitespace in the host name", 7 },
		{ "ws://h\x7f/", "control character in the host name", 7 },
		{ "ws://h\xc3\xa9/", "non-ASCII byte in the host name", 7 },
		{ "ws://h%41/", "'%' is not allowed in the host name", 7 },
		{ "ws://h!x/", "'!' is not allowed in the host name", 7 },
		{ "ws://[::1/", "'[' without ']'", 6 },
		{ "ws://[]/", "bad IPv6", 6 },
		{ "ws://[not:v6]/", "not an IPv6 address", 6 },
		{ "ws://[fe80::1%25eth0]/", "zone ids", 6 },
		{ "ws://[v1.x]/", "not an IPv6 address", 6 },
		{ "ws://h/a b", "whitespace in the path", 9 },
		{ "ws://h/a\"b", "'\"' is not allowed in the path", 9 },
		{ "ws://h/a<b", "'<' is not allowed in the path", 9 },
		{ "ws://h/a\\b", "'\\' is not allowed in the path", 9 },
		{ "ws://h/[x]", "'[' is not allowed in the path", 8 },
		{ "ws://h/a?b c", "whitespace in the query", 11 },
		{ "ws://h/a?b|c", "'|' is not allowed in the query", 11 },
		{ "ws://h/%4", "%XX escape", 8 },
		{ "ws://h/%zz", "%XX escape", 8 },
		{ "ws://h/x#frag", "no #fragment", 9 },
		{ "ws://h#frag", "no #fragment", 7 },
		{ "wss+unix:///tmp/x.sock", "not a ws://", 0 },
	};

	assert_all_refused(bad, N_ELEMENTS(bad));
}

static void test_credentials_are_refused_and_never_printed(void **state)
{
	static const char *const urls[] = {
		"ws://alice:hunter2secret@example.org/x",
		"wss://token-abc123def@example.org:443/",
		"ws://alice:hunter2secret@[::1]:80/",
		"ws://:hunter2secret@h/",
	};

	for (size_t i = 0; i < N_ELEMENTS(urls); i++) {
		assert_refused(urls[i], "user name or password", 0);
		assert_null(strstr(err, "hunter2"));
		assert_null(strstr(err, "abc123"));
		assert_null(strstr(err, "alice"));
		assert_null(strstr(err, "example"));
	}
	/* '@' is fine in a path and a query */
	assert_url("ws://h/a@b?c@d", false, "h", 80, "/a@b?c@d");
}

static void test_overlong_parts_are_refused(void **state)
{
	char text[1200];

	snprintf(text, sizeof(text), "ws://%0256d/", 0);
	assert_refused(text, "host is longer than 255 bytes", 6);
	snprintf(text, sizeof(text), "ws://%0255d/", 0);
	assert_int_equal(url_parse(text, &u, err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "ws://h/%0510d", 0);
	assert_refused(text, "path is longer than 510 bytes", 7);
	snprintf(text, sizeof(text), "ws://h/%0509d", 0);
	assert_int_equal(url_parse(text, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.path), 510);
}

static void test_loopback_is_judged_by_spelling(void **state)
{
	static const struct { const char *url; bool loopback; } cases[] = {
		{ "ws://127.0.0.1:7681/", true },
		{ "ws://127.8.9.10/", true },
		{ "ws://localhost/", true },
		{ "ws://LocalHost:80/", true },
		{ "ws://[::1]/", true },
		{ "ws://[::ffff:127.0.0.1]/", true },
		{ "ws://10.0.0.1/", false },
		{ "ws://128.0.0.1/", false },
		{ "ws://[::2]/", false },
		{ "ws://[::ffff:10.0.0.1]/", false },
		{ "ws://localhost.example.org/", false },
		{ "ws://127.1/", false },	/* not dotted-quad: not trusted */
		{ "ws://example.org/", false },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		assert_int_equal(url_parse(cases[i].url, &u, err, sizeof(err)), 0);
		if (url_is_loopback(&u) != cases[i].loopback)
			fail_msg("url_is_loopback(%s) != %d", cases[i].url, cases[i].loopback);
	}
}

static void test_a_small_error_buffer_is_cut_not_overrun(void **state)
{
	char small[8];

	memset(small, 'x', sizeof(small));
	assert_int_equal(url_parse("ws://h:0/", &u, small, sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(url_parse("ws://h:0/", &u, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_urls_parse_into_their_parts),
		cmocka_unit_test(test_unix_socket_urls_take_node_ws_form),
		cmocka_unit_test(test_unix_socket_urls_are_checked),
		cmocka_unit_test(test_the_issues_hostile_urls_are_refused),
		cmocka_unit_test(test_bad_urls_say_what_and_where),
		cmocka_unit_test(test_credentials_are_refused_and_never_printed),
		cmocka_unit_test(test_overlong_parts_are_refused),
		cmocka_unit_test(test_loopback_is_judged_by_spelling),
		cmocka_unit_test(test_a_small_error_buffer_is_cut_not_overrun),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
