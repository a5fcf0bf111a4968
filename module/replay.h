/* The replay buffer of a tap's session (DESIGN.md §6): captured audio from
 * the committed position C (the end of what the service has finalized) to
 * now, the newest memory_sec in memory and what is older in a disk spool
 * (spool.c). Each connection is sent the buffer from C (its base B = C)
 * faster than real time, up to `speed` times, then live; what the service
 * makes final is released. When even the spool is full (or there is none,
 * or it failed) the oldest audio goes: C jumps over it and the caller
 * records the gap.
 *
 * No clock and no sockets: times are passed in; the only I/O is the
 * spool's file (on the I/O thread, when given one: a chunk the spool is
 * still reading ahead is simply not due yet). One owner (the worker's
 * session shell, or a test).
 */
#ifndef TRANSCRIBE_REPLAY_H
#define TRANSCRIBE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio-fifo.h"
#include "spool.h"
#include "timeline.h"

struct iothread;

/* Ahead of real time a connection may always be: what makes the replay
 * start at once and live audio never wait. */
#define REPLAY_LEAD_MS	1000

struct replay {
	struct spool spool;		/* the oldest part, from C on (fd < 0: none) */
	struct audio_fifo fifo;		/* the newest part */
	uint8_t *scratch;		/* moving memory into the spool */
	int spool_error;		/* why the spool stopped; 0: fine or never had one */
	struct timeline tl;
	uint32_t rate;
	uint32_t frame_bytes;
	uint32_t speed;			/* × real time while catching up */
	uint32_t overlap_ms;		/* kept before C for the next connection */
	uint64_t head_frame;		/* stream frame at the fifo's head */
	size_t sent_off;		/* bytes after the head sent on tl.conn */
	uint64_t conn_sent_bytes;	/* sent on tl.conn in all */
	uint64_t conn_start_ms;
	uint64_t dropped_ms;		/* lost to full buffers past C, in all */
};

/* spool_dir NULL: memory only; "": the state dir. A spool that cannot be
 * opened leaves memory only and says why in err (the call still succeeds).
 * io: the spool's I/O thread, or NULL. Returns 0 or -ENOMEM. */
int replay_init(struct replay *r, uint32_t rate, uint32_t frame_bytes, uint32_t memory_sec,
		uint32_t speed, const char *spool_dir, uint64_t spool_bytes, struct iothread *io,
		char *err, size_t err_size);
void replay_clear(struct replay *r);

/* Appends captured audio, moving the oldest of memory into the spool when
 * memory is full. A spool write error drops the spool (a gap) and leaves
 * memory only; r->spool_error says why (also for an error the I/O thread
 * met since). A full I/O queue empties the spool (a gap at C) and keeps it.
 * When the oldest had to go, returns the gap's
 * length in ms and its stream start in *gap_start_ms (may be NULL); else 0. */
int64_t replay_push(struct replay *r, const void *data, size_t bytes, int64_t *gap_start_ms);
/* Keeps overlap_ms of audio before C, which the next connection hears
 * again (speaker mapping across sessions; 0 by default). */
void replay_set_overlap(struct replay *r, uint32_t overlap_ms);
/* conn gets the audio from C (less the overlap) on, starting at now_ms. */
void replay_begin(struct replay *r, uint64_t conn, uint64_t now_ms);
/* Copies the next chunk for the current connection into dst: a whole
 * chunk, or with `all` whatever is left (end of stream); 0 when nothing is
 * due (live: not enough audio yet; replay: ahead of `speed`). */
size_t replay_next(struct replay *r, uint64_t now_ms, void *dst, size_t chunk, bool all);
void replay_sent(struct replay *r, size_t bytes);
/* The service finalized its audio up to final_ms (its own time). */
void replay_commit(struct replay *r, int64_t final_ms);
/* Lets go of all but the newest keep_ms of audio no connection is being
 * sent: C moves past it without a gap (silence, or a stop), nothing is
 * counted as dropped. */
void replay_discard(struct replay *r, uint32_t keep_ms);
/* Bytes not yet sent on the current connection. */
size_t replay_unsent_bytes(const struct replay *r);

uint64_t replay_buffered_ms(const struct replay *r);
uint64_t replay_spooled_ms(const struct replay *r);
uint64_t replay_dropped_ms(const struct replay *r);

#endif
