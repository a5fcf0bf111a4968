/* fault-server: a local speech-to-text WebSocket server (Soniox's protocol,
 * or Deepgram's, OpenAI realtime's, vosk's with --dialect) with a
 * deterministic fake recognizer and scriptable faults per connection.
 * Integration, fault and bench tests run the module (or fault-client)
 * against it.
 *
 * It is the server core of tools/common (srv-core.h, the same as
 * pw-transcribe-server's) with the tone recognizer (fs-tone.c) and the
 * faults below (fs-events.c); its sessions run on the service thread.
 *
 *   fault-server [--port P] [--address A | --socket PATH] [--key K] [--auth-mode json|http]
 *                [--dialect soniox|deepgram|openai-realtime|vosk]
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
 *   --socket PATH listens on that Unix socket instead (mode 0600; a stale
 *   one is replaced, removed at exit) and says
 *       listening socket=<path> tls=<0|1>
 *   With --tls-cert/--tls-key it speaks wss:// (see "Test CA" below).
 *
 * Protocol (the Soniox real-time subset; any request path is accepted)
 *   - Upgrade: with --key K the request should carry "Authorization: Bearer K".
 *     --auth-mode json (default): a missing/bad header is reported when the
 *     config arrives: the config's "api_key" may stand in for a missing
 *     header; otherwise {"error_code":401,"error_type":...} and close 1000.
 *     --auth-mode http: missing/bad header -> HTTP 401 instead of 101.
 *     Without --key, every request is accepted.
 *   - First text message: JSON config; "audio_format":"pcm_s16le",
 *     "sample_rate" 8000..48000, "num_channels" 1 or 2 (2 is averaged to
 *     mono) are required; "model" is logged; "enable_speaker_diarization":
 *     true gives each word a "speaker": words below 1500 Hz are one voice,
 *     the others another, numbered "1", "2" in the order this connection
 *     first hears them (so labels change between connections, as a real
 *     diarizer's do), also in the log ("... speaker=<n>"). Anything else ->
 *     {"error_code":400,"error_type":"...","error_message":"..."} then close
 *     1000. Audio before the config is a 400 too.
 *   - Binary messages: S16LE PCM, up to 1 MiB (odd sizes are carried over).
 *     A bigger message, text or binary, gets error 400 message_too_large
 *     and close 1009.
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
 * Other dialects (--dialect; the framing of each: the top of
 * tools/common/srv-dialect-<name>.c and pw-transcribe-server(1) DIALECTS):
 * the same recognizer, pacing and faults; what differs is the framing.
 *   - deepgram: config in the query (encoding=linear16&sample_rate=N);
 *     Results/Metadata; KeepAlive, Finalize, CloseStream.
 *   - openai-realtime: session.created, session.update -> session.updated
 *     (default 24000 Hz without one), base64 input_audio_buffer.append,
 *     commit = finalize ("final":true ends), an item per utterance.
 *   - vosk: optional {"config":{"sample_rate":N}} (default 8000), one reply
 *     per audio message, {"eof" : 1} ends.
 *   With --key, these take the key on the upgrade only (deepgram: "Token K"
 *   or "Bearer K"): a missing or wrong one gets HTTP 401 in the service's
 *   body (deepgram: also a dg-error header); --auth-mode does not apply.
 *   Errors (error=, limit=, idle=, a message too large): deepgram and vosk
 *   close with 1011 (server side, 408, 429, the cap) or 1008 (else) and the
 *   message as the close reason (deepgram: "NET-0000 ...", "NET-0001 ...",
 *   "DATA-0000 ..."); openai-realtime sends an "error" event (limit=:
 *   code "session_expired"), then the close. rst, fin, close, stall, mute
 *   work alike; the hostile-service faults (tokens, times, ...) and
 *   garbage/oversized send Soniox-shaped messages whatever the dialect.
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
 * Hostile service (issue 18; rows in README.md, for Python in
 * hostile_services.py): what a broken or malicious service sends.
 *   bigbinary@<ms>[;bytes=<n>]  one binary message of <n> bytes (3 MB; up to 64 MiB).
 *   tokens@<ms>[;count=<n>]     one response with <n> final tokens "t<i>" (100000,
 *                          ~7.5 MB), spread over the audio received.
 *   times=<v>@<ms>         one final token with absurd times: huge (2^40-2..2^40-1),
 *                          negative (-5000..-4000), reversed (5000..100), beyond
 *                          (10 min past the audio), float (1.5e300), string ("abc"),
 *                          decreasing (a final, then one 1 s earlier), progress
 *                          (no token, final/total_audio_proc_ms = 2^40-1).
 *   badutf8@<ms>           a final token whose text is not UTF-8 (a text frame).
 *   partials@<ms>[;count=<n>]  <n> responses with a word in progress, back to
 *                          back (10000), never a final.
 *   finals@<ms>[;count=<n>][;step=<ms>]  <n> responses with one final word "f<i>"
 *                          each, back to back (1000000); spread over the audio
 *                          received, or step > 0: <ms> apart from there on (past
 *                          the audio). Made as they go out: memory stays flat.
 *   pings@<ms>[;count=<n>]  <n> WebSocket pings, back to back (1000).
 *   rawclose=<c>@<ms>      a close frame with code <c> (0..65535, valid or not),
 *                          "short" (a one-byte payload) or "empty", then a FIN.
 * Every Soniox error code after the upgrade: error=<code>@<ms> above.
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
 *   conn=<n> config rate=<hz> channels=<c> model=<m> endpoint=<0|1> auth=<none|header|api_key>
 *   conn=<n> audio_ms=<total>       each time another second of audio is in
 *   conn=<n> final text=w700 start_ms=<s> end_ms=<e>
 *   conn=<n> keepalive | finalize audio_ms=<t> | end-of-stream audio_ms=<t>
 *   conn=<n> finished audio_ms=<t> final_words=<w>
 *   conn=<n> fault <what>[=<code>] audio_ms=<t>   (http/delay_accept: fault http=<s> ...)
 *   conn=<n> error code=<c> type=<t> close=<ws> msg="..."   error JSON sent
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
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-int.h"
#include "fs-events.h"
#include "fs-recognizer.h"
#include "fs-tone.h"
#include "ip-listen.h"
#include "srv-log.h"
#include "unix-listen.h"

#define PROG			"fault-server"
#define DEFAULT_ADDRESS		"127.0.0.1"
#define TICK_MS			50
#define LISTEN_BACKLOG		128
#define CTL_LINE_MAX		1024
#define DEFAULT_PARTIAL_MS	100
#define DEFAULT_PROGRESS_MS	200

struct options {
	const char *address, *socket, *tls_cert, *tls_key;
	const struct srv_dialect *dialect;
	int port, lws_debug;
	bool no_stdin;
	struct rec_params rec;
	unsigned partial_ms, progress_ms;
};

/* stdin commands: queued by the reader thread, run on the service thread. */
struct ctl_line {
	struct ctl_line *next;
	char text[];
};

