/* The world around the session state machine (see session-model.h). */
#include "session-model.h"
#include "session-sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SOCKS	4096
#define MAX_WAITERS	4096
#define MAX_ATTEMPTS	4096

enum sock_state { SOCK_REQUESTED, SOCK_OPEN, SOCK_CLOSING, SOCK_GONE };

struct sock {
	uint64_t id;
	enum sock_state st;
	uint64_t closing_since;
	bool ended;			/* SEND_END went to it */
	bool finished;			/* and FINISHED came back */
	bool speech;			/* voiced audio sent since its last progress */
	int64_t progress;		/* the service's counter */
	uint64_t ready_at;		/* it became the streaming connection */
	uint64_t last_heard_at;		/* a pong or a message */
	uint64_t pings[4];		/* seqs of the last pings sent to it */
	uint32_t n_pings;
};

struct model {
	struct session *s;
	struct session_config cfg;
	uint64_t now;
	uint64_t steps;
	uint64_t timer_at[SESSION_N_TIMERS];
	struct session_actions acts;

	struct sock socks[MAX_SOCKS];
	uint32_t n_socks;
	uint64_t attempts[MAX_ATTEMPTS];	/* FETCH_CREDS ids, in order */
	uint32_t n_attempts;
	uint8_t answers[MAX_WAITERS];		/* per waiter id: answers seen */
	uint32_t n_waiters;
	enum model_fault fault;
	enum model_op_kind op;			/* running */
	bool suspended;
	enum session_timer timer;		/* fired, when op is OP_ADVANCE */

	enum model_op_kind last_user;		/* OP_START or OP_STOP, else OP_N_KINDS */
	uint32_t fetches_since_reset;		/* attempts without progress */
	bool offline_since_reset;		/* then probes may go on for ever */
	bool violated;
	char violation[1024];
};

static const struct session_config model_defaults = {
	.fast_attempts = 6, .base_ms = 1000, .cap_ms = 16000, .offline_probe_ms = 30000,
	.connect_timeout_ms = 10000, .stall_timeout_ms = 10000, .ping_ms = 1000,
	.pong_timeout_ms = 2000, .stop_timeout_ms = 3000, .drain_timeout_ms = 30000,
	.stable_ms = 30000, .idle_finalize_ms = 1500, .idle_close_ms = 60000,
	.max_session_ms = 0, .resume_timeout_ms = 30000, .hold_ms = 10000,
	.ready_on_open = true, .seed = 1, .tap = "m", .session_id = "model",
};

void model_config(struct session_config *cfg, uint32_t variant)
{
	*cfg = model_defaults;
	/* Dialects with and without an ack, pings off, no silence handling,
	 * a short session cap, a short stable period. */
	cfg->ready_on_open = variant % 2 == 0;
	if (variant / 2 % 4 == 1)
		cfg->ping_ms = 0;
	if (variant / 2 % 4 == 2)
		cfg->idle_finalize_ms = 0;
	if (variant / 2 % 4 == 3) {
		cfg->max_session_ms = 5000;
		cfg->idle_close_ms = 4000;
		cfg->stable_ms = 3000;
	}
	cfg->seed = 1 + variant;
}

/* Progress, or a user or system event that starts a new run of attempts. */
static void reset_run(struct model *m)
{
	m->fetches_since_reset = 0;
	m->offline_since_reset = false;
}

static bool violate(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool violate(struct model *m, const char *fmt, ...)
{
	va_list ap;

	char text[sizeof(m->violation)];
	const char *skip = getenv("MODEL_SKIP");

	if (m->violated)
		return false;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Exploring: violations already known can be set aside
	 * (MODEL_SKIP="text|text") to find the ones they hide. */
	for (const char *p = skip; p != NULL && *p != '\0';) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len > 0 && memmem(text, strlen(text), p, len) != NULL)
			return false;
		p = bar ? bar + 1 : p + len;
	}
	m->violated = true;
	memcpy(m->violation, text, sizeof(text));
	return false;
}

struct model *model_new(const struct session_config *cfg, enum model_fault fault)
{
	struct model *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->fault = fault;
	m->cfg = cfg ? *cfg : model_defaults;
	m->s = session_new(&m->cfg);
	m->now = 1000;
	m->last_user = OP_N_KINDS;
	return m;
}

