/* fault-client: a small libwebsockets client for poking fault-server (or
 * any Soniox-style endpoint) and reporting exactly what it saw.
 *
 *   fault-client --url ws[s]://HOST:PORT/PATH [--unix SOCKET] [--wav FILE] [--speed X]
 *                [--chunk-ms N] [--key K] [--api-key K] [--config JSON]
 *                [--no-config] [--send-at MS:TEXT]... [--hold-ms N]
 *                [--end text|binary|none] [--ping-s N --pong-timeout-s M]
 *                [--connect-timeout-s N] [--timeout-s N] [--ca FILE] [--insecure]
 *                [--lws-debug BITS]
 *
 * It connects (to the Unix socket SOCKET with --unix: the URL then gives
 * only the scheme, Host and path; sending "Authorization: Bearer K" with
 * --key), sends the
 * config (default: model stt-rt-v5, pcm_s16le, the WAV's rate and channels,
 * plus "api_key" with --api-key; --config replaces it verbatim), streams the
 * WAV's 16-bit PCM in --chunk-ms (100) messages at --speed (1) times real
 * time (0 = as fast as possible), sends each --send-at TEXT once MS of audio
 * went out (e.g. --send-at '1000:{"type":"finalize"}'), waits --hold-ms,
 * ends the stream (--end text: an empty text message, the default; binary:
 * an empty binary message; none) and waits for the server to close.
 * --ping-s/--pong-timeout-s set the lws validity policy (WebSocket pings;
 * no pong in time -> the client hangs up).
 *
 * Output: one line per event on stdout, flushed:
 *   http status=<n> retry_after=<v|->      the upgrade response status
 *   connect-error reason=<lws text>        no WebSocket (also after a non-101, and
 *                                          "closed-before-upgrade" when no 101 came
 *                                          within --connect-timeout-s)
 *   open
 *   sent config|text len=<n>|end=<text|binary>
 *   sent audio_ms=<t>                      every second of audio, and at the end
 *   recv text len=<n> json=<ok|bad> data=<message, control bytes as \xNN; "-" if > 64 KiB>
 *   recv binary len=<n>
 *   pong
 *   peer-close code=<c> reason=<text>      a close frame arrived (lws 4.1 shows 1012..1014 as 1002)
 *   closed code=<c>                        c = peer's close code, else 1006
 *   timeout                                --timeout-s (30) passed
 *   exit status=<rc>
 * Exit status: 0 = "finished" received and closed with 1000; 1 = closed
 * otherwise; 2 = usage/setup; 3 = no WebSocket (connect error, HTTP reject);
 * 4 = timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-int.h"
#include "fc-wav.h"

#define MAX_SEND_AT		16
#define MAX_PRINT		(64 * 1024)
#define MAX_MESSAGE		(64 * 1024 * 1024)
#define RX_BUFFER_SIZE		65536

struct msg {
	struct msg *next;
	bool binary;
	const char *label;	/* printed as "sent <label>" when written; NULL: audio */
	size_t len;
	unsigned char data[];	/* LWS_PRE + len */
};

struct send_at {
	uint64_t ms;
	const char *text;
	bool sent;
};

static struct client {
	/* options */
	const char *url, *unix_path, *wav_path, *key, *api_key, *config, *ca;
	double speed;
	unsigned chunk_ms, hold_ms;
	int ping_s, pong_timeout_s, timeout_s, connect_timeout_s, lws_debug;
	bool no_config, insecure;
	enum { END_TEXT, END_BINARY, END_NONE } end;
	struct send_at send_at[MAX_SEND_AT];
	size_t n_send_at;

	/* state */
	struct wav wav;
	struct lws_context *ctx;
	struct lws *wsi;
	lws_sorted_usec_list_t sul_audio, sul_timeout;
	struct msg *q_head, *q_tail;
	size_t frames_sent;
	uint64_t next_log_s;
	int64_t t0_us;
	unsigned chunks;
	bool done, got_finished, audio_done;
	int peer_code, rc;
	unsigned char *rx;
	size_t rx_len, rx_cap;
	bool rx_overflow;
	lws_retry_bo_t retry;
} C = { .speed = 1.0, .chunk_ms = 100, .timeout_s = 30, .connect_timeout_s = 10, .next_log_s = 1 };

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void finish(int rc)
{
	if (C.done)
		return;
	C.done = true;
	C.rc = rc;
	lws_cancel_service(C.ctx);
}

