/* pw-transcribe-server: a small local speech-to-text server speaking the
 * Soniox real-time WebSocket protocol (the subset pipewire-transcribe uses)
 * over pocketsphinx with its US English model. It is the module's default
 * service and what the demo and the integration tests talk to.
 *
 * It is the server core of tools/common (srv-core.h: connections, session,
 * dialect, limits; shared with the test fault server) with pocketsphinx
 * plugged in (recognizer.c), each session on a thread of its own, and the
 * log lines below.
 *
 *   pw-transcribe-server [--address A] [--port P] [--key-file FILE]
 *                        [--hmm DIR] [--lm FILE] [--dict FILE]
 *                        [--max-connections N] [--spare-decoders N]
 *                        [--idle-timeout S] [--upgrade-timeout S] [--max-pending N]
 *                        [--partial-ms MS] [--progress-ms MS]
 *                        [--lws-debug BITS] [--help] [--version]
 *
 * Listening
 *   --address (default 127.0.0.1) must be an IP literal (127.0.0.1, ::1, an
 *   interface address); the server binds exactly that address. --port
 *   defaults to 7681; 0 picks a free port. Started by systemd socket
 *   activation (LISTEN_FDS=1), it serves the socket it is given instead.
 *   The first line on stdout is
 *       listening port=<p> address=<a>
 *   Everything else goes to stderr, one line per event (see "Log").
 *
 * Authentication
 *   Without --key-file every client is accepted. With it, the key is the
 *   file's first line; the file must not be accessible by group or others
 *   (chmod 600) or the server refuses to start. A client then sends
 *   "Authorization: Bearer <key>" on the upgrade request, or "api_key" in
 *   its config message; otherwise it gets error 401 (below) and the close.
 *
 * Protocol (any request path is accepted; Soniox uses /transcribe-websocket)
 *   - First text message: the JSON config, one object and nothing after
 *     it. Required: "audio_format":
 *     "pcm_s16le", "sample_rate" 16000 (the en-us model's rate; clients
 *     resample, as the PipeWire module's adapter does), "num_channels" 1
 *     or 2 (averaged to mono). Optional: "enable_endpoint_detection": true
 *     adds a final "<end>" token after each utterance; "api_key"; "model"
 *     (logged, otherwise ignored). Other fields are ignored.
 *   - Binary messages: S16LE PCM frames, any size up to 1 MiB (odd sizes
 *     are carried over). Text messages must be UTF-8 (else close 1007).
 *     A close frame with a code a peer may not send (RFC 6455 7.4: below
 *     1000, 1004-1006, 1015-2999, 5000 and above, a one-byte payload) is
 *     answered with 1002.
 *   - Responses: {"tokens":[...],"final_audio_proc_ms":F,"total_audio_proc_ms":T}
 *     tokens = the new final words (each sent once), then the current
 *     non-final words (they replace the previous non-final set). A token:
 *       {"text":" forward","start_ms":640,"end_ms":1170,"confidence":0.996,"is_final":true}
 *     Words carry a leading space; non-final ones have no confidence.
 *     Times are ms of this connection's audio. T = audio processed; F =
 *     audio that is final: the end of the last finished utterance, 1 s
 *     behind T between utterances, T after a finalize. A response goes out
 *     when an utterance ended, when the non-final words changed (at most
 *     every --partial-ms of audio, 200) and at least every --progress-ms of
 *     audio (500).
 *   - Utterances: pocketsphinx's voice activity detector ends one ~0.5 s
 *     after the speech stops; its words then become final. Speech longer
 *     than 30 s is cut.
 *   - {"type":"keepalive"}: nothing but resetting the idle timer.
 *     {"type":"finalize"}: the utterance in progress becomes final now,
 *     followed by a final "<fin>" token (start_ms = end_ms = T).
 *   - End of stream: an empty text message (or an empty binary message):
 *     everything becomes final, {"tokens":[...],...,"finished":true}, then
 *     close 1000.
 *   - Errors: {"error_code":C,"error_type":"...","error_message":"..."},
 *     then close (1000 unless noted):
 *       400 invalid_request  first message not one JSON object (or more after
 *                            it), audio before the config, a text message
 *                            that is neither JSON control nor empty, an
 *                            unknown "type"
 *       400 invalid_config   a bad audio_format/sample_rate/num_channels
 *       400 message_too_large  a message over 1 MiB (close 1009), refused
 *                            from its frame header, before any of it is
 *                            read into memory or decoded
 *       401 unauthenticated  missing or wrong key
 *       408 request_timeout  nothing received for --idle-timeout s (20)
 *       429 too_many_requests  more than --max-connections streams (8); a
 *                            stream (a decoder) is counted once its key
 *                            and config are good, so connections that
 *                            never send them hold none
 *       500 internal_error   the recognizer failed (close 1011)
 *     One connection's error never affects the others.
 *   - Plain HTTP requests get 400. On SIGTERM/SIGINT every stream is
 *     closed with 1001 and the server exits 0.
 *
 * Recognizer and resources
 *   pocketsphinx 0.8 (5prealpha), model from pkg-config's modeldir
 *   (Debian: pocketsphinx-en-us): --hmm <modeldir>/en-us/en-us, --lm
 *   <modeldir>/en-us/en-us.lm.bin, --dict <modeldir>/en-us/cmudict-en-us.dict.
 *   Each stream has its own decoder on its own thread: ~95 MB of memory and
 *   ~0.25 s to create. --spare-decoders (1) finished decoders are kept for
 *   the next streams (the first is loaded at startup, which also checks
 *   the model). Decoding takes ~0.05-0.15 s of CPU per second of audio.
 *   A client sending faster than that is slowed down (reading pauses while
 *   more than 1 MiB of audio waits for the decoder).
 *
 * Limits (what a hostile client can take; tests/faults/test_hostile.py)
 *   - Per connection: reading pauses while it holds more than 1 MiB for
 *     its peer (input waiting for the decoder, text or binary, plus output
 *     the peer has not read) and resumes at 256 KiB; with the message being
 *     reassembled (at most 1 MiB) that bounds it to a few MiB. A peer that
 *     reads nothing and sends nothing for --idle-timeout is hung up on.
 *   - A new connection has --upgrade-timeout s (5) to complete its
 *     WebSocket upgrade; at most --max-pending (32) may be that far at once,
 *     and 4 x --max-connections + --max-pending in all; more are closed at
 *     accept.
 *   - Out of file descriptors (EMFILE/ENFILE) the server stops accepting
 *     for 50 ms, doubling up to 1 s, instead of spinning.
 *   - Lines a peer can repeat (accept and close of connections that never
 *     upgrade, refusals, accept errors, flow control, lws and pocketsphinx
 *     warnings) are rate-limited: the next line that goes out carries
 *     "suppressed=N". Nothing is logged per message.
 *
 * Log (stderr; transcripts, audio and keys are never logged)
 *   model loaded init_ms=.. hmm=.. lm=.. dict=.. spare=..
 *   conn=N accept peer=IP:PORT open=K
 *   conn=N open path=P auth=none|ok|missing|bad streams=K
 *   conn=N config rate=R channels=C model=M endpoint=0|1 auth=none|header|api_key
 *   conn=N decoder ready init_ms=MS          (0: a spare decoder)
 *   conn=N rx paused backlog=BYTES | rx resumed   (a client faster than the decoder)
 *   conn=N end-of-stream audio_ms=T | finished audio_ms=T final_words=W
 *   conn=N error code=C type=T close=WS msg="..."
 *   conn=N closed code=WS by=server|peer|-   (1006: no close frame)
 *   conn=N stats audio_ms=T cpu_ms=MS init_ms=MS rtf=R final_words=W
 *   conn=N error what=peer-not-reading       (hung up: see Limits)
 *   refused what=too-many-connections|too-many-upgrades open=K pending=P
 *   error what=accept errno=E [backoff_ms=MS]
 *   pocketsphinx level=warn|error msg="..." | lws msg="..."
 *   exit reason=signal streams=K
 *
 * Exit status: 0 after a signal; 2 on bad usage or when the model, the key
 * file or the socket cannot be set up (the message says which).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-int.h"
#include "ip-listen.h"
#include "recognizer.h"
#include "srv-core.h"
#include "srv-key.h"
#include "srv-log.h"

#ifndef SERVER_MODELDIR
#define SERVER_MODELDIR		"/usr/share/pocketsphinx/model"
#endif
#ifndef SERVER_VERSION
#define SERVER_VERSION		"unknown"
#endif

#define PROG			"pw-transcribe-server"
#define DEFAULT_ADDRESS		"127.0.0.1"
#define TICK_MS			250
#define LISTEN_BACKLOG		64
#define SHUTDOWN_GRACE_MS	2000
#define CLOSE_GOING_AWAY	1001
#define BLOCK_MS		100	/* responses are considered this often (audio) */
#define SD_LISTEN_FDS_START	3
#define PATH_MAX_LEN		4096

