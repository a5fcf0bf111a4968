/* The I/O shell around one tap's session: it carries out the state
 * machine's actions (credentials and DNS on the helper thread, sockets
 * through the transport, timers on the lws loop) and turns what happens
 * into session events. It also feeds the tap's audio to the service.
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
struct shell;

struct shell *shell_new(const char *tap, const struct transcribe_config *cfg,
		struct lws_context *ctx, struct blocking *blocking, char *err, size_t err_size);
void shell_start(struct shell *sh);
/* Audio in stream order (S16LE, the configured rate and channels). */
void shell_audio(struct shell *sh, const void *data, uint32_t bytes);
/* Network changed, system suspending or resumed (SESSION_EV_*). */
void shell_notify(struct shell *sh, enum session_event_type type);
/* True while a socket is open or closing (suspend waits for none). */
bool shell_has_socket(struct shell *sh);
/* Periodic: keepalives and sending what is pending. */
void shell_tick(struct shell *sh);
/* Graceful stop: finalize and close. shell_stopped() tells when done. */
void shell_stop(struct shell *sh);
bool shell_stopped(struct shell *sh);
/* No more timers, sockets or events; call before lws_context_destroy(). */
void shell_shutdown(struct shell *sh);
/* After lws_context_destroy(). */
void shell_free(struct shell *sh);

void shell_get_status(struct shell *sh, struct session_status *st);

struct publish_queue;
/* Publish state, segments and answers to q as tap (and the state now). */
void shell_set_output(struct shell *sh, struct publish_queue *q, uint32_t tap);
/* Audio the capture lost to ring overflow, for the published counters. */
void shell_set_ring_dropped(struct shell *sh, uint64_t ms);
/* Answers waiter through the output once ready, failed, timed out or stopped. */
void shell_wait(struct shell *sh, uint64_t waiter, uint32_t timeout_ms);
/* Asks the service to finalize now; -EAGAIN when not streaming. */
int shell_finalize(struct shell *sh);

#endif