static void enqueue(bool binary, const void *data, size_t len, const char *label)
{
	struct msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m) {
		out("error what=out-of-memory");
		finish(2);
		return;
	}
	m->next = NULL;
	m->binary = binary;
	m->label = label;
	m->len = len;
	if (len)
		memcpy(m->data + LWS_PRE, data, len);
	if (C.q_tail)
		C.q_tail->next = m;
	else
		C.q_head = m;
	C.q_tail = m;
	if (C.wsi)
		lws_callback_on_writable(C.wsi);
}

static uint64_t audio_ms_sent(void)
{
	return C.wav.rate ? (uint64_t)C.frames_sent * 1000 / C.wav.rate : 0;
}

static void send_config(void)
{
	json_object *o;
	const char *s;

	if (C.no_config)
		return;
	if (C.config) {
		enqueue(false, C.config, strlen(C.config), "config");
		return;
	}
	o = json_object_new_object();
	if (C.api_key)
		json_object_object_add(o, "api_key", json_object_new_string(C.api_key));
	json_object_object_add(o, "model", json_object_new_string("stt-rt-v5"));
	json_object_object_add(o, "audio_format", json_object_new_string("pcm_s16le"));
	json_object_object_add(o, "sample_rate", json_object_new_int((int)(C.wav.rate ? C.wav.rate : 16000)));
	json_object_object_add(o, "num_channels", json_object_new_int(C.wav.channels ? C.wav.channels : 1));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	enqueue(false, s, strlen(s), "config");
	json_object_put(o);
}

static void send_due_texts(void)
{
	for (size_t i = 0; i < C.n_send_at; i++) {
		if (!C.send_at[i].sent && audio_ms_sent() >= C.send_at[i].ms) {
			C.send_at[i].sent = true;
			enqueue(false, C.send_at[i].text, strlen(C.send_at[i].text), "text");
		}
	}
}

static void end_cb(lws_sorted_usec_list_t *sul)
{
	send_due_texts();	/* any MS beyond the audio */
	for (size_t i = 0; i < C.n_send_at; i++)
		if (!C.send_at[i].sent) {
			C.send_at[i].sent = true;
			enqueue(false, C.send_at[i].text, strlen(C.send_at[i].text), "text");
		}
	if (C.end == END_TEXT)
		enqueue(false, "", 0, "end=text");
	else if (C.end == END_BINARY)
		enqueue(true, "", 0, "end=binary");
}

/* Paced by an absolute schedule: chunk k is due at t0 + k * chunk / speed. */
static void audio_cb(lws_sorted_usec_list_t *sul)
{
	size_t per = (size_t)C.wav.rate * C.chunk_ms / 1000, n;
	size_t fb = (size_t)C.wav.channels * 2;
	int64_t due;

	if (C.done || !C.wsi)
		return;
	if (per == 0)
		per = 1;
	n = C.wav.frames - C.frames_sent;
	if (n > per)
		n = per;
	if (n > 0) {
		enqueue(true, C.wav.data + C.frames_sent * fb, n * fb, NULL);
		C.frames_sent += n;
		C.chunks++;
		if (audio_ms_sent() / 1000 >= C.next_log_s) {
			out("sent audio_ms=%llu", (unsigned long long)audio_ms_sent());
			C.next_log_s = audio_ms_sent() / 1000 + 1;
		}
		send_due_texts();
	}
	if (C.frames_sent >= C.wav.frames) {
		out("sent audio_ms=%llu", (unsigned long long)audio_ms_sent());
		C.audio_done = true;
		lws_sul_schedule(C.ctx, 0, &C.sul_audio, end_cb, (lws_usec_t)C.hold_ms * 1000);
		return;
	}
	if (C.speed <= 0.0) {
		lws_sul_schedule(C.ctx, 0, &C.sul_audio, audio_cb, 1);
		return;
	}
	due = C.t0_us + (int64_t)((double)C.chunks * C.chunk_ms * 1000.0 / C.speed);
	due -= lws_now_usecs();
	lws_sul_schedule(C.ctx, 0, &C.sul_audio, audio_cb, due > 0 ? due : 1);
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
	out("timeout");
	finish(4);
}