void model_free(struct model *m)
{
	if (m == NULL)
		return;
	session_free(m->s);
	free(m);
}

const char *model_violation(const struct model *m)
{
	return m->violated ? m->violation : NULL;
}

uint64_t model_steps(const struct model *m)
{
	return m->steps;
}

static struct sock *find_sock(struct model *m, uint64_t id)
{
	for (uint32_t i = m->n_socks; i-- > 0;)
		if (m->socks[i].id == id)
			return &m->socks[i];
	return NULL;
}

static void status(struct model *m, struct session_status *st)
{
	session_get_status(m->s, m->now, st);
}

/* ---- actions: checked against the world, then applied to it ---- */

static void check_open(struct model *m, const struct session_action *a)
{
	for (uint32_t i = 0; i < m->n_socks; i++) {
		struct sock *k = &m->socks[i];
		if (k->id >= a->id)
			violate(m, "OPEN conn=%" PRIu64 " reuses or goes back on conn=%" PRIu64, a->id, k->id);
		if (k->st == SOCK_REQUESTED || k->st == SOCK_OPEN)
			violate(m, "OPEN conn=%" PRIu64 " while conn=%" PRIu64 " is still open",
					a->id, k->id);
		/* The escape: a socket never released stops blocking after
		 * the connect deadline. */
		if (k->st == SOCK_CLOSING && m->now - k->closing_since < m->cfg.connect_timeout_ms)
			violate(m, "OPEN conn=%" PRIu64 " before conn=%" PRIu64 " was released "
					"(closing for %" PRIu64 " ms)", a->id, k->id,
					m->now - k->closing_since);
	}
	if (m->n_socks == MAX_SOCKS)
		return;
	m->socks[m->n_socks++] = (struct sock){ .id = a->id, .st = SOCK_REQUESTED };
}

static void check_close(struct model *m, const struct session_action *a)
{
	struct sock *k = find_sock(m, a->id);

	if (k == NULL || k->st == SOCK_CLOSING || k->st == SOCK_GONE) {
		violate(m, "CLOSE conn=%" PRIu64 " which is %s", a->id,
				k == NULL ? "unknown" : k->st == SOCK_GONE ? "gone" : "closing already");
		return;
	}
	/* I10: an ending connection is kept until it is finished. */
	if (k->ended && !k->finished && !a->abort &&
	    !(m->op == OP_ADVANCE && m->timer == SESSION_TIMER_DRAIN))
		violate(m, "conn=%" PRIu64 " closed before its end of stream was acknowledged "
				"(its last finals are lost)", a->id);
	k->st = SOCK_CLOSING;
	k->closing_since = m->now;
}

static void check_send(struct model *m, const struct session_action *a, const char *what)
{
	struct sock *k = find_sock(m, a->id);
	struct session_status st;

	status(m, &st);
	if (k == NULL || k->st != SOCK_OPEN || a->id != st.conn)
		violate(m, "%s to conn=%" PRIu64 " which is %s (current conn=%" PRIu64 ")", what, a->id,
				k == NULL ? "unknown" : k->st == SOCK_REQUESTED ? "not upgraded" :
				k->st == SOCK_CLOSING ? "closing" : k->st == SOCK_GONE ? "gone" : "open",
				st.conn);
}

static void check_drain(struct model *m, const struct session_action *a)
{
	struct sock *k = find_sock(m, a->id);

	if (k == NULL)
		return;
	if (k->ended)
		violate(m, "%s to conn=%" PRIu64 " after its end of stream",
				a->type == SESSION_ACT_SEND_END ? "a second SEND_END" : "FINALIZE", a->id);
	if (a->type == SESSION_ACT_SEND_END)
		k->ended = true;
}

static void check_answer(struct model *m, const struct session_action *a)
{
	if (a->id == 0 || a->id > m->n_waiters || a->id >= MAX_WAITERS) {
		violate(m, "ANSWER for unknown waiter %" PRIu64, a->id);
		return;
	}
	if (++m->answers[a->id] > 1)
		violate(m, "waiter %" PRIu64 " answered twice", a->id);
	if (a->answer == SESSION_ANSWER_ERROR && a->text[0] == '\0')
		violate(m, "waiter %" PRIu64 " answered with an error without a reason", a->id);
}