static struct options {
	const char *address, *key_file;
	char hmm[PATH_MAX_LEN], lm[PATH_MAX_LEN], dict[PATH_MAX_LEN];
	long port, max_conns, spare, idle_s, upgrade_s, max_pending, partial_ms, progress_ms,
	     lws_debug;
} opt;

/* Numeric options: name, destination, default, range, help. */
static const struct int_option {
	const char *name;
	long *dst;
	long def, min, max;
	const char *help;
} int_options[] = {
	{ "port", &opt.port, 7681, 0, 65535, "TCP port (0 = pick a free one)" },
	{ "max-connections", &opt.max_conns, 8, 1, 256,
	  "concurrent streams; more get error 429 (each needs ~95 MB)" },
	{ "spare-decoders", &opt.spare, 1, 0, 64, "finished decoders kept ready for new streams" },
	{ "idle-timeout", &opt.idle_s, 20, 1, 86400,
	  "seconds without audio or keepalive before error 408" },
	{ "upgrade-timeout", &opt.upgrade_s, 5, 1, 3600,
	  "seconds a new connection has to complete its WebSocket upgrade" },
	{ "max-pending", &opt.max_pending, 32, 1, 4096,
	  "connections still before their upgrade; more are closed at once" },
	{ "partial-ms", &opt.partial_ms, 200, 20, 60000, "non-final tokens at most every MS of audio" },
	{ "progress-ms", &opt.progress_ms, 500, 20, 600000, "a response at least every MS of audio" },
	{ "lws-debug", &opt.lws_debug, 0, 0, 0xffff, "libwebsockets log bits (0 = errors, warnings)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--address A] [--port P] [--key-file FILE]\n"
		"       [--hmm DIR] [--lm FILE] [--dict FILE] [options]\n"
		"  --address A        IP address to listen on (default %s)\n"
		"  --key-file FILE    require this shared secret (file mode 600)\n"
		"  --hmm DIR          acoustic model (default %s)\n"
		"  --lm FILE          language model (default %s)\n"
		"  --dict FILE        dictionary (default %s)\n",
		PROG, DEFAULT_ADDRESS, opt.hmm, opt.lm, opt.dict);
	for (size_t i = 0; i < sizeof(int_options) / sizeof(int_options[0]); i++)
		fprintf(f, "  --%-17s %s (default %ld)\n", int_options[i].name,
			int_options[i].help, int_options[i].def);
	fprintf(f, "Protocol, log format and resources: see the top of tools/server/%s.c.\n", PROG);
}