static struct control {
	pthread_mutex_t lock;		/* guards everything below */
	struct ctl_line *head, *tail;
	struct srv *srv;		/* may be woken while non-NULL */
} ctl = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct fs_state state;

static void usage(FILE *f)
{
	fputs("usage: fault-server [--port P] [--address A | --socket PATH] [--key K]\n"
	      "         [--auth-mode json|http] [--dialect soniox|deepgram|openai-realtime|vosk]\n"
	      "         [--fault N:SPEC]... [--quit-after-idle S] [--no-stdin]\n"
	      "         [--tls-cert FILE --tls-key FILE] [--threshold-db D] [--hangover-ms MS]\n"
	      "         [--min-word-ms MS] [--partial-ms MS] [--progress-ms MS] [--lws-debug BITS]\n"
	      "See the top of tests/faults/fault-server.c for protocol, faults and control.\n", f);
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
		if (fs_set_fault(&state, line + 6, err, sizeof(err), &index))
			srv_log("error %s", err);
		else if (index == FAULT_INDEX_ALL)
			srv_log("ok fault all:%s", strchr(line, ':') + 1);
		else
			srv_log("ok fault %u:%s", index, strchr(line, ':') + 1);
	} else if (!strcmp(line, "status")) {
		srv_log("status open=%u accepted=%u", srv_open_count(state.srv),
			srv_accepted_count(state.srv));
	} else if (!strcmp(line, "quit")) {
		srv_quit(state.srv, "quit");
	} else {
		srv_log("error unknown command (fault <N|next|all>:<SPEC>, status, quit)");
	}
}