static void print_text(const unsigned char *p, size_t len)
{
	json_object *o = json_tokener_parse((const char *)p);	/* p is NUL-terminated */
	char *esc;
	size_t k = 0;

	if (o && json_object_is_type(o, json_type_object)) {
		json_object *f;
		if (json_object_object_get_ex(o, "finished", &f) && json_object_get_boolean(f))
			C.got_finished = true;
	}
	if (len > MAX_PRINT) {
		out("recv text len=%zu json=%s data=-", len, o ? "ok" : "bad");
		json_object_put(o);
		return;
	}
	esc = malloc(len * 4 + 1);
	if (esc) {
		for (size_t i = 0; i < len; i++) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				k += (size_t)sprintf(esc + k, "\\x%02x", p[i]);
			else
				esc[k++] = (char)p[i];
		}
		esc[k] = '\0';
	}
	out("recv text len=%zu json=%s data=%s", len, o ? "ok" : "bad", esc ? esc : "-");
	free(esc);
	json_object_put(o);
}

static void on_receive(struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		C.rx_len = 0;
		C.rx_overflow = false;
	}
	if (!C.rx_overflow && C.rx_len + len + 1 > C.rx_cap) {
		size_t cap = C.rx_cap ? C.rx_cap : RX_BUFFER_SIZE;
		unsigned char *r;
		while (cap < C.rx_len + len + 1)
			cap *= 2;
		r = cap <= MAX_MESSAGE ? realloc(C.rx, cap) : NULL;
		if (r) {
			C.rx = r;
			C.rx_cap = cap;
		} else {
			C.rx_overflow = true;
		}
	}
	if (!C.rx_overflow) {
		memcpy(C.rx + C.rx_len, in, len);
		C.rx_len += len;
		C.rx[C.rx_len] = '\0';
	}
	if (!lws_is_final_fragment(wsi))
		return;
	if (C.rx_overflow)
		out("recv %s len=overflow", lws_frame_is_binary(wsi) ? "binary" : "text");
	else if (lws_frame_is_binary(wsi))
		out("recv binary len=%zu", C.rx_len);
	else
		print_text(C.rx ? C.rx : (const unsigned char *)"", C.rx_len);
}