/* I12: "no progress" only after speech. */
static void check_log(struct model *m, const struct session_action *a)
{
	struct session_status st;
	struct sock *k;

	const char *c = strstr(a->text, " conn=");

	status(m, &st);
	/* The line names the connection it was about. */
	k = find_sock(m, c ? strtoull(c + 6, NULL, 10) : 0);
	if (strstr(a->text, "progress from the service: the run of failures is over") != NULL) {
		/* Progress the machine counts on its own must be real: the
		 * service answered for stable_ms of streaming. */
		bool stable = k != NULL && k->ready_at > 0 && m->cfg.stable_ms > 0 &&
			k->last_heard_at >= k->ready_at + m->cfg.stable_ms;
		if (m->op != OP_MESSAGE && !stable)
			violate(m, "the machine claims progress that did not happen");
		reset_run(m);
		return;
	}
	if (strstr(a->text, "failure") == NULL || strstr(a->text, "no progress") == NULL)
		return;
	if (k != NULL && !k->speech)
		violate(m, "conn=%" PRIu64 " declared stalled though no speech was sent since its "
				"last progress", k->id);
}

static void apply(struct model *m, enum session_state before)
{
	for (uint32_t i = 0; i < m->acts.n; i++) {
		const struct session_action *a = &m->acts.a[i];

		switch (a->type) {
		case SESSION_ACT_FETCH_CREDS:
			/* A restart for a network change, or to hear dropped
			 * words again, is not a retry. */
			if ((m->op == OP_NETWORK && before == SESSION_CONNECTING) ||
			    m->op == OP_RESYNC) {
				/* not counted */
			} else if (!m->offline_since_reset &&
			    m->fetches_since_reset >= m->cfg.fast_attempts + 1) {
				violate(m, "attempt %u without progress from the service and not "
						"offline or failed (state %s): a retry loop",
						m->fetches_since_reset + 1, session_state_name(before));
			} else {
				m->fetches_since_reset++;
			}
			if (m->n_attempts < MAX_ATTEMPTS)
				m->attempts[m->n_attempts++] = a->id;
			break;
		case SESSION_ACT_OPEN:
			check_open(m, a);
			break;
		case SESSION_ACT_CLOSE:
			check_close(m, a);
			break;
		case SESSION_ACT_SEND_CONFIG:
			check_send(m, a, "SEND_CONFIG");
			break;
		case SESSION_ACT_SEND_END:
		case SESSION_ACT_SEND_FINALIZE:
			check_send(m, a, a->type == SESSION_ACT_SEND_END ? "SEND_END" : "SEND_FINALIZE");
			check_drain(m, a);
			break;
		case SESSION_ACT_SEND_PING: {
			struct sock *k = find_sock(m, a->id);
			check_send(m, a, "SEND_PING");
			if (k == NULL)
				break;
			if (k->n_pings == 4)
				memmove(k->pings, k->pings + 1, --k->n_pings * sizeof(k->pings[0]));
			k->pings[k->n_pings++] = a->seq;
			break;
		}
		case SESSION_ACT_LOG:
			if (getenv("MODEL_TRACE"))
				fprintf(stderr, "%8" PRIu64 " %s\n", m->now, a->text);
			check_log(m, a);
			break;
		case SESSION_ACT_ARM_TIMER:
			if (a->at_ms < m->now)
				violate(m, "timer %s armed in the past", session_timer_name(a->timer));
			sim_track_timer(m->timer_at, a);
			break;
		case SESSION_ACT_CANCEL_TIMER:
			sim_track_timer(m->timer_at, a);
			break;
		case SESSION_ACT_ANSWER:
			check_answer(m, a);
			break;
		default:
			break;
		}
	}
	if (m->acts.n == SESSION_MAX_ACTIONS)
		violate(m, "the action table overflowed");
}

/* ---- invariants after every step ---- */

static bool any_timer(const struct model *m)
{
	for (int t = 0; t < SESSION_N_TIMERS; t++)
		if (m->timer_at[t] != 0)
			return true;
	return false;
}

