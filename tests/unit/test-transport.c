/* The WebSocket client transport (module/transport.c) against a real
 * libwebsockets server in the same context: hostile messages from the
 * service (over the size limit, as one frame or many fragments, text and
 * binary, endless) end the connection cleanly with a 1009 close and a
 * retryable error, never a crash, and the next connection works and
 * carries every audio frame; a message at the limit is delivered whole.
 * A ws+unix:// URL connects through the Unix socket client.
 *
 * Single-threaded: the test drives lws_service() until a condition holds
 * or a deadline passes (no sleeps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "errclass.h"
#include "transport.h"
#include "url.h"

#define DEADLINE_MS		10000
#define TICK_US			(20 * LWS_US_PER_MS)
#define SMALL_LIMIT		(64u * 1024)
#define AUDIO_FRAMES		50
#define AUDIO_FRAME_BYTES	3200
#define MAX_EVENTS		64
#define ENDLESS_CAP		(400u * SMALL_LIMIT)	/* bounds the endless sender */

/* ---- the server side: one scripted message per connection ---- */

struct plan {
	size_t before;		/* a small message first ("before"), if nonzero */
	size_t size;		/* then this message */
	bool binary;
	uint32_t fragments;	/* 1: one frame; 0: endless continuation frames */
	bool after;		/* then a small "after" message */
};

struct srv_conn {
	struct lws *wsi;
	struct plan plan;
	uint32_t step;		/* 0: before, 1..: fragments, then after */
	size_t sent;		/* of plan.size */
	int peer_close;		/* close code the client sent; 0: none */
	bool closed;
	uint8_t *audio;		/* every binary byte the client sent */
	size_t audio_len;
};

enum ev_type { EV_OPENED, EV_FAILED, EV_MESSAGE, EV_CLOSED, EV_RELEASED };

struct event {
	enum ev_type type;
	uint64_t conn;
	int code;
	enum err_class cls;
	size_t len;
	bool binary;
	char text[160];
};

struct harness {
	struct lws_context *ctx;
	struct lws_vhost *unix_vhost;
	lws_sorted_usec_list_t tick;
	int port;
	char sock_dir[64];
	char sock_path[128];
	struct plan next_plan;
	struct srv_conn srv[8];
	uint32_t n_srv;

	/* client side */
	struct transport *t;
	struct event ev[MAX_EVENTS];
	uint32_t n_ev;
	uint8_t *payload;	/* scratch for the server's messages */
};

static struct harness *H;

static struct srv_conn *srv_of(struct lws *wsi)
{
	for (uint32_t i = 0; i < H->n_srv; i++)
		if (H->srv[i].wsi == wsi)
			return &H->srv[i];
	return NULL;
}

static int srv_write(struct lws *wsi, const void *data, size_t len, bool binary,
		bool first, bool last)
{
	uint8_t *buf = H->payload;
	int flags = lws_write_ws_flags(binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, first, last);

	memcpy(buf + LWS_PRE, data, len);
	return lws_write(wsi, buf + LWS_PRE, len, (enum lws_write_protocol)flags) < (int)len ? -1 : 0;
}

