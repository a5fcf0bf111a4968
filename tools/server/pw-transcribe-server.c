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
 *   pw-transcribe-server [--socket PATH | --address A --port P [--insecure-tcp]]
 *                        [--key-file FILE] [--dialect NAME]
 *                        [--hmm DIR] [--lm FILE] [--dict FILE]
 *                        [--max-connections N] [--spare-decoders N]
 *                        [--idle-timeout S] [--upgrade-timeout S] [--max-pending N]
 *                        [--partial-ms MS] [--progress-ms MS]
 *                        [--lws-debug BITS] [--help] [--version]
 *   (options: --help and doc/pw-transcribe-server.1; the CLI is server-cli.c)
 *
 * Listening (server-listen.c)
 *   By default a Unix socket private to the user:
 *       $XDG_RUNTIME_DIR/pipewire-transcribe/server.sock
 *   The directory is created 0700 when missing; one owned by someone else
 *   or open to group/others is refused (another user could take the audio
 *   or stand in for the server). The socket is 0600; a stale one is
 *   replaced, a live one is not, ours is removed at exit. --socket PATH
 *   names another. Clients: ws+unix://<that path>:/transcribe-websocket.
 *   TCP only when --address or --port asks for it (an IP literal, bound
 *   exactly; port 0 picks a free one), and only with --key-file, or with
 *   --insecure-tcp on a loopback address (a warning is logged); a
 *   non-loopback address without a key is refused. Started by systemd
 *   socket activation (LISTEN_FDS=1), it serves the socket it is given (a
 *   TCP one under the same rules). The first line on stdout is
 *       listening socket=<path>   or   listening port=<p> address=<a>
 *   Everything else goes to stderr, one line per event (see "Log").
 *
 * Authentication
 *   Without --key-file every client is accepted. With it, the key is the
 *   file's first line; the file must not be accessible by group or others
 *   (chmod 600) or the server refuses to start. A client then sends
 *   "Authorization: Bearer <key>" on the upgrade request, or "api_key" in
 *   its config message; otherwise it gets error 401 (below) and the close.
 *
 * Dialects: --dialect deepgram|openai-realtime|vosk speaks another
 * service's protocol instead (tools/common/srv-dialect-<name>.c, the man
 * page's DIALECTS); the Soniox one below is the default.
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
 *   warning what=insecure-tcp address=A msg="..."   (TCP without a key)
 *   exit reason=signal streams=K
 *
 * Exit status: 0 after a signal; 2 on bad usage or when the model, the key
 * file or the socket cannot be set up (the message says which).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recognizer.h"
#include "server-cli.h"
#include "server-listen.h"
#include "srv-core.h"
#include "srv-key.h"
#include "srv-log.h"

#define TICK_MS			250
#define SHUTDOWN_GRACE_MS	2000
#define CLOSE_GOING_AWAY	1001
#define BLOCK_MS		100	/* responses are considered this often (audio) */

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

static struct srv *start(const struct server_options *opt, struct rec_pool *pool, const char *key,
			 int fd)
{
	static struct srv_recognizer rec_at_rate;	/* the table, at the pool's rate */
	const struct srv_recognizer *rec = &rec_at_rate;

	rec_at_rate = rec_pocketsphinx;
	rec_at_rate.rate = rec_pool_rate(pool);
	struct srv_config cfg = {
		.name = SERVER_PROG,
		.listen_fd = fd,
		.threaded = true,
		.max_streams = (unsigned)opt->max_conns,
		.max_pending = (unsigned)opt->max_pending,
		.max_open = (unsigned)(opt->max_conns * 4 + opt->max_pending),
		.idle_ms = opt->idle_s * 1000,
		.upgrade_timeout_ms = opt->upgrade_s * 1000,
		.shutdown_code = CLOSE_GOING_AWAY,
		.shutdown_grace_ms = SHUTDOWN_GRACE_MS,
		.tick_ms = TICK_MS,
		.lws_log_level = (int)opt->lws_debug,
		.lws_log_to_srv = true,
		.sess = {
			.key = key,
			.dialect = opt->dialect,
			.rec = rec,
			.rec_ctx = pool,
			.pacing = { .block_ms = BLOCK_MS, .partial_ms = (unsigned)opt->partial_ms,
				    .progress_ms = (unsigned)opt->progress_ms, .partial_on_change = true },
		},
		.events = &events,
	};
	return srv_new(&cfg);
}

int main(int argc, char **argv)
{
	struct server_options opt;
	struct server_listener listener = { .fd = -1 };
	struct rec_model model;
	struct rec_pool *pool = NULL;
	struct srv *srv = NULL;
	char *key = NULL, err[512];
	int rc;

	rc = server_cli_parse(argc, argv, &opt);
	if (rc)
		return rc > 0 ? 0 : 2;
	rc = 2;
	if (opt.key_file && key_load(opt.key_file, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", SERVER_PROG, err);
		return 2;
	}
	if (server_listen(&opt, key != NULL, &listener))
		goto out;
	model = (struct rec_model){ opt.hmm, opt.lm, opt.dict, (unsigned)opt.rate };
	if (rec_pool_new(&model, (unsigned)opt.spare, &pool, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", SERVER_PROG, err);
		close(listener.fd);
		goto out;
	}
	srv = start(&opt, pool, key, listener.fd);	/* takes the fd */
	if (!srv)
		goto out;
	server_listen_announce(&listener);
	srv_run(srv);
	srv_log("exit reason=%s streams=%u", srv_quit_reason(srv), srv_stream_count(srv));
	srv_drain(srv);
	rc = 0;
out:
	srv_free(srv);		/* joins every session thread */
	server_listen_cleanup(&listener);
	rec_pool_free(pool);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	return rc;
}