static void check_state(struct model *m, enum session_state before, enum model_op_kind op)
{
	struct session_status st;

	status(m, &st);
	if (st.state == SESSION_OFFLINE)
		m->offline_since_reset = true;
	if (st.state == SESSION_STREAMING && before != SESSION_STREAMING) {
		struct sock *k = find_sock(m, st.conn);
		if (k != NULL && k->ready_at == 0)
			k->ready_at = m->now;
	}
	if (st.state == SESSION_FAILED && st.error[0] == '\0')
		violate(m, "failed without a reason");
	/* No dead ends: a state that waits for something has a timer. */
	switch (st.state) {
	case SESSION_CONNECTING:
		if (m->timer_at[SESSION_TIMER_CONNECT] == 0)
			violate(m, "connecting without a connect deadline");
		break;
	case SESSION_RECONNECTING:
	case SESSION_OFFLINE:
	case SESSION_STOPPING:
		if (!any_timer(m))
			violate(m, "%s with no timer armed: nothing will ever happen",
					session_state_name(st.state));
		break;
	default:
		break;
	}
	if (m->cfg.ping_ms > 0 && st.conn != 0) {
		struct sock *k = find_sock(m, st.conn);
		if (k != NULL && k->st == SOCK_OPEN && m->timer_at[SESSION_TIMER_PING] == 0)
			violate(m, "conn=%" PRIu64 " is upgraded but no ping is scheduled", st.conn);
	}
	if (before == SESSION_STOPPED && op != OP_START) {
		for (uint32_t i = 0; i < m->acts.n; i++) {
			const struct session_action *a = &m->acts.a[i];
			if (a->type == SESSION_ACT_LOG || a->type == SESSION_ACT_ANSWER ||
			    (a->type == SESSION_ACT_CLOSE && op == OP_OPENED) ||
			    a->type == SESSION_ACT_CANCEL_TIMER || a->type == SESSION_ACT_PUBLISH)
				continue;
			violate(m, "action %d after stopped (op %d)", a->type, op);
		}
		if (st.state != SESSION_STOPPED)
			violate(m, "left stopped without a Start");
	}
}

/* ---- operations ---- */

static void feed(struct model *m, struct session_event ev, enum model_op_kind op)
{
	struct session_status st;
	enum session_state before;

	status(m, &st);
	before = st.state;
	m->op = op;
	m->timer = ev.timer;
	session_handle(m->s, m->now, &ev, &m->acts);
	apply(m, before);
	check_state(m, before, op);
}

#define EV(...)	((struct session_event){ __VA_ARGS__ })

static void advance(struct model *m, uint64_t to)
{
	for (;;) {
		int next = sim_due_timer(m->timer_at, to);
		if (next < 0 || m->violated)
			break;
		if (m->timer_at[next] > m->now)
			m->now = m->timer_at[next];
		m->timer_at[next] = 0;
		/* A missing resume signal is replaced by the machine's own. */
		if (next == SESSION_TIMER_RESUME) {
			reset_run(m);
			m->suspended = false;
		}
		feed(m, EV(.type = SESSION_EV_TIMER, .timer = (enum session_timer)next), OP_ADVANCE);
	}
	if (to > m->now)
		m->now = to;
}

/* The socket an operation is about: 0 the newest the machine asked for,
 * k > 0 an older one (a stale id); 0 when there is none. */
static uint64_t pick_sock(struct model *m, uint32_t a)
{
	if (m->n_socks == 0)
		return 0;
	if (a == 0 || m->n_socks == 1)
		return m->socks[m->n_socks - 1].id;
	return m->socks[(m->n_socks - 1) - (1 + (a - 1) % (m->n_socks - 1))].id;
}

static uint64_t pick_attempt(struct model *m, uint32_t a)
{
	if (m->n_attempts == 0)
		return 0;
	if (a == 0 || m->n_attempts == 1)
		return m->attempts[m->n_attempts - 1];
	return m->attempts[(m->n_attempts - 1) - (1 + (a - 1) % (m->n_attempts - 1))];
}

