/* fault-server: a local Soniox-style speech-to-text WebSocket server with a
 * deterministic fake recognizer and scriptable faults per connection.
 * Integration, fault and bench tests run the module (or fault-client)
 * against it.
 *
 *   fault-server [--port P] [--address A] [--key K] [--auth-mode json|http]
 *                [--fault N:SPEC]... [--quit-after-idle S] [--no-stdin]
 *                [--tls-cert FILE --tls-key FILE] [--threshold-db D]
 *                [--hangover-ms MS] [--min-word-ms MS] [--partial-ms MS]
 *                [--progress-ms MS] [--lws-debug BITS]
 *
 * Listening
 *   --address (default 127.0.0.1) must be an IP literal: 127.0.0.1, ::1, or
 *   an address inside a test network namespace. --port 0 (the default) picks
 *   a free port. The server binds its own socket and hands every accepted
 *   connection to libwebsockets (lws_adopt_descriptor_vhost), so the bind
 *   address, the port and delay_accept are exact. The first line on stdout is
 *       listening port=<p> address=<a> tls=<0|1>
 *   With --tls-cert/--tls-key it speaks wss:// (see "Test CA" below).
 *
 * Protocol (the Soniox real-time subset; any request path is accepted)
 *   - Upgrade: with --key K the request should carry "Authorization: Bearer K".
 *     --auth-mode json (default): a missing/bad header is reported when the
 *     config arrives: the config's "api_key" may stand in for a missing
 *     header; otherwise {"error_code":401,...} and close 1000.
 *     --auth-mode http: missing/bad header -> HTTP 401 instead of 101.
 *     Without --key, every request is accepted.
 *   - First text message: JSON config; "audio_format":"pcm_s16le",
 *     "sample_rate" 8000..48000, "num_channels" 1 or 2 (2 is averaged to
 *     mono) are required; "model" is logged; "enable_speaker_diarization":
 *     true gives each word a "speaker": words below 1500 Hz are one voice,
 *     the others another, numbered "1", "2" in the order this connection
 *     first hears them (so labels change between connections, as a real
 *     diarizer's do), also in the log ("... speaker=<n>"). Anything else ->
 *     {"error_code":400,"error_message":"..."} then close 1000. Audio before
 *     the config is a 400 too.
 *   - Binary messages: S16LE PCM, any size (odd sizes are carried over).
 *   - Responses: {"tokens":[...],"final_audio_proc_ms":F,"total_audio_proc_ms":T}
 *     tokens = new final words first (each sent once), then the word in
 *     progress as a non-final token. A token:
 *       {"text":" w700","start_ms":500,"end_ms":750,"confidence":0.99,"is_final":true}
 *     T = audio processed (10 ms frames); F = start of the word in progress,
 *     else T. A response is sent after a binary message when a word became
 *     final, when a word is in progress and partial-ms (100) of audio passed
 *     since the last partial, or when progress-ms (200) passed since the last
 *     response.
 *   - {"type":"keepalive"}: nothing (logged). {"type":"finalize"}: the word in
 *     progress becomes final, then a final "<fin>" token (start=end=T).
 *     Other text messages: error 400 + close.
 *   - End of stream: an empty text message or an empty binary message:
 *     remaining words become final, {"tokens":[...],...,"finished":true},
 *     then close 1000.
 *
 * Fake recognizer (fs-recognizer.h): a word is a stretch of 10 ms frames with
 * RMS above --threshold-db (-30 dBFS), ended by --hangover-ms (150) of frames
 * below it; its text is "w<f>" with f its zero-crossing frequency rounded to
 * 100 Hz; words shorter than --min-word-ms (30) are dropped. start_ms/end_ms
 * are onset/offset in this connection's audio (sample counting, 10 ms grid,
 * so an edge off the grid moves by < 10 ms). make-tones.py writes matching
 * test audio; sine bursts of 100..7600 Hz at 16 kHz (amplitude >= 0.1,
 * >= 100 ms, gaps >= 160 ms) come back exactly, so distinct frequencies make
 * a vocabulary for checking order, gaps and duplicates across reconnects.
 *
 * Faults: connection N (1-based, in accept order) gets the spec set for N,
 * else the one set for "all", else none. A spec is a comma-separated list:
 *   http=<status>[;retry_after=<s>]  answer the upgrade with that status
 *                          (and Retry-After), a small JSON body,
 *                          "connection: close", then hang up.
 *   delay_accept=<ms>      accept the TCP connection but leave the upgrade
 *                          request unread for <ms> (the 101 comes that late).
 *   rst@<ms>               TCP reset (SO_LINGER 0 + close), no close frame.
 *   fin@<ms>               TCP FIN (shutdown + close), no close frame.
 *   close=<code>@<ms>      WebSocket close with <code> (1000..4999). An lws
 *                          4.1 client sees 1012..1014 as 1002.
 *   error=<code>@<ms>[;close=<ws>]  {"error_code":<code>,...} then close
 *                          <ws> (default 1000).
 *   limit=<ms>             at <ms> of audio: error 503 "session limit", close.
 *   stall@<ms>[;for=<ms>]  stop reading and writing: client pings go
 *                          unanswered (nothing is read), nothing is sent;
 *                          resume after for= (wall-clock ms) if given. A peer
 *                          that hangs up meanwhile is noticed (TCP state,
 *                          every 50 ms) and dropped.
 *   mute@<ms>              keep reading (pongs still go out) but never send
 *                          another message, not even "finished"/close.
 *   garbage@<ms>[;bytes=<n>]  a non-JSON text frame, then a binary frame of
 *                          <n> bytes (default 1 MiB); the session goes on.
 *   oversized@<ms>[;bytes=<n>]  one text frame of <n> bytes (default 1 MiB)
 *                          that is a valid, padded response.
 *   idle=<ms>              no message (audio, keepalive, ...) for <ms> of wall
 *                          time -> error 408 + close 1000 (Soniox closes idle
 *                          sessions after ~20 s: "all:idle=20000").
 * "@<ms>" = once this connection has received <ms> of audio; checked when
 * the upgrade completes (@0 fires right away), after the config and after
 * every binary message, so the items go out after the responses to the
 * audio that crossed the mark. Items fire once each, in <ms> order. After a
 * terminal item (rst, fin, close, error, limit) input is ignored. Timed items
 * after a stall can only fire once the stall ends.
 *
 * Control (stdin, one command a line; replies on stdout)
 *   fault <N|next|all>:<SPEC>  set faults ("none" clears). An open
 *                              connection takes the new timed items at once
 *                              (e.g. "fault 3:rst@0" resets conn 3 now);
 *                              http/delay_accept only matter before the
 *                              upgrade. Reply: "ok fault <N>:<SPEC>".
 *   status                     "status open=<k> accepted=<n>"
 *   quit                       exit (like SIGTERM)
 * Bad commands get "error <reason>". EOF on stdin is ignored (--no-stdin
 * skips reading it). --fault N:SPEC (N a number or "all") does the same
 * from the command line. Wait for the "ok" line before connecting.
 *
 * Event log (stdout, one line each, flushed):
 *   listening port=<p> address=<a> tls=<0|1>
 *   conn=<n> accept peer=<ip> port=<p> faults=<spec|none>
 *   connections open=<k>            whenever the number of TCP connections
 *                                   (accepted, not yet closed) changes
 *   conn=<n> upgrade path=<path> auth=<ok|missing|bad>
 *   conn=<n> open path=<path> auth=<...>   WebSocket established
 *   conn=<n> config rate=<hz> channels=<c> model=<m> auth=<...>
 *   conn=<n> audio_ms=<total>       each time another second of audio is in
 *   conn=<n> final text=w700 start_ms=<s> end_ms=<e>
 *   conn=<n> keepalive | finalize audio_ms=<t> | end-of-stream audio_ms=<t> | finished
 *   conn=<n> fault <what>[=<code>] audio_ms=<t>   (http/delay_accept: fault http=<s> ...)
 *   conn=<n> error code=<c> close=<ws>             error JSON sent
 *   conn=<n> stall begin for_ms=<ms> | stall end | stall peer-gone
 *   conn=<n> peer-close code=<c>
 *   conn=<n> closed code=<c> by=<server|peer> (audio_ms=<t> | http=<status>)
 *       code: the close code we sent, else the one received, else 1006
 *       (no close frame); 0 if the connection never upgraded. by=server when
 *       we closed it (close frame, rst, fin, HTTP reject, exit).
 *   exit reason=<signal|idle|quit>
 * Auth header values are never printed.
 *
 * Lifetime: SIGINT/SIGTERM or "quit" exit cleanly; --quit-after-idle S exits
 * after S seconds without any connection (off by default). Exit status 0,
 * or 2 on bad usage / setup failure.
 *
 * Test CA for wss:// (openssl, 1 day):
 *   openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca \
 *       -keyout ca.key -out ca.pem
 *   openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
 *       -keyout server.key -out server.csr
 *   printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
 *   openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
 *       -CAcreateserial -days 1 -extfile san.ext -out server.pem
 *   fault-server --tls-cert server.pem --tls-key server.key
 *   fault-client --url wss://localhost:<p>/ --ca ca.pem ...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fs-log.h"
#include "ip-listen.h"
#include "fs-server.h"

#define DEFAULT_ADDRESS		"127.0.0.1"
#define TICK_US			(50 * 1000)
#define RX_BUFFER_SIZE		65536
#define LISTEN_BACKLOG		128
#define MAX_ACCEPTS_PER_WAKE	64
#define CTL_LINE_MAX		1024
#define DEFAULT_PARTIAL_MS	100
#define DEFAULT_PROGRESS_MS	200

struct server g_srv;

static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {
	{ "fault-server-ws", fs_ws_callback, 0, RX_BUFFER_SIZE, 0, NULL, 0 },
	{ "fault-server-raw", raw_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void usage(FILE *f)
{
	fputs("usage: fault-server [--port P] [--address A] [--key K] [--auth-mode json|http]\n"
	      "         [--fault N:SPEC]... [--quit-after-idle S] [--no-stdin]\n"
	      "         [--tls-cert FILE --tls-key FILE] [--threshold-db D] [--hangover-ms MS]\n"
	      "         [--min-word-ms MS] [--partial-ms MS] [--progress-ms MS] [--lws-debug BITS]\n"
	      "See the top of tests/faults/fault-server.c for protocol, faults and control.\n", f);
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "N:SPEC" / "next:SPEC" / "all:SPEC" -> table; open connections take it too. */
static int set_fault(const char *arg, char *err, size_t errlen, unsigned *index)
{
	struct fault_spec spec;
	const char *colon = strchr(arg, ':');
	char *end;
	unsigned long n;
	struct conn *c;

	if (!colon) {
		snprintf(err, errlen, "expected <N|next|all>:<SPEC>");
		return -1;
	}
	if (!strncmp(arg, "all:", 4)) {
		n = FAULT_INDEX_ALL;
	} else if (!strncmp(arg, "next:", 5)) {
		n = g_srv.accepted + 1;
	} else {
		n = strtoul(arg, &end, 10);
		if (end != colon || n == 0 || n > 1000000) {
			snprintf(err, errlen, "bad connection index (1-based number, next or all)");
			return -1;
		}
	}
	if (fault_parse(colon + 1, &spec, err, errlen) < 0)
		return -1;
	if (fault_table_set(g_srv.faults, (unsigned)n, &spec) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (n != FAULT_INDEX_ALL && (c = conn_find((unsigned)n)))
		conn_set_faults(c, &spec);
	*index = (unsigned)n;
	return 0;
}

static void ctl_command(char *line)
{
	char err[160];
	unsigned index;
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
	while (*line == ' ')
		line++;
	if (!*line || *line == '#')
		return;
	if (!strncmp(line, "fault ", 6)) {
		if (set_fault(line + 6, err, sizeof(err), &index))
			fs_log("error %s", err);
		else if (index == FAULT_INDEX_ALL)
			fs_log("ok fault all:%s", strchr(line, ':') + 1);
		else
			fs_log("ok fault %u:%s", index, strchr(line, ':') + 1);
	} else if (!strcmp(line, "status")) {
		fs_log("status open=%u accepted=%u", g_srv.open, g_srv.accepted);
	} else if (!strcmp(line, "quit")) {
		g_srv.quit_reason = "quit";
		g_srv.quit = 1;
	} else {
		fs_log("error unknown command (fault <N|next|all>:<SPEC>, status, quit)");
	}
}

static void ctl_drain(void)
{
	struct ctl_line *l, *next;

	pthread_mutex_lock(&g_srv.ctl_lock);
	l = g_srv.ctl_head;
	g_srv.ctl_head = g_srv.ctl_tail = NULL;
	pthread_mutex_unlock(&g_srv.ctl_lock);
	for (; l; l = next) {
		next = l->next;
		ctl_command(l->text);
		free(l);
	}
}

/* stdin reader thread: queues lines and wakes the service loop. */
static void *ctl_thread(void *arg)
{
	char buf[CTL_LINE_MAX];
	struct ctl_line *l;
	size_t n;

	(void)arg;
	while (fgets(buf, sizeof(buf), stdin)) {
		n = strlen(buf);
		l = malloc(sizeof(*l) + n + 1);
		if (!l)
			continue;
		l->next = NULL;
		memcpy(l->text, buf, n + 1);
		pthread_mutex_lock(&g_srv.ctl_lock);
		if (g_srv.ctl_tail)
			g_srv.ctl_tail->next = l;
		else
			g_srv.ctl_head = l;
		g_srv.ctl_tail = l;
		if (g_srv.ctl_wake)	/* the context is alive while we hold the lock */
			lws_cancel_service(g_srv.ctx);
		pthread_mutex_unlock(&g_srv.ctl_lock);
	}
	return NULL;
}

static void accept_due(lws_sorted_usec_list_t *sul)
{
	for (int i = 0; i < MAX_ACCEPTS_PER_WAKE; i++) {
		int fd = accept4(g_srv.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				fs_log("error what=accept errno=%d", errno);
			return;
		}
		conn_accepted(fd);
	}
}

/* A client that closed one connection and opened the next has both
 * readable in the same poll: the close is handled first (the accept waits
 * for the next turn of the loop), so "connections open" counts the old
 * one as gone when it was gone before the new one came. */
static void on_listen_readable(int lfd)
{
	g_srv.listen_fd = lfd;
	lws_sul_schedule(g_srv.ctx, 0, &g_srv.sul_accept, accept_due, 1);
}

static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		on_listen_readable(lws_get_socket_fd(wsi));
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		ctl_drain();
		return 0;
	default:
		return 0;
	}
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	for (struct conn *c = g_srv.conns; c; c = c->next)
		conn_tick(c);
	if (g_srv.quit_after_idle_s > 0 && g_srv.open == 0 &&
	    mono_us() - g_srv.idle_since_us >= (int64_t)g_srv.quit_after_idle_s * 1000000) {
		g_srv.quit_reason = "idle";
		g_srv.quit = 1;
	}
	lws_sul_schedule(g_srv.ctx, 0, &g_srv.sul_tick, tick_cb, TICK_US);
}