static int set_path(char *dst, const char *name, const char *v)
{
	if (strlen(v) >= PATH_MAX_LEN) {
		fprintf(stderr, "%s: --%s: path too long\n", PROG, name);
		return -1;
	}
	snprintf(dst, PATH_MAX_LEN, "%s", v);
	return 0;
}

static int set_int(const struct int_option *o, const char *v)
{
	return cli_int(PROG, o->name, v, o->min, o->max, o->dst);
}

enum { OPT_ADDRESS = 256, OPT_KEY_FILE, OPT_HMM, OPT_LM, OPT_DICT, OPT_HELP, OPT_VERSION, OPT_INT };

#define N_INT_OPTIONS	(sizeof(int_options) / sizeof(int_options[0]))
#define N_NAMED_OPTIONS	7

static int parse_options(int argc, char **argv)
{
	static const size_t n_int = N_INT_OPTIONS;
	struct option lo[N_NAMED_OPTIONS + N_INT_OPTIONS + 1] = {
		{ "address", required_argument, NULL, OPT_ADDRESS },
		{ "key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "hmm", required_argument, NULL, OPT_HMM },
		{ "lm", required_argument, NULL, OPT_LM },
		{ "dict", required_argument, NULL, OPT_DICT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
	};
	size_t base = N_NAMED_OPTIONS;
	int ch, rc = 0;

	for (size_t i = 0; i < n_int; i++) {
		*int_options[i].dst = int_options[i].def;
		lo[base + i] = (struct option){ int_options[i].name, required_argument, NULL,
						 OPT_INT + (int)i };
	}
	lo[base + n_int] = (struct option){ NULL, 0, NULL, 0 };
	opt.address = DEFAULT_ADDRESS;
	snprintf(opt.hmm, sizeof(opt.hmm), "%s/en-us/en-us", SERVER_MODELDIR);
	snprintf(opt.lm, sizeof(opt.lm), "%s/en-us/en-us.lm.bin", SERVER_MODELDIR);
	snprintf(opt.dict, sizeof(opt.dict), "%s/en-us/cmudict-en-us.dict", SERVER_MODELDIR);

	while (rc == 0 && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case OPT_ADDRESS: opt.address = optarg; break;
		case OPT_KEY_FILE: opt.key_file = optarg; break;
		case OPT_HMM: rc = set_path(opt.hmm, "hmm", optarg); break;
		case OPT_LM: rc = set_path(opt.lm, "lm", optarg); break;
		case OPT_DICT: rc = set_path(opt.dict, "dict", optarg); break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("%s %s\n", PROG, SERVER_VERSION);
			exit(0);
		default:
			if (ch >= OPT_INT && ch < OPT_INT + (int)n_int) {
				rc = set_int(&int_options[ch - OPT_INT], optarg);
				break;
			}
			usage(stderr);
			return -1;
		}
	}
	if (rc == 0 && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, argv[optind]);
		rc = -1;
	}
	return rc;
}