static void ctl_drain(void)
{
	struct ctl_line *l, *next;

	pthread_mutex_lock(&ctl.lock);
	l = ctl.head;
	ctl.head = ctl.tail = NULL;
	pthread_mutex_unlock(&ctl.lock);
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
		pthread_mutex_lock(&ctl.lock);
		if (ctl.tail)
			ctl.tail->next = l;
		else
			ctl.head = l;
		ctl.tail = l;
		if (ctl.srv)	/* alive while we hold the lock */
			srv_wake(ctl.srv);
		pthread_mutex_unlock(&ctl.lock);
	}
	return NULL;
}

/* Numeric options: short code, name, range; stored by store_int(). */
static const struct { int ch; const char *name; long min, max; } int_opts[] = {
	{ 'p', "port", 0, 65535 }, { 'q', "quit-after-idle", 0, 86400 },
	{ 't', "threshold-db", -120, 0 }, { 'H', "hangover-ms", 10, 60000 },
	{ 'm', "min-word-ms", 0, 60000 }, { 'P', "partial-ms", 10, 60000 },
	{ 'G', "progress-ms", 10, 60000 }, { 'd', "lws-debug", 0, 0xffff },
};

static void store_int(struct options *o, int ch, long v)
{
	switch (ch) {
	case 'p': o->port = (int)v; break;
	case 'q': state.quit_after_idle_s = (int)v; break;
	case 't': o->rec.threshold_db = (double)v; break;
	case 'H': o->rec.hangover_ms = (unsigned)v; break;
	case 'm': o->rec.min_word_ms = (unsigned)v; break;
	case 'P': o->partial_ms = (unsigned)v; break;
	case 'G': o->progress_ms = (unsigned)v; break;
	case 'd': o->lws_debug = (int)v; break;
	}
}

static int other_opt(struct options *o, int ch)
{
	char err[160];
	unsigned index;

	switch (ch) {
	case 'a': o->address = optarg; return 0;
	case 'S': o->socket = optarg; return 0;
	case 'k': state.key = optarg; return 0;
	case 'A':
		if (strcmp(optarg, "json") && strcmp(optarg, "http")) {
			fprintf(stderr, "%s: --auth-mode: json or http\n", PROG);
			return -1;
		}
		state.auth_http = !strcmp(optarg, "http");
		return 0;
	case 'f':
		if (fs_set_fault(&state, optarg, err, sizeof(err), &index)) {
			fprintf(stderr, "%s: --fault %s: %s\n", PROG, optarg, err);
			return -1;
		}
		return 0;
	case 'n': o->no_stdin = true; return 0;
	case 'D':
		o->dialect = srv_dialect_find(optarg);
		if (!o->dialect) {
			fprintf(stderr, "%s: --dialect %s: unknown (%s)\n", PROG, optarg,
				srv_dialect_names());
			return -1;
		}
		return 0;
	case 'c': o->tls_cert = optarg; return 0;
	case 'K': o->tls_key = optarg; return 0;
	case 'h':
		usage(stdout);
		exit(0);
	}
	usage(stderr);
	return -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "address", required_argument, NULL, 'a' },
		{ "socket", required_argument, NULL, 'S' },
		{ "key", required_argument, NULL, 'k' },
		{ "auth-mode", required_argument, NULL, 'A' },
		{ "dialect", required_argument, NULL, 'D' },
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
	long v;
	int ch;
	size_t i;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		for (i = 0; i < sizeof(int_opts) / sizeof(int_opts[0]); i++)
			if (int_opts[i].ch == ch)
				break;
		if (i < sizeof(int_opts) / sizeof(int_opts[0])) {
			if (cli_int(PROG, int_opts[i].name, optarg, int_opts[i].min, int_opts[i].max, &v))
				return -1;
			store_int(o, ch, v);
		} else if (other_opt(o, ch)) {
			return -1;
		}
	}
	if (optind < argc || !o->tls_cert != !o->tls_key) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static struct srv *start(const struct options *o, int lfd)
{
	struct srv_config cfg = {
		.name = PROG,
		.listen_fd = lfd,
		.threaded = false,	/* exact timing; the hooks touch the session */
		.tick_ms = TICK_MS,
		.tls_cert = o->tls_cert,
		.tls_key = o->tls_key,
		.lws_log_level = o->lws_debug,
		.sess = {
			.key = state.key,
			.dialect = o->dialect,
			.rec = &fs_tone_recognizer,
			.rec_ctx = (void *)&o->rec,
			.pacing = { .block_ms = 0, .partial_ms = o->partial_ms,
				    .progress_ms = o->progress_ms, .partial_on_change = false },
			.hooks = &fs_hooks,
		},
		.events = &fs_events,
		.data = &state,
	};
	return srv_new(&cfg);
}