static void on_signal(int sig)
{
	(void)sig;
	g_srv.quit_reason = "signal";
	g_srv.quit = 1;
}

struct options {
	const char *address, *tls_cert, *tls_key;
	int port, lws_debug;
	bool no_stdin;
};

static int parse_int_opt(const char *name, const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || !*v || n < min || n > max) {
		fprintf(stderr, "fault-server: --%s: expected an integer in %ld..%ld\n", name, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "address", required_argument, NULL, 'a' },
		{ "key", required_argument, NULL, 'k' },
		{ "auth-mode", required_argument, NULL, 'A' },
		{ "fault", required_argument, NULL, 'f' },
		{ "quit-after-idle", required_argument, NULL, 'q' },
		{ "no-stdin", no_argument, NULL, 'n' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "threshold-db", required_argument, NULL, 't' },
		{ "hangover-ms", required_argument, NULL, 'H' },
		{ "min-word-ms", required_argument, NULL, 'm' },
		{ "partial-ms", required_argument, NULL, 'P' },
		{ "progress-ms", required_argument, NULL, 'G' },
		{ "lws-debug", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char err[160];
	unsigned index;
	long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (parse_int_opt("port", optarg, 0, 65535, &v))
				return -1;
			o->port = (int)v;
			break;
		case 'a': o->address = optarg; break;
		case 'k': g_srv.sp.key = optarg; break;
		case 'A':
			if (strcmp(optarg, "json") && strcmp(optarg, "http")) {
				fprintf(stderr, "fault-server: --auth-mode: json or http\n");
				return -1;
			}
			g_srv.auth_http = !strcmp(optarg, "http");
			break;
		case 'f':
			if (set_fault(optarg, err, sizeof(err), &index)) {
				fprintf(stderr, "fault-server: --fault %s: %s\n", optarg, err);
				return -1;
			}
			break;
		case 'q':
			if (parse_int_opt("quit-after-idle", optarg, 0, 86400, &v))
				return -1;
			g_srv.quit_after_idle_s = (int)v;
			break;
		case 'n': o->no_stdin = true; break;
		case 'c': o->tls_cert = optarg; break;
		case 'K': o->tls_key = optarg; break;
		case 't':
			if (parse_int_opt("threshold-db", optarg, -120, 0, &v))
				return -1;
			g_srv.sp.rec.threshold_db = (double)v;
			break;
		case 'H':
			if (parse_int_opt("hangover-ms", optarg, 10, 60000, &v))
				return -1;
			g_srv.sp.rec.hangover_ms = (unsigned)v;
			break;
		case 'm':
			if (parse_int_opt("min-word-ms", optarg, 0, 60000, &v))
				return -1;
			g_srv.sp.rec.min_word_ms = (unsigned)v;
			break;
		case 'P':
			if (parse_int_opt("partial-ms", optarg, 10, 60000, &v))
				return -1;
			g_srv.sp.partial_ms = (unsigned)v;
			break;
		case 'G':
			if (parse_int_opt("progress-ms", optarg, 10, 60000, &v))
				return -1;
			g_srv.sp.progress_ms = (unsigned)v;
			break;
		case 'd':
			if (parse_int_opt("lws-debug", optarg, 0, 0xffff, &v))
				return -1;
			o->lws_debug = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || !o->tls_cert != !o->tls_key) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int context_create(const struct options *o, int lfd)
{
	struct lws_context_creation_info info;
	lws_adopt_desc_t ad;

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (o->tls_cert)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	g_srv.ctx = lws_create_context(&info);
	if (!g_srv.ctx)
		return -1;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;	/* we accept(), lws serves */
	info.protocols = protocols;
	info.vhost_name = "fault-server";
	info.ssl_cert_filepath = o->tls_cert;
	info.ssl_private_key_filepath = o->tls_key;
	if (o->tls_cert)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	g_srv.vh = lws_create_vhost(g_srv.ctx, &info);
	if (!g_srv.vh)
		return -1;

	memset(&ad, 0, sizeof(ad));
	ad.vh = g_srv.vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = lfd;
	ad.vh_prot_name = "fault-server-raw";
	if (!lws_adopt_descriptor_vhost_via_info(&ad))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .address = DEFAULT_ADDRESS };
	const struct rec_params rp = REC_PARAMS_DEFAULT;
	struct sigaction sa;
	pthread_t ctl;
	char err[256], bound[64];
	int lfd, port = 0;

	g_srv.sp.rec = rp;
	g_srv.sp.partial_ms = DEFAULT_PARTIAL_MS;
	g_srv.sp.progress_ms = DEFAULT_PROGRESS_MS;
	g_srv.sp.pre = LWS_PRE;
	pthread_mutex_init(&g_srv.ctl_lock, NULL);
	g_srv.faults = fault_table_new();
	if (!g_srv.faults || parse_options(argc, argv, &o))
		return 2;
	lws_set_log_level(o.lws_debug ? o.lws_debug : LLL_ERR | LLL_WARN, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = ip_listen(o.address, o.port, LISTEN_BACKLOG, err, sizeof(err));
	if (lfd < 0 || ip_bound_name(lfd, bound, sizeof(bound), &port)) {
		fprintf(stderr, "fault-server: %s\n", lfd < 0 ? err : strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return 2;
	}
	if (context_create(&o, lfd)) {
		fprintf(stderr, "fault-server: libwebsockets setup failed (TLS files?)\n");
		if (g_srv.ctx)
			lws_context_destroy(g_srv.ctx);
		else
			close(lfd);
		fault_table_free(g_srv.faults);
		return 2;
	}
	g_srv.idle_since_us = mono_us();
	lws_sul_schedule(g_srv.ctx, 0, &g_srv.sul_tick, tick_cb, TICK_US);
	fs_log("listening port=%d address=%s tls=%d", port, o.address, o.tls_cert ? 1 : 0);

	g_srv.ctl_wake = true;
	if (!o.no_stdin && pthread_create(&ctl, NULL, ctl_thread, NULL) == 0)
		pthread_detach(ctl);

	while (!g_srv.quit)
		if (lws_service(g_srv.ctx, 0) < 0)
			break;

	fs_log("exit reason=%s", g_srv.quit_reason ? g_srv.quit_reason : "service-error");
	pthread_mutex_lock(&g_srv.ctl_lock);
	g_srv.ctl_wake = false;
	pthread_mutex_unlock(&g_srv.ctl_lock);
	conn_release_pending();
	lws_sul_cancel(&g_srv.sul_tick);
	lws_sul_cancel(&g_srv.sul_accept);
	lws_context_destroy(g_srv.ctx);
	fault_table_free(g_srv.faults);
	pthread_mutex_lock(&g_srv.ctl_lock);
	while (g_srv.ctl_head) {
		struct ctl_line *l = g_srv.ctl_head;
		g_srv.ctl_head = l->next;
		free(l);
	}
	pthread_mutex_unlock(&g_srv.ctl_lock);
	return 0;
}