static int on_writeable(struct lws *wsi)
{
	struct msg *m = C.q_head;
	int n;

	if (!m)
		return 0;
	C.q_head = m->next;
	if (!C.q_head)
		C.q_tail = NULL;
	n = lws_write(wsi, m->data + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
	if (m->label && !strcmp(m->label, "text"))
		out("sent text len=%zu", m->len);
	else if (m->label)
		out("sent %s", m->label);
	free(m);
	if (n < 0)
		return -1;
	if (C.q_head)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	unsigned char **p = in, *end;
	const unsigned char *b = in;
	char buf[256], ra[64];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (!C.key)
			return 0;
		end = *p + len;
		snprintf(buf, sizeof(buf), "Bearer %s", C.key);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
						 (unsigned char *)buf, (int)strlen(buf), p, end))
			return -1;
		return 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (lws_hdr_copy(wsi, ra, sizeof(ra), WSI_TOKEN_HTTP_RETRY_AFTER) <= 0)
			strcpy(ra, "-");
		out("http status=%u retry_after=%s", lws_http_client_http_response(wsi), ra);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		out("connect-error reason=%s", in ? (const char *)in : "-");
		C.wsi = NULL;
		finish(3);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		out("open");
		send_config();
		C.t0_us = lws_now_usecs();
		if (C.wav.frames)
			lws_sul_schedule(C.ctx, 0, &C.sul_audio, audio_cb, 1);
		else
			lws_sul_schedule(C.ctx, 0, &C.sul_audio, end_cb, (lws_usec_t)C.hold_ms * 1000);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		out("pong");
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		C.peer_code = len >= 2 ? (b[0] << 8) | b[1] : 1005;
		snprintf(buf, sizeof(buf), "%.*s", len > 2 ? (int)(len - 2) : 0, len > 2 ? (const char *)b + 2 : "");
		out("peer-close code=%d reason=%s", C.peer_code, buf[0] ? buf : "-");
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		/* lws 4.1.6: a ws client that times out waiting for the upgrade
		 * response (timeout_secs) gets this, and neither
		 * CLIENT_CONNECTION_ERROR nor CLIENT_CLOSED */
		if (!C.wsi && C.done)
			return 0;
		out("connect-error reason=closed-before-upgrade (CLOSED_CLIENT_HTTP)");
		C.wsi = NULL;
		finish(3);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		out("closed code=%d", C.peer_code ? C.peer_code : 1006);
		C.wsi = NULL;
		finish(C.got_finished && C.peer_code == 1000 ? 0 : 1);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "fault-client", callback, 0, RX_BUFFER_SIZE, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static int connect_now(void)
{
	struct lws_client_connect_info ci;
	char url[512], path[512], unix_addr[512];
	const char *prot, *addr, *p;
	int port;

	snprintf(url, sizeof(url), "%s", C.url);
	if (lws_parse_uri(url, &prot, &addr, &port, &p)) {
		fprintf(stderr, "fault-client: bad --url %s\n", C.url);
		return -1;
	}
	snprintf(path, sizeof(path), "/%s", p);
	memset(&ci, 0, sizeof(ci));
	ci.context = C.ctx;
	ci.address = addr;
	ci.port = port;
	if (C.unix_path) {
		/* lws 4.1: an address starting with '+' is a Unix socket */
		snprintf(unix_addr, sizeof(unix_addr), "+%s", C.unix_path);
		ci.address = unix_addr;
	}
	ci.path = path;
	ci.host = addr;
	ci.origin = addr;
	ci.protocol = NULL;
	ci.local_protocol_name = protocols[0].name;
	ci.pwsi = &C.wsi;
	if (!strcmp(prot, "wss") || !strcmp(prot, "https")) {
		ci.ssl_connection = LCCSCF_USE_SSL;
		if (C.insecure)
			ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	}
	if (C.ping_s > 0) {
		C.retry.secs_since_valid_ping = (uint16_t)C.ping_s;
		C.retry.secs_since_valid_hangup = (uint16_t)(C.ping_s + C.pong_timeout_s);
		ci.retry_and_idle_policy = &C.retry;
	}
	out("connecting url=%s", C.url);
	if (!lws_client_connect_via_info(&ci)) {
		out("connect-error reason=connect-failed");
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: fault-client --url ws[s]://HOST:PORT/PATH [--unix SOCKET] [--wav FILE] [--speed X]\n"
	      "         [--chunk-ms N] [--key K] [--api-key K] [--config JSON] [--no-config]\n"
	      "         [--send-at MS:TEXT]... [--hold-ms N] [--end text|binary|none]\n"
	      "         [--ping-s N --pong-timeout-s M] [--connect-timeout-s N] [--timeout-s N]\n"
	      "         [--ca FILE] [--insecure] [--lws-debug BITS]\n", f);
}

static int int_opt(const char *name, const char *v, long min, long max, long *outv)
{
	return cli_int("fault-client", name, v, min, max, outv);
}

