/* fs-session: one fault-server connection speaking the Soniox real-time
 * subset, without I/O.
 *
 * The shell (fault-server.c) feeds it complete text messages and binary
 * audio chunks; it answers by queueing outgoing items (text/binary frames and
 * actions such as "close with code", "reset the TCP connection") that the
 * shell pops and performs in order from its writeable callback. Timed faults
 * ("@<ms>" items of a fault spec) are evaluated against the audio received so
 * far and turn into queued items too, after the responses already queued.
 *
 * Every event is logged as "conn=<id> ..." on stdout (fs-log.h).
 * Single-threaded: the server's service loop only.
 */
#ifndef FS_SESSION_H
#define FS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs-fault.h"
#include "fs-recognizer.h"

enum sess_auth {
	SESS_AUTH_OK,		/* header matched (or no key required and a header was sent) */
	SESS_AUTH_MISSING,	/* no Authorization header */
	SESS_AUTH_BAD,		/* header present, wrong */
};

struct sess_params {
	const char *key;	/* required API key, NULL = none */
	struct rec_params rec;
	unsigned partial_ms;	/* non-final token at most this often (audio ms) */
	unsigned progress_ms;	/* a response at least this often (audio ms) */
	size_t pre;		/* bytes reserved before every payload (LWS_PRE) */
};

enum sess_out_kind {
	SESS_OUT_TEXT,
	SESS_OUT_BINARY,
	SESS_OUT_CLOSE,		/* WebSocket close frame with code, then hang up */
	SESS_OUT_RST,		/* hang up with a TCP reset */
	SESS_OUT_FIN,		/* hang up with a TCP FIN, no close frame */
	SESS_OUT_STALL,		/* stop reading and writing; resume after for_ms if > 0 */
};

struct sess_out {
	struct sess_out *next;
	enum sess_out_kind kind;
	int code;		/* CLOSE: close code */
	int64_t for_ms;		/* STALL */
	size_t len;		/* TEXT/BINARY payload length */
	unsigned char *buf;	/* TEXT/BINARY: pre + len bytes, payload at buf + pre */
};

struct sess;

/* p must outlive the session. Returns NULL when out of memory. */
struct sess *sess_new(unsigned id, const struct sess_params *p, enum sess_auth auth,
		      const struct fault_spec *faults);
void sess_free(struct sess *s);

/* Replaces the timed faults (runtime "fault N:SPEC"); items already due fire now. */
void sess_set_faults(struct sess *s, const struct fault_spec *faults);

/* The upgrade is done: fires "@0" faults. */
void sess_on_open(struct sess *s);

/* One complete text message (may be empty: end of stream). */
void sess_on_text(struct sess *s, const char *msg, size_t len);

/* A chunk of a binary message; msg_end marks the last chunk. A message of
 * zero bytes in total means end of stream. */
void sess_on_binary(struct sess *s, const void *data, size_t len, bool first, bool msg_end);

/* No message arrived for idle_ms (fault idle=): error 408, then close. */
void sess_idle_timeout(struct sess *s, int64_t idle_ms);

/* Head of the outgoing queue (NULL if empty); the caller frees it with
 * sess_out_free() after performing it. */
struct sess_out *sess_pop(struct sess *s);
bool sess_has_out(const struct sess *s);
void sess_out_free(struct sess_out *o);

/* True once a stall fault fired: the shell stops reading until sess_resume(). */
bool sess_rx_paused(const struct sess *s);
void sess_resume(struct sess *s);

/* A terminal item (close, reset, ...) is queued: input is ignored from now on. */
bool sess_terminal(const struct sess *s);

/* Audio received so far, in ms. */
uint64_t sess_audio_ms(const struct sess *s);

#endif