/* A socket passed by systemd socket activation, else -1. */
static int systemd_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd = SD_LISTEN_FDS_START, flags;

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1")) {
		fprintf(stderr, "%s: socket activation: expected exactly 1 socket, got LISTEN_FDS=%s\n",
			PROG, fds);
		return -2;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "%s: socket activation: fd %d: %s\n", PROG, fd, strerror(errno));
		return -2;
	}
	return fd;
}


static const char *auth_name(enum srv_auth a)
{
	switch (a) {
	case SRV_AUTH_NONE:	return "none";
	case SRV_AUTH_OK:	return "ok";
	case SRV_AUTH_MISSING:	return "missing";
	case SRV_AUTH_BAD:	return "bad";
	}
	return "?";
}

/* The log lines of this server (the top comment's "Log"). Accepting and
 * closing a connection that never became a WebSocket costs a peer nothing:
 * those lines are limited. */
static struct srv_ratelimit rl_conn = SRV_RATELIMIT_INIT(20, 120);

static void *ev_accept(void *data, struct srv_conn *c, int64_t *delay_ms)
{
	srv_log_limited(&rl_conn, "conn=%u accept peer=%s:%u open=%u", srv_conn_id(c), srv_conn_peer_ip(c),
		srv_conn_peer_port(c), srv_open_count(srv_conn_server(c)));
	return NULL;
}