static int parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "unix", required_argument, NULL, 'U' },
		{ "wav", required_argument, NULL, 'w' },
		{ "speed", required_argument, NULL, 's' },
		{ "chunk-ms", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "api-key", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'C' },
		{ "no-config", no_argument, NULL, 'N' },
		{ "send-at", required_argument, NULL, 'S' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "end", required_argument, NULL, 'e' },
		{ "ping-s", required_argument, NULL, 'p' },
		{ "pong-timeout-s", required_argument, NULL, 'P' },
		{ "connect-timeout-s", required_argument, NULL, 'T' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "ca", required_argument, NULL, 'A' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "lws-debug", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *e;
	long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': C.url = optarg; break;
		case 'U': C.unix_path = optarg; break;
		case 'w': C.wav_path = optarg; break;
		case 's':
			C.speed = strtod(optarg, &e);
			if (*e || C.speed < 0.0 || C.speed > 1000.0) {
				fprintf(stderr, "fault-client: --speed: 0 (no pacing) .. 1000\n");
				return -1;
			}
			break;
		case 'c':
			if (int_opt("chunk-ms", optarg, 1, 10000, &v))
				return -1;
			C.chunk_ms = (unsigned)v;
			break;
		case 'k': C.key = optarg; break;
		case 'a': C.api_key = optarg; break;
		case 'C': C.config = optarg; break;
		case 'N': C.no_config = true; break;
		case 'S':
			if (C.n_send_at == MAX_SEND_AT || !strchr(optarg, ':')) {
				fprintf(stderr, "fault-client: --send-at MS:TEXT (at most %d)\n", MAX_SEND_AT);
				return -1;
			}
			C.send_at[C.n_send_at].ms = strtoull(optarg, &e, 10);
			if (*e != ':') {
				fprintf(stderr, "fault-client: --send-at MS:TEXT\n");
				return -1;
			}
			C.send_at[C.n_send_at++].text = e + 1;
			break;
		case 'H':
			if (int_opt("hold-ms", optarg, 0, 3600000, &v))
				return -1;
			C.hold_ms = (unsigned)v;
			break;
		case 'e':
			if (!strcmp(optarg, "text"))
				C.end = END_TEXT;
			else if (!strcmp(optarg, "binary"))
				C.end = END_BINARY;
			else if (!strcmp(optarg, "none"))
				C.end = END_NONE;
			else {
				fprintf(stderr, "fault-client: --end text|binary|none\n");
				return -1;
			}
			break;
		case 'p':
			if (int_opt("ping-s", optarg, 1, 3600, &v))
				return -1;
			C.ping_s = (int)v;
			break;
		case 'P':
			if (int_opt("pong-timeout-s", optarg, 1, 3600, &v))
				return -1;
			C.pong_timeout_s = (int)v;
			break;
		case 'T':
			if (int_opt("connect-timeout-s", optarg, 1, 3600, &v))
				return -1;
			C.connect_timeout_s = (int)v;
			break;
		case 't':
			if (int_opt("timeout-s", optarg, 1, 86400, &v))
				return -1;
			C.timeout_s = (int)v;
			break;
		case 'A': C.ca = optarg; break;
		case 'I': C.insecure = true; break;
		case 'd':
			if (int_opt("lws-debug", optarg, 0, 0xffff, &v))
				return -1;
			C.lws_debug = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!C.url || optind < argc) {
		usage(stderr);
		return -1;
	}
	if (C.ping_s && !C.pong_timeout_s)
		C.pong_timeout_s = C.ping_s;
	return 0;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	int rc;

	if (parse_options(argc, argv))
		return 2;
	if (C.wav_path && wav_load(C.wav_path, &C.wav)) {
		fprintf(stderr, "fault-client: cannot read %s as 16-bit PCM WAV\n", C.wav_path);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(C.lws_debug ? C.lws_debug : LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.timeout_secs = (unsigned)C.connect_timeout_s;
	info.connect_timeout_secs = (unsigned)C.connect_timeout_s;
	info.client_ssl_ca_filepath = C.ca;
	C.ctx = lws_create_context(&info);
	if (!C.ctx) {
		fprintf(stderr, "fault-client: libwebsockets setup failed\n");
		wav_free(&C.wav);
		return 2;
	}
	lws_sul_schedule(C.ctx, 0, &C.sul_timeout, timeout_cb, (lws_usec_t)C.timeout_s * LWS_US_PER_SEC);
	if (connect_now())
		finish(3);
	while (!C.done)
		if (lws_service(C.ctx, 0) < 0)
			break;
	rc = C.rc;
	lws_sul_cancel(&C.sul_audio);
	lws_sul_cancel(&C.sul_timeout);
	lws_context_destroy(C.ctx);
	while (C.q_head) {
		struct msg *m = C.q_head;
		C.q_head = m->next;
		free(m);
	}
	free(C.rx);
	wav_free(&C.wav);
	out("exit status=%d", rc);
	return rc;
}