static const enum err_class classes[] = { ERR_TRANSIENT, ERR_TRANSIENT_NOW, ERR_AUTH, ERR_FATAL };
static const int http_statuses[] = { 0, 401, 403, 400, 402, 404, 408, 429, 500, 503 };
static const int service_codes[] = { 400, 401, 402, 404, 408, 429, 500, 503 };
static const int close_codes[] = { 1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011, 1012, 4000 };
static const uint32_t wait_timeouts[] = { 0, 100, 3000, 10000, 60000 };
static const uint64_t advances[] = { 1, 10, 100, 500, 1000, 2500, 10000, 40000 };

static enum err_class soniox_class(int code)
{
	switch (code) {
	case 400: case 402: case 404: return ERR_FATAL;
	case 401: return ERR_AUTH;
	case 503: return ERR_TRANSIENT_NOW;
	default: return ERR_TRANSIENT;
	}
}

#define PICK(arr, i)	((arr)[(i) % (sizeof(arr) / sizeof((arr)[0]))])

static void sock_gone(struct model *m, uint64_t id)
{
	struct sock *k = find_sock(m, id);

	if (k != NULL && k->st != SOCK_CLOSING)
		k->st = SOCK_GONE;
}

/* A progress event the invariants count: on a streaming connection. */
static void progress_seen(struct model *m, struct sock *k)
{
	struct session_status st;

	status(m, &st);
	k->speech = false;
	if ((st.state == SESSION_STREAMING || st.state == SESSION_STOPPING) && k->id == st.conn)
		reset_run(m);
}

static bool is_open(const struct sock *k)
{
	return k != NULL && k->st == SOCK_OPEN;
}

static void network(struct model *m)
{
	uint32_t before = m->n_socks;
	struct session_status st;

	status(m, &st);
	feed(m, EV(.type = SESSION_EV_NETWORK_CHANGED), OP_NETWORK);
	/* I11 (the machine ignores the network while the system sleeps). */
	for (uint32_t i = 0; i < before && !m->violated; i++)
		if (m->socks[i].st == SOCK_REQUESTED && !m->suspended)
			violate(m, "conn=%" PRIu64 " still connecting on the old path after a "
					"network change", m->socks[i].id);
}

/* What the service says on an upgraded socket. */
static void service_op(struct model *m, const struct model_op *op, uint64_t conn, struct sock *k)
{
	switch (op->kind) {
	case OP_MESSAGE:
		if (!is_open(k))
			break;
		if (op->b % 3 == 1)
			k->progress += 100;
		if (op->b % 3 != 0)
			progress_seen(m, k);
		k->last_heard_at = m->now;
		feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn, .progress_ms = k->progress,
				.count = op->b % 3 == 2 ? 1 : 0), op->kind);
		break;
	case OP_AUDIO:
		feed(m, EV(.type = SESSION_EV_AUDIO, .voiced = op->b % 2), op->kind);
		if (!is_open(k))
			break;
		k->speech |= op->b % 2;
		feed(m, EV(.type = SESSION_EV_AUDIO_SENT, .id = conn, .voiced = op->b % 2), op->kind);
		break;
	case OP_PONG:
		if (!is_open(k) || k->n_pings == 0)
			break;
		k->last_heard_at = m->now;
		feed(m, EV(.type = SESSION_EV_PONG, .id = conn,
				.seq = k->pings[k->n_pings - 1 - op->b % k->n_pings]), op->kind);
		break;
	case OP_SERVICE_ERROR: {
		int code = PICK(service_codes, op->b);
		if (!is_open(k))
			break;
		feed(m, EV(.type = SESSION_EV_SERVICE_ERROR, .id = conn, .code = code,
				.cls = soniox_class(code), .message = "service error"), op->kind);
		break;
	}
	case OP_CLOSED:
		if (!is_open(k))
			break;
		sock_gone(m, conn);
		feed(m, EV(.type = SESSION_EV_CLOSED, .id = conn, .code = PICK(close_codes, op->b)),
				op->kind);
		break;
	case OP_FINISHED:
		/* A service says `finished` after our end of stream only. */
		if (!is_open(k) || !k->ended)
			break;
		k->finished = true;
		feed(m, EV(.type = SESSION_EV_FINISHED, .id = conn), op->kind);
		break;
	case OP_END_SENT:
		if (is_open(k) && k->ended)
			feed(m, EV(.type = SESSION_EV_END_SENT, .id = conn), op->kind);
		break;
	case OP_RESYNC:
		if (is_open(k))
			feed(m, EV(.type = SESSION_EV_RESYNC, .id = conn), op->kind);
		break;
	default:
		break;
	}
}

