/* The I/O shell around one tap's session: it carries out the state
 * machine's actions (credentials and DNS on the helper thread, sockets
 * through the transport, timers on the lws loop, audio and words through
 * the data path) and turns what happens into session events. It decides
 * nothing itself.
 *
 * Worker thread only, except shell_free() (after the worker is joined).
 */
#ifndef TRANSCRIBE_SESSION_SHELL_H
#define TRANSCRIBE_SESSION_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "config.h"
#include "session.h"

struct blocking;
struct iothread;
struct publish_queue;
struct shell;

/* io: where the journal and the spool do their disk I/O (must outlive
 * shell_free()). */
struct shell *shell_new(const char *tap, const struct transcribe_config *cfg,
		struct lws_context *ctx, struct blocking *blocking, struct iothread *io,
		char *err, size_t err_size);
/* Start, Stop, Reconnect, Finalize, Wait (answered through the output once
 * ready, failed, timed out or stopped), network changed, suspending,
 * resumed: fed to the session, then what is due is sent. */
void shell_event(struct shell *sh, const struct session_event *ev);
/* Audio in stream order (S16LE, the configured rate and channels). */
void shell_audio(struct shell *sh, const void *data, uint32_t bytes);
/* The worker that runs this shell is ending unexpectedly: `failed` with
 * why goes out (and to the journal); nothing runs the session after. */
void shell_died(struct shell *sh, const char *why);
/* Audio lost before it reached us (the capture fills it with silence):
 * a gap line in the journal. */
void shell_gap(struct shell *sh, uint64_t at_ms, uint64_t len_ms, const char *reason);
/* Periodic: what is due goes out, counters, the journal's fsync. */
void shell_tick(struct shell *sh);
/* True while a socket is open or closing (sleep waits for none). */
bool shell_has_socket(struct shell *sh);
/* Stopped (or never started): nothing more will be sent. */
bool shell_stopped(struct shell *sh);
/* No more timers, sockets or events; call before lws_context_destroy(). */
void shell_shutdown(struct shell *sh);
/* After lws_context_destroy(). */
void shell_free(struct shell *sh);

/* Publish state, segments and answers to q as tap (and the state now). */
void shell_set_output(struct shell *sh, struct publish_queue *q, uint32_t tap);
/* Audio the capture lost to ring overflow, for the published counters. */
void shell_set_ring_dropped(struct shell *sh, uint64_t ms);

#endif