/* One piece of the plan per WRITEABLE. */
static int srv_writeable(struct srv_conn *s, struct lws *wsi)
{
	const struct plan *p = &s->plan;
	uint32_t n_frag = p->fragments ? p->fragments : UINT32_MAX;
	size_t piece;
	bool last;

	if (s->step == 0) {
		s->step = 1;
		if (p->before && srv_write(wsi, "before", 6, false, true, true) < 0)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (s->sent < p->size || (p->fragments == 0 && s->sent < ENDLESS_CAP)) {
		size_t left = p->fragments ? p->size - s->sent : SMALL_LIMIT;
		piece = p->fragments ? (p->size + n_frag - 1) / n_frag : SMALL_LIMIT / 4;
		piece = piece < left ? piece : left;
		last = p->fragments != 0 && s->sent + piece == p->size;
		memset(H->payload + LWS_PRE, p->binary ? 0xa5 : 'x', piece);
		if (lws_write(wsi, H->payload + LWS_PRE, piece, (enum lws_write_protocol)
				lws_write_ws_flags(p->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
					s->sent == 0, last)) < (int)piece)
			return -1;
		s->sent += piece;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (p->after && s->step == 1) {
		s->step = 2;
		return srv_write(wsi, "after", 5, false, true, true);
	}
	return 0;
}

static int srv_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		void *in, size_t len)
{
	struct srv_conn *s = srv_of(wsi);

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		assert_true(H->n_srv < 8);
		s = &H->srv[H->n_srv++];
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		s->plan = H->next_plan;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return s ? srv_writeable(s, wsi) : 0;
	case LWS_CALLBACK_RECEIVE:
		if (s != NULL && lws_frame_is_binary(wsi)) {
			s->audio = realloc(s->audio, s->audio_len + len);
			assert_non_null(s->audio);
			memcpy(s->audio + s->audio_len, in, len);
			s->audio_len += len;
		}
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (s != NULL && len >= 2)
			s->peer_close = (((const uint8_t *)in)[0] << 8) | ((const uint8_t *)in)[1];
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (s != NULL) {
			s->closed = true;
			s->wsi = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* ---- the client side: events recorded in order ---- */

static struct event *push_ev(enum ev_type type, uint64_t conn)
{
	assert_true(H->n_ev < MAX_EVENTS);
	memset(&H->ev[H->n_ev], 0, sizeof(H->ev[0]));
	H->ev[H->n_ev].type = type;
	H->ev[H->n_ev].conn = conn;
	return &H->ev[H->n_ev++];
}

static void on_opened(void *data, uint64_t conn)
{
	push_ev(EV_OPENED, conn);
}

static void on_connect_failed(void *data, uint64_t conn, enum err_class cls, int http_status,
		int64_t retry_after_ms, const char *message)
{
	struct event *e = push_ev(EV_FAILED, conn);
	e->cls = cls;
	snprintf(e->text, sizeof(e->text), "%s", message);
}

static void on_writeable(void *data, uint64_t conn)
{
}

static void on_message(void *data, uint64_t conn, const char *msg, size_t len, bool binary)
{
	struct event *e = push_ev(EV_MESSAGE, conn);
	e->len = len;
	e->binary = binary;
	snprintf(e->text, sizeof(e->text), "%.*s", (int)(len < 40 ? len : 40), msg);
}

static void on_pong(void *data, uint64_t conn, uint64_t seq)
{
}

static void on_closed(void *data, uint64_t conn, int code, const char *reason)
{
	struct event *e = push_ev(EV_CLOSED, conn);
	e->code = code;
	snprintf(e->text, sizeof(e->text), "%s", reason ? reason : "");
}

static void on_released(void *data, uint64_t conn)
{
	push_ev(EV_RELEASED, conn);
}

static const struct transport_events events = {
	.opened = on_opened,
	.connect_failed = on_connect_failed,
	.writeable = on_writeable,
	.message = on_message,
	.pong = on_pong,
	.closed = on_closed,
	.released = on_released,
};

/* ---- driving ---- */

static void tick(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(H->ctx, 0, &H->tick, tick, TICK_US);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool run_until(bool (*cond)(const void *), const void *arg)
{
	uint64_t end = now_ms() + DEADLINE_MS;

	while (!cond(arg)) {
		if (now_ms() > end)
			return false;
		lws_service(H->ctx, 0);
	}
	return true;
}

static int find_ev(enum ev_type type, uint64_t conn)
{
	for (uint32_t i = 0; i < H->n_ev; i++)
		if (H->ev[i].type == type && H->ev[i].conn == conn)
			return (int)i;
	return -1;
}

static bool conn_ended(const void *arg)
{
	uint64_t conn = *(const uint64_t *)arg;
	return find_ev(EV_CLOSED, conn) >= 0 || find_ev(EV_FAILED, conn) >= 0;
}

static bool conn_opened(const void *arg)
{
	return find_ev(EV_OPENED, *(const uint64_t *)arg) >= 0 ||
	       conn_ended(arg);
}

static bool srv_closed(const void *arg)
{
	const struct srv_conn *s = arg;
	return s->closed;
}

static bool released(const void *arg)
{
	return find_ev(EV_RELEASED, *(const uint64_t *)arg) >= 0;
}

static bool failed(const void *arg)
{
	return find_ev(EV_FAILED, *(const uint64_t *)arg) >= 0;
}

static bool srv_has_audio(const void *arg)
{
	const struct srv_conn *s = arg;
	return s->audio_len >= AUDIO_FRAMES * AUDIO_FRAME_BYTES || s->closed;
}

static bool srv_has_bytes(const void *arg)
{
	const struct srv_conn *s = arg;
	return s->audio_len > 0 || s->closed;
}

static bool got_message(const void *arg)
{
	uint64_t conn = *(const uint64_t *)arg;
	return find_ev(EV_MESSAGE, conn) >= 0 || conn_ended(arg);
}

static struct transport *client_new(const char *url_text, uint32_t max_message)
{
	struct transport_config tc;
	char err[256];

	memset(&tc, 0, sizeof(tc));
	assert_int_equal(url_parse(url_text, &tc.url, err, sizeof(err)), 0);
	tc.ping_s = 30;
	tc.hangup_s = 40;
	tc.max_message = max_message;
	return transport_new(H->ctx, &tc, &events, H);
}

static int setup(void **state)
{
	static const struct lws_protocols proto_template = {
		"test-server", srv_callback, 0, 4096, 0, NULL, 0
	};
	static struct lws_protocols protocols[3];
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	H = calloc(1, sizeof(*H));
	assert_non_null(H);
	H->payload = malloc(LWS_PRE + 8 * 1024 * 1024);
	assert_non_null(H->payload);
	lws_set_log_level(getenv("LWS_DEBUG") ? atoi(getenv("LWS_DEBUG")) : LLL_ERR, NULL);
	protocols[0] = proto_template;
	protocols[1] = transport_protocol;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	H->ctx = lws_create_context(&info);
	assert_non_null(H->ctx);

	/* The client's vhost (no listener), then the servers' */
	info.vhost_name = "client";
	assert_non_null(lws_create_vhost(H->ctx, &info));
	info.vhost_name = "tcp";
	info.port = 0;
	info.iface = "127.0.0.1";
	vh = lws_create_vhost(H->ctx, &info);
	assert_non_null(vh);
	H->port = lws_get_vhost_listen_port(vh);
	assert_true(H->port > 0);

	snprintf(H->sock_dir, sizeof(H->sock_dir), "/tmp/test-transport-XXXXXX");
	assert_non_null(mkdtemp(H->sock_dir));
	snprintf(H->sock_path, sizeof(H->sock_path), "%s/server.sock", H->sock_dir);
	info.vhost_name = "unix";
	info.port = 0;
	info.iface = H->sock_path;
	info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
	H->unix_vhost = lws_create_vhost(H->ctx, &info);
	assert_non_null(H->unix_vhost);

	tick(NULL);
	*state = H;
	return 0;
}

static int teardown(void **state)
{
	lws_sul_cancel(&H->tick);
	lws_context_destroy(H->ctx);
	transport_destroy(H->t);
	for (uint32_t i = 0; i < H->n_srv; i++)
		free(H->srv[i].audio);
	unlink(H->sock_path);
	snprintf(H->sock_path, sizeof(H->sock_path), "%s/dead.sock", H->sock_dir);
	unlink(H->sock_path);
	rmdir(H->sock_dir);
	free(H->payload);
	free(H);
	H = NULL;
	return 0;
}

static const char *tcp_url(void)
{
	static char url[64];

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/transcribe-websocket", H->port);
	return url;
}

/* Opens conn, which the server answers with `plan`; returns its server side. */
static struct srv_conn *open_with(uint64_t conn, const struct plan *plan)
{
	uint32_t n = H->n_srv;

	H->next_plan = *plan;
	assert_int_equal(transport_open(H->t, conn, "127.0.0.1", NULL), 0);
	assert_true(run_until(conn_opened, &conn));
	assert_true(find_ev(EV_OPENED, conn) >= 0);
	assert_int_equal(H->n_srv, n + 1);
	return &H->srv[n];
}

/* A connection that works: a message each way, then AUDIO_FRAMES frames of
 * numbered audio arrive at the server complete and in order. */
static void assert_clean_connection(uint64_t conn)
{
	struct plan hello = { .size = 5, .fragments = 1 };
	struct srv_conn *s = open_with(conn, &hello);
	uint8_t frame[AUDIO_FRAME_BYTES];
	int i;

	assert_true(run_until(got_message, &conn));
	i = find_ev(EV_MESSAGE, conn);
	assert_true(i >= 0);
	assert_int_equal(H->ev[i].len, 5);
	for (uint32_t f = 0; f < AUDIO_FRAMES; f++) {
		memset(frame, (int)f, sizeof(frame));
		assert_int_equal(transport_send(H->t, conn, frame, sizeof(frame), false), 0);
	}
	assert_true(run_until(srv_has_audio, s));
	assert_int_equal(s->audio_len, AUDIO_FRAMES * AUDIO_FRAME_BYTES);
	for (uint32_t f = 0; f < AUDIO_FRAMES; f++)
		for (uint32_t b = 0; b < AUDIO_FRAME_BYTES; b += 797)
			assert_int_equal(s->audio[f * AUDIO_FRAME_BYTES + b], (uint8_t)f);
	transport_close(H->t, conn, 1000, false);
	assert_true(run_until(srv_closed, s));
	assert_true(run_until(released, &conn));
	assert_int_equal(s->peer_close, 1000);
}

/* The service's message is over the limit: the connection ends (retryable,
 * with our reason), the server hears close 1009, nothing after it is
 * delivered, and no message of it reaches the session. Returns whether the
 * server saw our close frame: lws drops a close that arrives while it is
 * part-way through writing a frame (the socket just ends then). */
static bool assert_refused(uint64_t conn, const struct plan *plan)
{
	struct srv_conn *s = open_with(conn, plan);
	int i, before;

	/* Audio queued meanwhile must not keep the connection alive. */
	for (int f = 0; f < 3; f++)
		transport_send(H->t, conn, "pcm", 3, false);
	assert_true(run_until(conn_ended, &conn));
	i = find_ev(EV_CLOSED, conn);
	assert_true(i >= 0);
	/* 1006: a local close, which the session retries with backoff (a
	 * peer's 1009 would be fatal: our own message too big) */
	assert_int_equal(H->ev[i].code, 1006);
	assert_non_null(strstr(H->ev[i].text, "1009"));
	assert_non_null(strstr(H->ev[i].text, "limit"));
	before = find_ev(EV_MESSAGE, conn);
	for (uint32_t k = 0; k < H->n_ev; k++) {
		if (H->ev[k].type != EV_MESSAGE || H->ev[k].conn != conn)
			continue;
		/* only the small message before the big one */
		assert_int_equal(k, before);
		assert_string_equal(H->ev[k].text, "before");
	}
	assert_true(plan->before == 0 || before >= 0);
	assert_true(run_until(srv_closed, s));
	assert_true(s->peer_close == 0 || s->peer_close == 1009);
	return s->peer_close == 1009;
}

static void test_oversized_text_in_one_frame_ends_the_connection_not_the_process(void **state)
{
	/* The crash: 1.5 MB of text against the default 1 MiB. */
	struct plan big = { .before = 1, .size = 1500000, .fragments = 1, .after = true };

	H->t = client_new(tcp_url(), 0);
	assert_non_null(H->t);
	assert_refused(1, &big);
	assert_clean_connection(2);
}

static void test_oversized_messages_of_every_shape_are_dropped_and_the_next_connection_works(void **state)
{
	static const struct plan shapes[] = {
		{ .before = 1, .size = SMALL_LIMIT + 1, .fragments = 1, .after = true },
		{ .before = 1, .size = 20 * SMALL_LIMIT, .fragments = 200, .after = true },
		{ .before = 1, .size = 3 * SMALL_LIMIT, .binary = true, .fragments = 1, .after = true },
		{ .before = 1, .size = SMALL_LIMIT + 1, .binary = true, .fragments = 1000, .after = true },
		{ .before = 0, .size = 2 * SMALL_LIMIT, .fragments = 2 },
		{ .before = 1, .size = 0, .fragments = 0 },	/* never ends */
	};
	uint32_t heard_1009 = 0;
	uint64_t conn = 1;

	H->t = client_new(tcp_url(), SMALL_LIMIT);
	assert_non_null(H->t);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		heard_1009 += assert_refused(conn++, &shapes[i]);
	/* The fragmented ones at least: the server is between frames. */
	assert_true(heard_1009 >= 2);
	assert_clean_connection(conn);
}

static void test_a_message_at_the_limit_is_delivered_whole(void **state)
{
	static const struct plan at_limit[] = {
		{ .size = SMALL_LIMIT, .fragments = 1, .after = true },
		{ .size = SMALL_LIMIT, .binary = true, .fragments = 7, .after = true },
	};

	H->t = client_new(tcp_url(), SMALL_LIMIT);
	assert_non_null(H->t);
	for (uint64_t conn = 1; conn <= 2; conn++) {
		struct srv_conn *s = open_with(conn, &at_limit[conn - 1]);
		int i;

		assert_true(run_until(got_message, &conn));
		i = find_ev(EV_MESSAGE, conn);
		assert_int_equal(H->ev[i].len, SMALL_LIMIT);
		assert_int_equal(H->ev[i].binary, at_limit[conn - 1].binary);
		transport_close(H->t, conn, 1000, false);
		assert_true(run_until(srv_closed, s));
		assert_true(run_until(released, &conn));
		assert_int_equal(s->peer_close, 1000);
	}
}

/* A socket file nobody listens on (its server went away). */
static void make_dead_socket(const char *url_rest)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s", (int)strcspn(url_rest, ":"), url_rest);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

/* ws+unix:///path:/resource connects through lws's Unix socket client;
 * the address given is ignored. Messages go both ways; a socket nobody
 * listens on is a retryable connect failure that names the path. */
static void test_a_unix_socket_url_connects_to_the_socket(void **state)
{
	char url[256];
	struct plan hello = { .size = 5, .fragments = 1 };
	struct srv_conn *s;
	uint64_t conn = 1;
	int i;

	snprintf(url, sizeof(url), "ws+unix://%s:/transcribe-websocket", H->sock_path);
	H->t = client_new(url, 0);
	H->next_plan = hello;
	assert_int_equal(transport_open(H->t, conn, "", NULL), 0);
	assert_true(run_until(got_message, &conn));
	assert_int_equal(H->n_srv, 1);
	s = &H->srv[0];
	i = find_ev(EV_MESSAGE, conn);
	assert_true(i >= 0);
	assert_int_equal(H->ev[i].len, 5);
	assert_int_equal(transport_send(H->t, conn, "audio", 5, false), 0);
	assert_true(run_until(srv_has_bytes, s));
	assert_memory_equal(s->audio, "audio", 5);
	transport_close(H->t, conn, 1000, false);
	assert_true(run_until(released, &conn));
	transport_destroy(H->t);

	/* No server: it says so at once, from the loop like any failure (the
	 * caller retries with backoff). */
	snprintf(url, sizeof(url), "ws+unix://%s/nobody.sock:/x", H->sock_dir);
	H->t = client_new(url, 0);
	conn = 2;
	assert_int_equal(transport_open(H->t, conn, "", NULL), 0);
	assert_true(run_until(failed, &conn));
	assert_non_null(strstr(H->ev[find_ev(EV_FAILED, conn)].text, "nobody.sock"));
	transport_destroy(H->t);
	snprintf(url, sizeof(url), "ws+unix://%s/dead.sock:/x", H->sock_dir);
	make_dead_socket(url + strlen("ws+unix://"));
	H->t = client_new(url, 0);
	conn = 3;
	assert_int_equal(transport_open(H->t, conn, "", NULL), 0);
	assert_true(run_until(failed, &conn));
	assert_non_null(strstr(H->ev[find_ev(EV_FAILED, conn)].text, "dead.sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_oversized_text_in_one_frame_ends_the_connection_not_the_process,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_oversized_messages_of_every_shape_are_dropped_and_the_next_connection_works,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_message_at_the_limit_is_delivered_whole,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_unix_socket_url_connects_to_the_socket,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