static void conn_op(struct model *m, const struct model_op *op, uint64_t conn, struct sock *k)
{
	switch (op->kind) {
	case OP_OPENED:
		/* Only a socket that is still connecting can complete. */
		if (k == NULL || k->st != SOCK_REQUESTED)
			break;
		k->st = SOCK_OPEN;
		feed(m, EV(.type = SESSION_EV_OPENED, .id = conn), op->kind);
		break;
	case OP_READY:
		if (is_open(k))
			feed(m, EV(.type = SESSION_EV_READY, .id = conn), op->kind);
		break;
	case OP_CONNECT_FAILED: {
		int status = PICK(http_statuses, op->b);
		if (k == NULL || k->st != SOCK_REQUESTED)
			break;
		sock_gone(m, conn);
		feed(m, EV(.type = SESSION_EV_CONNECT_FAILED, .id = conn, .http_status = status,
				.cls = status ? ERR_NONE : ERR_TRANSIENT,
				.retry_after_ms = op->b % 3 == 0 ? 2000 : 0,
				.message = "connect failed"), op->kind);
		break;
	}
	default:
		service_op(m, op, conn, k);
		break;
	}
}

/* With a fixed fault, every failure the world reports is that one, and
 * there is no progress: the ops that would report something else do that
 * fault instead (or nothing). */
static bool fault_op(struct model *m, const struct model_op *in, struct model_op *out)
{
	static const struct { enum model_op_kind kind; uint32_t b; } faults[] = {
		[FAULT_CREDS] = { OP_CREDS_FAIL, 0 },		/* classes[0]: transient */
		[FAULT_CREDS_AUTH] = { OP_CREDS_FAIL, 2 },	/* classes[2]: auth */
		[FAULT_HTTP_401] = { OP_CONNECT_FAILED, 1 },
		[FAULT_HTTP_429] = { OP_CONNECT_FAILED, 7 },
		[FAULT_TCP] = { OP_CONNECT_FAILED, 0 + 10 },	/* status 0, no Retry-After */
		[FAULT_ERROR_401] = { OP_SERVICE_ERROR, 1 },
		[FAULT_ERROR_429] = { OP_SERVICE_ERROR, 5 },
		[FAULT_ERROR_500] = { OP_SERVICE_ERROR, 6 },
		[FAULT_ERROR_503] = { OP_SERVICE_ERROR, 7 },
		[FAULT_CLOSE_1008] = { OP_CLOSED, 6 },
		[FAULT_CLOSE_1006] = { OP_CLOSED, 4 },
		[FAULT_CLOSE_1012] = { OP_CLOSED, 9 },
		[FAULT_SILENT] = { OP_N_KINDS, 0 },
	};

	*out = *in;
	if (m->fault == FAULT_ANY)
		return true;
	switch (in->kind) {
	case OP_CREDS_FAIL:
	case OP_CONNECT_FAILED:
	case OP_SERVICE_ERROR:
	case OP_CLOSED:
	case OP_MESSAGE:
	case OP_RESYNC:
		if (faults[m->fault].kind == OP_N_KINDS)
			return in->kind == OP_MESSAGE && (out->b = 0, true);
		out->kind = faults[m->fault].kind;
		out->b = faults[m->fault].b;
		return true;
	default:
		return true;
	}
}