static void ev_open(void *data, struct srv_conn *c)
{
	srv_log("conn=%u open path=%s auth=%s streams=%u", srv_conn_id(c), srv_conn_path(c),
		auth_name(srv_conn_auth(c)), srv_stream_count(srv_conn_server(c)));
}

static void ev_closed(void *data, struct srv_conn *c)
{
	const char *by = "peer";
	int code = 1006;

	if (!srv_conn_upgraded(c)) {
		/* no WebSocket: plain HTTP, a dropped handshake, shutdown */
		srv_log_limited(&rl_conn, "conn=%u closed code=0 by=-", srv_conn_id(c));
		return;
	} else if (srv_conn_our_code(c)) {
		code = srv_conn_our_code(c);
		by = "server";
	} else if (srv_conn_peer_code(c)) {
		code = srv_conn_peer_code(c);
	}
	srv_log("conn=%u closed code=%d by=%s", srv_conn_id(c), code, by);
}

static const struct srv_events events = {
	.accept = ev_accept,
	.open = ev_open,
	.closed = ev_closed,
};

/* The listening socket: systemd's, else our own on exactly --address. */
static int listen_socket(char *addr, size_t addrlen, int *port)
{
	char err[512];
	int fd = systemd_socket();

	if (fd == -2)
		return -1;
	/* Our own listening socket: lws would listen on every interface. */
	if (fd < 0 && (fd = ip_listen(opt.address, (int)opt.port, LISTEN_BACKLOG,
				     err, sizeof(err))) < 0) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return -1;
	}
	if (ip_bound_name(fd, addr, addrlen, port)) {
		fprintf(stderr, "%s: listening socket: %s\n", PROG, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct srv *start(struct rec_pool *pool, const char *key, int fd)
{
	struct srv_config cfg = {
		.name = PROG,
		.listen_fd = fd,
		.threaded = true,
		.max_streams = (unsigned)opt.max_conns,
		.max_pending = (unsigned)opt.max_pending,
		.max_open = (unsigned)(opt.max_conns * 4 + opt.max_pending),
		.idle_ms = opt.idle_s * 1000,
		.upgrade_timeout_ms = opt.upgrade_s * 1000,
		.shutdown_code = CLOSE_GOING_AWAY,
		.shutdown_grace_ms = SHUTDOWN_GRACE_MS,
		.tick_ms = TICK_MS,
		.lws_log_level = (int)opt.lws_debug,
		.lws_log_to_srv = true,
		.sess = {
			.key = key,
			.dialect = &srv_dialect_soniox,
			.rec = &rec_pocketsphinx,
			.rec_ctx = pool,
			.pacing = { .block_ms = BLOCK_MS, .partial_ms = (unsigned)opt.partial_ms,
				    .progress_ms = (unsigned)opt.progress_ms, .partial_on_change = true },
		},
		.events = &events,
	};
	return srv_new(&cfg);
}

int main(int argc, char **argv)
{
	struct rec_model model;
	struct rec_pool *pool = NULL;
	struct srv *srv = NULL;
	char *key = NULL, addr[INET6_ADDRSTRLEN] = "?", err[512];
	int port = 0, fd, rc = 2;

	if (parse_options(argc, argv))
		return 2;
	if (opt.key_file && key_load(opt.key_file, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return 2;
	}
	fd = listen_socket(addr, sizeof(addr), &port);
	if (fd < 0)
		goto out;
	model = (struct rec_model){ opt.hmm, opt.lm, opt.dict };
	if (rec_pool_new(&model, (unsigned)opt.spare, &pool, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		close(fd);
		goto out;
	}
	srv = start(pool, key, fd);
	if (!srv)
		goto out;
	printf("listening port=%d address=%s\n", port, addr);
	fflush(stdout);
	srv_run(srv);
	srv_log("exit reason=%s streams=%u", srv_quit_reason(srv), srv_stream_count(srv));
	srv_drain(srv);
	rc = 0;
out:
	srv_free(srv);		/* joins every session thread */
	rec_pool_free(pool);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	return rc;
}
