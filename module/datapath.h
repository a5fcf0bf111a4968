/* The data path of a tap's session: captured audio into the replay buffer
 * and out to the connection the session names (replayed from the committed
 * position, paced, then live); the service's messages parsed, mapped onto
 * the tap's timeline, handed to the transcript (log, journal, main thread),
 * and the committed position released.
 *
 * It decides nothing: the session says which connection takes audio, when
 * to end a stream and what captured audio to keep; the data path does that
 * and measures what the session needs to know (speech level, the service's
 * progress, errors). No sockets: sending goes through datapath_ops.
 *
 * Worker thread only (or a test).
 */
#ifndef TRANSCRIBE_DATAPATH_H
#define TRANSCRIBE_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dialect.h"
#include "session.h"

/* Silence is a block of captured audio below this RMS level (dBFS). The
 * LibriVox recordings of pocketsphinx-testdata have their pauses and noise
 * floor at −56 to −50 dBFS and 95 % of their 100 ms chunks of speech
 * above −49 dBFS (README, "The session"). */
#define DATAPATH_SPEECH_DB	-50
/* Closed for silence: this much audio before speech returns is kept, so
 * the first word is heard from its start. */
#define DATAPATH_PREROLL_MS	1000

struct datapath_ops {
	/* Queues a message on conn; < 0 when it is gone. */
	int (*send)(void *data, uint64_t conn, const void *buf, size_t len, bool text);
	/* Messages queued on conn, not yet written (back-pressure). */
	uint32_t (*queued)(void *data, uint64_t conn);
};

struct iothread;
struct datapath_config {
	uint32_t rate;
	uint32_t channels;
	uint32_t memory_sec;		/* replay buffer in memory */
	uint32_t replay_speed;		/* × real time while catching up */
	uint64_t spool_bytes;		/* disk spool beyond memory; 0: none */
	const char *spool_dir;		/* "" the state dir */
	struct iothread *io;		/* the spool's I/O thread; NULL: none */
	uint32_t overlap_ms;		/* replayed before C (speaker mapping) */
	uint32_t frame_ms;		/* audio per WebSocket message */
	uint32_t max_queued;		/* messages handed to the transport at once */
};

/* What one pump did, for the session. */
struct datapath_sent {
	uint64_t conn;			/* 0: nothing was sent */
	bool voiced;			/* speech was among it */
	bool end_sent;			/* the end of stream went out on conn */
};

/* What one message of the service means to the session: up to this many
 * events (READY, MESSAGE, SERVICE_ERROR, RESYNC, FINISHED as they apply). */
#define DATAPATH_MAX_EVENTS	5

struct transcript_out;
struct datapath;

/* out: where words and gaps go (owned by the caller). err: why not. */
struct datapath *datapath_new(const struct datapath_config *cfg, const struct dialect_ops *dialect,
		struct transcript_out *out, const struct datapath_ops *ops, void *data,
		char *err, size_t err_size);
void datapath_free(struct datapath *dp);

/* Captured audio in stream order (S16LE). Returns true when it is speech. */
bool datapath_push(struct datapath *dp, const void *audio, uint32_t bytes);
/* Follows the session: conn (its audio_conn) takes live audio, and what
 * no connection took is kept as policy says. now_ms: the worker's clock. */
void datapath_follow(struct datapath *dp, const struct session_status *st, uint64_t now_ms);
/* SEND_END: (with backlog, what was captured so far goes to conn, paced,
 * then) the end of stream; datapath_pump() reports when it is out. */
void datapath_end(struct datapath *dp, uint64_t conn, bool backlog, uint64_t now_ms);
/* Sends what is due; keepalives when nothing else went for a while. */
void datapath_pump(struct datapath *dp, uint64_t now_ms, struct datapath_sent *sent);
/* A text message of conn (the session's current connection): fills ev
 * with what the session must hear (messages point into dp, valid until
 * the next call) and returns how many; 0 for a message not understood
 * (logged, ignored) or one of a connection that dropped words. */
uint32_t datapath_message(struct datapath *dp, uint64_t conn, const char *msg, size_t len,
		uint64_t now_ms, struct session_event ev[DATAPATH_MAX_EVENTS]);

/* Words an end of stream cut short are held back until it is clear no
 * next connection hears them whole (datapath_follow() decides); this
 * publishes them now (shutdown). */
void datapath_flush(struct datapath *dp);

uint64_t datapath_buffered_ms(const struct datapath *dp);
uint64_t datapath_spooled_ms(const struct datapath *dp);
uint64_t datapath_dropped_ms(const struct datapath *dp);
/* The end of what was captured, on the tap's timeline (journal state lines). */
int64_t datapath_position_ms(const struct datapath *dp);

#endif