static void run_op(struct model *m, const struct model_op *in)
{
	struct model_op fop, *op = &fop;

	if (!fault_op(m, in, &fop))
		return;
	uint64_t conn = pick_sock(m, op->a);

	switch (op->kind) {
	case OP_START:
	case OP_STOP:
		m->last_user = op->kind;
		if (op->kind == OP_START)
			reset_run(m);
		feed(m, EV(.type = op->kind == OP_START ? SESSION_EV_START : SESSION_EV_STOP), op->kind);
		break;
	case OP_RECONNECT:
		reset_run(m);
		feed(m, EV(.type = SESSION_EV_RECONNECT), op->kind);
		break;
	case OP_FINALIZE:
		feed(m, EV(.type = SESSION_EV_FINALIZE), op->kind);
		break;
	case OP_WAIT:
		if (m->n_waiters + 1 >= MAX_WAITERS)
			break;
		feed(m, EV(.type = SESSION_EV_WAIT, .id = ++m->n_waiters,
				.timeout_ms = PICK(wait_timeouts, op->a)), op->kind);
		break;
	case OP_NETWORK:
		network(m);
		break;
	case OP_SUSPEND:
		m->suspended = true;
		feed(m, EV(.type = SESSION_EV_SUSPENDING), op->kind);
		break;
	case OP_RESUME:
		m->suspended = false;
		reset_run(m);
		feed(m, EV(.type = SESSION_EV_RESUMED), op->kind);
		break;
	case OP_CREDS_OK:
		feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = pick_attempt(m, op->a),
				.count = 1 + op->b % 3), op->kind);
		break;
	case OP_CREDS_FAIL:
		feed(m, EV(.type = SESSION_EV_CREDS_FAILED, .id = pick_attempt(m, op->a),
				.cls = PICK(classes, op->b), .message = "creds failed"), op->kind);
		break;
	case OP_RELEASE: {
		uint32_t n = 0;
		for (uint32_t i = 0; i < m->n_socks; i++)
			if (m->socks[i].st == SOCK_CLOSING && n++ == op->a % 2) {
				m->socks[i].st = SOCK_GONE;
				feed(m, EV(.type = SESSION_EV_RELEASED, .id = m->socks[i].id), op->kind);
				break;
			}
		break;
	}
	case OP_ADVANCE:
		advance(m, m->now + PICK(advances, op->a));
		break;
	default:
		conn_op(m, op, conn, find_sock(m, conn));
		break;
	}
}

bool model_step(struct model *m, const struct model_op *op)
{
	if (m->violated)
		return false;
	m->steps++;
	run_op(m, op);
	return !m->violated;
}

bool model_finish(struct model *m)
{
	struct session_status st;

	/* Settle: every closing socket goes, a stream being stopped is
	 * finished, time passes beyond every deadline. */
	for (int round = 0; round < 8 && !m->violated; round++) {
		for (uint32_t i = 0; i < m->n_socks; i++)
			if (m->socks[i].st == SOCK_CLOSING) {
				m->socks[i].st = SOCK_GONE;
				feed(m, EV(.type = SESSION_EV_RELEASED, .id = m->socks[i].id), OP_RELEASE);
			}
		status(m, &st);
		struct sock *k = find_sock(m, st.conn);
		if (is_open(k) && k->ended) {
			feed(m, EV(.type = SESSION_EV_END_SENT, .id = st.conn), OP_END_SENT);
			k->finished = true;
			feed(m, EV(.type = SESSION_EV_FINISHED, .id = st.conn), OP_FINISHED);
		}
		advance(m, m->now + 200000);
	}
	if (m->violated)
		return false;
	status(m, &st);
	if (m->last_user == OP_STOP && st.state != SESSION_STOPPED)
		violate(m, "the last call was Stop but the tap is %s", session_state_name(st.state));
	if (m->last_user == OP_START && (st.state == SESSION_STOPPED || st.state == SESSION_STOPPING))
		violate(m, "the last call was Start but the tap is %s", session_state_name(st.state));
	/* Every waiter is answered exactly once, at the latest by the stop. */
	feed(m, EV(.type = SESSION_EV_STOP), OP_STOP);
	advance(m, m->now + 200000);
	for (uint32_t i = 0; i < m->n_socks; i++)
		if (m->socks[i].st == SOCK_CLOSING) {
			m->socks[i].st = SOCK_GONE;
			feed(m, EV(.type = SESSION_EV_RELEASED, .id = m->socks[i].id), OP_RELEASE);
		}
	advance(m, m->now + 200000);
	for (uint32_t w = 1; w <= m->n_waiters && w < MAX_WAITERS; w++)
		if (m->answers[w] != 1)
			violate(m, "waiter %u answered %u times", w, m->answers[w]);
	return !m->violated;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void model_random_op(uint64_t *rng, struct model_op *op)
{
	/* Weights: the socket's own events are common, user calls rarer. */
	static const struct { enum model_op_kind k; uint32_t w; } table[] = {
		{ OP_START, 3 }, { OP_STOP, 2 }, { OP_RECONNECT, 2 }, { OP_FINALIZE, 1 },
		{ OP_WAIT, 2 }, { OP_NETWORK, 2 }, { OP_SUSPEND, 1 }, { OP_RESUME, 1 },
		{ OP_CREDS_OK, 8 }, { OP_CREDS_FAIL, 2 }, { OP_OPENED, 8 }, { OP_READY, 6 },
		{ OP_CONNECT_FAILED, 2 }, { OP_MESSAGE, 10 }, { OP_AUDIO, 10 }, { OP_PONG, 3 },
		{ OP_SERVICE_ERROR, 2 }, { OP_CLOSED, 2 }, { OP_FINISHED, 2 }, { OP_END_SENT, 2 },
		{ OP_RESYNC, 1 }, { OP_RELEASE, 6 }, { OP_ADVANCE, 12 },
	};
	uint32_t total = 0, r;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		total += table[i].w;
	r = (uint32_t)(xorshift(rng) % total);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (r < table[i].w) {
			op->kind = table[i].k;
			break;
		}
		r -= table[i].w;
	}
	/* Mostly the newest socket or attempt; sometimes a stale one. */
	op->a = xorshift(rng) % 4 == 0 ? 1 + (uint32_t)(xorshift(rng) % 3) : 0;
	if (op->kind == OP_WAIT || op->kind == OP_RELEASE)
		op->a = (uint32_t)(xorshift(rng) % 8);
	/* Time mostly moves in small steps, so sockets get to answer before
	 * the deadlines; long jumps are rarer. */
	if (op->kind == OP_ADVANCE)
		op->a = (uint32_t)(xorshift(rng) % 8) & (uint32_t)(xorshift(rng) % 8);
	op->b = (uint32_t)(xorshift(rng) % 16);
}