int main(int argc, char **argv)
{
	static struct options o = {
		.address = DEFAULT_ADDRESS, .rec = REC_PARAMS_DEFAULT, .dialect = &srv_dialect_soniox,
		.partial_ms = DEFAULT_PARTIAL_MS, .progress_ms = DEFAULT_PROGRESS_MS,
	};
	struct srv *srv;
	pthread_t reader;
	char err[512], bound[64], where[128];
	ino_t ino = 0;
	int lfd, port = 0;

	srv_log_init(STDOUT_FILENO);
	state.faults = fault_table_new();
	if (!state.faults || parse_options(argc, argv, &o))
		return 2;
	if (o.socket)
		lfd = unix_listen(o.socket, LISTEN_BACKLOG, &ino, err, sizeof(err));
	else
		lfd = ip_listen(o.address, o.port, LISTEN_BACKLOG, err, sizeof(err));
	if (lfd < 0 || (!o.socket && ip_bound_name(lfd, bound, sizeof(bound), &port))) {
		fprintf(stderr, "%s: %s\n", PROG, lfd < 0 ? err : strerror(errno));
		if (lfd >= 0)
			close(lfd);
		fault_table_free(state.faults);
		return 2;
	}
	if (o.socket)
		snprintf(where, sizeof(where), "socket=%s", o.socket);
	else
		snprintf(where, sizeof(where), "port=%d address=%s", port, o.address);
	srv = start(&o, lfd);
	if (!srv) {
		fault_table_free(state.faults);
		return 2;
	}
	state.srv = srv;
	state.wake = ctl_drain;
	state.idle_since_us = srv_now_us();
	srv_log("listening %s tls=%d", where, o.tls_cert ? 1 : 0);

	pthread_mutex_lock(&ctl.lock);
	ctl.srv = srv;
	pthread_mutex_unlock(&ctl.lock);
	if (!o.no_stdin && pthread_create(&reader, NULL, ctl_thread, NULL) == 0)
		pthread_detach(reader);

	srv_run(srv);
	srv_log("exit reason=%s", srv_quit_reason(srv) ? srv_quit_reason(srv) : "service-error");
	pthread_mutex_lock(&ctl.lock);
	ctl.srv = NULL;
	pthread_mutex_unlock(&ctl.lock);
	srv_free(srv);
	if (o.socket)
		unix_unlink_if_ours(o.socket, ino);
	fault_table_free(state.faults);
	pthread_mutex_lock(&ctl.lock);
	while (ctl.head) {
		struct ctl_line *l = ctl.head;
		ctl.head = l->next;
		free(l);
	}
	pthread_mutex_unlock(&ctl.lock);
	return 0;
}
