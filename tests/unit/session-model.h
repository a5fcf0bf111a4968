/* A model of the world around the session state machine, for model-based
 * testing (test-session-model.c) and for the regression tests its
 * violations became (test-session.c).
 *
 * The model plays every party the machine talks to: the transport (sockets
 * that open, fail, close, get released early, late or never), the helper
 * thread (credentials that arrive late or for an attempt that is over), the
 * user (Start, Stop, Reconnect, Finalize, WaitReady at any moment), the
 * network and the power manager, on a virtual clock that fires the
 * machine's timers in deadline order. After every step it checks the
 * invariants stated in module/session.h and records the first violation.
 *
 * Sequences are made of symbolic operations ("the newest socket opened",
 * "a socket that is closing is released") so that a failing sequence can be
 * shrunk by deleting operations and still mean something.
 */
#ifndef TRANSCRIBE_TEST_SESSION_MODEL_H
#define TRANSCRIBE_TEST_SESSION_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

enum model_op_kind {
	OP_START,
	OP_STOP,
	OP_RECONNECT,
	OP_FINALIZE,
	OP_WAIT,		/* a: timeout choice */
	OP_NETWORK,
	OP_SUSPEND,
	OP_RESUME,
	OP_CREDS_OK,		/* a: 0 newest attempt, else an older one */
	OP_CREDS_FAIL,		/* a: attempt choice, b: class choice */
	OP_OPENED,		/* a: 0 newest socket, else an older one */
	OP_READY,
	OP_CONNECT_FAILED,	/* b: failure choice */
	OP_MESSAGE,		/* b: 0 no progress, 1 progress, 2 tokens */
	OP_AUDIO,		/* b: 0 silent, 1 voiced; captured and sent */
	OP_PONG,		/* a: 0 answers the newest ping, else an older one */
	OP_SERVICE_ERROR,	/* b: error code choice */
	OP_CLOSED,		/* a: socket choice, b: close code choice */
	OP_FINISHED,
	OP_END_SENT,
	OP_RESYNC,
	OP_RELEASE,		/* a: which closing socket */
	OP_ADVANCE,		/* a: how far (ms) */
	OP_N_KINDS,
};

struct model_op {
	enum model_op_kind kind;
	uint32_t a, b;
};

struct model;

/* The configuration of run variant n: dialects with and without an ack,
 * pings off, silence handling off, a short session cap, … */
void model_config(struct session_config *cfg, uint32_t variant);
/* A service that keeps refusing in one way: every failure the world
 * reports is this one, and the service never makes progress. */
enum model_fault {
	FAULT_ANY,		/* random failures, progress happens */
	FAULT_CREDS,		/* the key source fails (transient) */
	FAULT_CREDS_AUTH,	/* the temporary-key endpoint says 401 */
	FAULT_HTTP_401,
	FAULT_HTTP_429,
	FAULT_TCP,		/* refused, reset before the upgrade */
	FAULT_ERROR_401,	/* JSON error after the upgrade */
	FAULT_ERROR_429,
	FAULT_ERROR_500,
	FAULT_ERROR_503,
	FAULT_CLOSE_1008,
	FAULT_CLOSE_1006,
	FAULT_CLOSE_1012,
	FAULT_SILENT,		/* accepts, answers pings, never progresses */
	MODEL_N_FAULTS,
};

/* cfg NULL: the defaults of the module (fast-attempts 6, …). */
struct model *model_new(const struct session_config *cfg, enum model_fault fault);
void model_free(struct model *m);
/* Runs one operation and checks every invariant; false once violated. */
bool model_step(struct model *m, const struct model_op *op);
/* Lets the world settle (sockets released, streams finished, time passes)
 * and checks the end-of-run invariants (last of Start/Stop wins, every
 * waiter answered exactly once). */
bool model_finish(struct model *m);
const char *model_violation(const struct model *m);
uint64_t model_steps(const struct model *m);

/* Random operation from a seeded generator (xorshift64). */
void model_random_op(uint64_t *rng, struct model_op *op);
/* "OP_STOP", "OP_AUDIO(0, 1)", … as C, for regression tests. */
void model_format_op(const struct model_op *op, char *buf, size_t size);

/* Runs ops from scratch; returns the index of the op whose step violated
 * an invariant, n when only model_finish() did, or -1 when all held. */
int model_run(const struct session_config *cfg, enum model_fault fault,
		const struct model_op *ops, size_t n, char *violation, size_t size);

#endif