static const char *const op_names[] = {
	[OP_START] = "OP_START", [OP_STOP] = "OP_STOP", [OP_RECONNECT] = "OP_RECONNECT",
	[OP_FINALIZE] = "OP_FINALIZE", [OP_WAIT] = "OP_WAIT", [OP_NETWORK] = "OP_NETWORK",
	[OP_SUSPEND] = "OP_SUSPEND", [OP_RESUME] = "OP_RESUME", [OP_CREDS_OK] = "OP_CREDS_OK",
	[OP_CREDS_FAIL] = "OP_CREDS_FAIL", [OP_OPENED] = "OP_OPENED", [OP_READY] = "OP_READY",
	[OP_CONNECT_FAILED] = "OP_CONNECT_FAILED", [OP_MESSAGE] = "OP_MESSAGE",
	[OP_AUDIO] = "OP_AUDIO", [OP_PONG] = "OP_PONG", [OP_SERVICE_ERROR] = "OP_SERVICE_ERROR",
	[OP_CLOSED] = "OP_CLOSED", [OP_FINISHED] = "OP_FINISHED", [OP_END_SENT] = "OP_END_SENT",
	[OP_RESYNC] = "OP_RESYNC", [OP_RELEASE] = "OP_RELEASE", [OP_ADVANCE] = "OP_ADVANCE",
};

void model_format_op(const struct model_op *op, char *buf, size_t size)
{
	snprintf(buf, size, "{ %s, %u, %u }", op->kind < OP_N_KINDS ? op_names[op->kind] : "?",
			op->a, op->b);
}

int model_run(const struct session_config *cfg, enum model_fault fault,
		const struct model_op *ops, size_t n, char *violation, size_t size)
{
	struct model *m = model_new(cfg, fault);
	int res = -1;

	if (m == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!model_step(m, &ops[i])) {
			res = (int)i;
			break;
		}
	if (res < 0 && !model_finish(m))
		res = (int)n;
	if (res >= 0 && violation != NULL)
		snprintf(violation, size, "%s", model_violation(m));
	model_free(m);
	return res;
}
