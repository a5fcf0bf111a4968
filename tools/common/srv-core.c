/* srv-core: the server object: the lws context with one vhost that never
 * listens itself (we accept() on the socket we are given, so the bind
 * address is exact, and hand each connection to lws), signals through a
 * signalfd, the housekeeping tick, wake-ups from other threads, and the
 * shutdown. Connections: srv-conn.c. See srv-core.h. */
#include "srv-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "srv-log.h"

#define RX_BUFFER_SIZE		65536
#define MAX_ACCEPTS_PER_WAKE	64
#define ACCEPT_BACKOFF_MIN_MS	50	/* out of descriptors: stop accepting this long, */
#define ACCEPT_BACKOFF_MAX_MS	1000	/* doubling up to this */

static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {
	{ "transcribe-ws", srv_conn_callback, 0, RX_BUFFER_SIZE, 0, NULL, 0 },
	{ "transcribe-raw", raw_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int64_t srv_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void srv_wake(struct srv *s)
{
	pthread_mutex_lock(&s->wake_lock);
	if (s->wake_ok)
		lws_cancel_service(s->ctx);
	pthread_mutex_unlock(&s->wake_lock);
}

void srv_quit(struct srv *s, const char *reason)
{
	if (!s->quit) {
		s->quit = true;
		s->quit_reason = reason;
	}
}

static void accept_resume_cb(lws_sorted_usec_list_t *sul)
{
	struct srv *s = lws_container_of(sul, struct srv, sul_accept);

	lws_rx_flow_control(s->wsi_listen, 1);
}

/* Out of descriptors (or memory): the listening socket stays readable, so
 * polling it again at once would spin. Stop watching it for a while. */
static void accept_back_off(struct srv *s, int err)
{
	s->accept_backoff_ms = s->accept_backoff_ms ?
		s->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
	if (s->accept_backoff_ms > ACCEPT_BACKOFF_MAX_MS)
		s->accept_backoff_ms = ACCEPT_BACKOFF_MAX_MS;
	srv_log_limited(&s->rl_accept, "error what=accept errno=%d backoff_ms=%" PRId64,
			err, s->accept_backoff_ms);
	lws_rx_flow_control(s->wsi_listen, 0);
	lws_sul_schedule(s->ctx, 0, &s->sul_accept, accept_resume_cb,
			 s->accept_backoff_ms * LWS_US_PER_MS);
}

/* Over a cap: the connection is closed before lws sees it. */
static bool refuse(struct srv *s, int fd)
{
	const char *why = NULL;

	if (s->cfg.max_open && s->open >= s->cfg.max_open)
		why = "too-many-connections";
	else if (s->cfg.max_pending && s->pending >= s->cfg.max_pending)
		why = "too-many-upgrades";
	if (!why)
		return false;
	srv_log_limited(&s->rl_refused, "refused what=%s open=%u pending=%u", why, s->open,
			s->pending);
	close(fd);
	return true;
}

static void accept_due(lws_sorted_usec_list_t *sul)
{
	struct srv *s = lws_container_of(sul, struct srv, sul_accept_turn);

	for (int i = 0; i < MAX_ACCEPTS_PER_WAKE; i++) {
		int fd = accept4(s->fd_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_back_off(s, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				 errno != ECONNABORTED)
				srv_log_limited(&s->rl_accept, "error what=accept errno=%d", errno);
			return;
		}
		s->accept_backoff_ms = 0;
		if (!refuse(s, fd))
			srv_conn_accepted(s, fd);
	}
}

/* A client that closed one connection and opened the next has both
 * readable in the same poll: the close is handled first and the accept
 * waits for the next turn of the loop, so the open count never holds a
 * connection that was gone before the new one came (the fault server's
 * "connections open" is what tests check "one socket at a time" by). */
static void on_listen_readable(struct srv *s)
{
	lws_sul_schedule(s->ctx, 0, &s->sul_accept_turn, accept_due, 1);
}

static void on_signal_readable(struct srv *s)
{
	struct signalfd_siginfo si;

	while (read(s->fd_signal, &si, sizeof(si)) == (ssize_t)sizeof(si))
		srv_quit(s, "signal");
}

/* The listening socket and the signalfd: raw descriptors in the lws loop. */
static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len)
{
	struct srv *s = lws_context_user(lws_get_context(wsi));
	int fd;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		fd = lws_get_socket_fd(wsi);
		if (fd == s->fd_listen)
			on_listen_readable(s);
		else if (fd == s->fd_signal)
			on_signal_readable(s);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		srv_conn_service(s);
		if (s->cfg.events && s->cfg.events->wake)
			s->cfg.events->wake(s->cfg.data);
		return 0;
	default:
		return 0;
	}
}

/* lws's own warnings can come once per bad peer: limited. */
static struct srv_ratelimit rl_lws = SRV_RATELIMIT_INIT(20, 20);

static void lws_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	srv_log_limited(&rl_lws, "lws level=%d msg=\"%.*s\"", level, (int)n, line);
}

static struct lws *adopt_raw(struct srv *s, int fd)
{
	lws_adopt_desc_t ad;

	memset(&ad, 0, sizeof(ad));
	ad.vh = s->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = protocols[1].name;
	return lws_adopt_descriptor_vhost_via_info(&ad);
}

static int context_create(struct srv *s)
{
	struct lws_context_creation_info info;
	bool tls = s->cfg.tls_cert && s->cfg.tls_key;

	memset(&info, 0, sizeof(info));
	/* a text message that is not UTF-8 is closed with 1007 by lws */
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (tls)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.user = s;
	s->ctx = lws_create_context(&info);
	if (!s->ctx)
		return -1;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;	/* we accept(), lws serves */
	info.protocols = protocols;
	info.vhost_name = s->cfg.name;
	if (tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = s->cfg.tls_cert;
		info.ssl_private_key_filepath = s->cfg.tls_key;
	}
	s->vh = lws_create_vhost(s->ctx, &info);
	if (!s->vh)
		return -1;
	/* lws owns (and closes) what it adopted */
	s->wsi_listen = adopt_raw(s, s->fd_listen);
	if (!s->wsi_listen)
		return -1;
	s->listen_adopted = true;
	if (!adopt_raw(s, s->fd_signal))
		return -1;
	s->signal_adopted = true;
	return 0;
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct srv *s = lws_container_of(sul, struct srv, sul_tick);
	int64_t now = srv_now_us();

	srv_conn_tick(s, now);
	srv_ratelimit_flush(&s->rl_accept, "error what=accept");
	srv_ratelimit_flush(&s->rl_refused, "refused");
	if (s->cfg.events && s->cfg.events->tick)
		s->cfg.events->tick(s->cfg.data, now);
	lws_sul_schedule(s->ctx, 0, &s->sul_tick, tick_cb, (lws_usec_t)s->cfg.tick_ms * LWS_US_PER_MS);
}

/* SIGINT/SIGTERM blocked in this and every later thread, read from a signalfd. */
static int setup_signals(struct srv *s)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	s->fd_signal = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return s->fd_signal < 0 ? -1 : 0;
}

struct srv *srv_new(const struct srv_config *cfg)
{
	struct srv *s = calloc(1, sizeof(*s));

	if (!s) {
		if (cfg->listen_fd >= 0)
			close(cfg->listen_fd);
		fprintf(stderr, "%s: out of memory\n", cfg->name);
		return NULL;
	}
	s->cfg = *cfg;
	s->rl_accept = (struct srv_ratelimit)SRV_RATELIMIT_INIT(5, 6);
	s->rl_refused = (struct srv_ratelimit)SRV_RATELIMIT_INIT(5, 6);
	pthread_mutex_init(&s->slots.lock, NULL);
	s->slots.max = cfg->max_streams;
	if (cfg->max_streams)
		s->cfg.sess.slots = &s->slots;
	s->fd_listen = cfg->listen_fd;
	s->fd_signal = -1;
	if (!s->cfg.tick_ms)
		s->cfg.tick_ms = 250;
	pthread_mutex_init(&s->wake_lock, NULL);
	lws_set_log_level(cfg->lws_log_level ? cfg->lws_log_level : LLL_ERR | LLL_WARN,
			  cfg->lws_log_to_srv ? lws_emit : NULL);
	if (setup_signals(s)) {
		fprintf(stderr, "%s: cannot set up signal handling: %s\n", cfg->name, strerror(errno));
		srv_free(s);
		return NULL;
	}
	if (context_create(s)) {
		fprintf(stderr, "%s: libwebsockets setup failed%s\n", cfg->name,
			cfg->tls_cert ? " (TLS files?)" : "");
		srv_free(s);
		return NULL;
	}
	lws_sul_schedule(s->ctx, 0, &s->sul_tick, tick_cb, (lws_usec_t)s->cfg.tick_ms * LWS_US_PER_MS);
	s->wake_ok = true;
	return s;
}

int srv_run(struct srv *s)
{
	while (!s->quit)
		if (lws_service(s->ctx, 0) < 0) {
			srv_quit(s, "service-error");
			return -1;
		}
	return 0;
}

void srv_drain(struct srv *s)
{
	int64_t deadline = srv_now_us() + s->cfg.shutdown_grace_ms * 1000;

	s->quit = true;
	if (!s->cfg.shutdown_code)
		return;
	srv_conn_shutdown(s);
	while (s->open > 0 && srv_now_us() < deadline)
		if (lws_service(s->ctx, 0) < 0)
			break;
}

void srv_free(struct srv *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->wake_lock);
	s->wake_ok = false;
	pthread_mutex_unlock(&s->wake_lock);
	s->quit = true;
	if (s->ctx) {
		srv_conn_release_pending(s);
		lws_sul_cancel(&s->sul_tick);
		lws_sul_cancel(&s->sul_accept);
		lws_sul_cancel(&s->sul_accept_turn);
		lws_context_destroy(s->ctx);	/* closes the adopted fds too */
	}
	if (!s->listen_adopted && s->fd_listen >= 0)
		close(s->fd_listen);
	if (!s->signal_adopted && s->fd_signal >= 0)
		close(s->fd_signal);
	srv_conn_release_all(s);
	pthread_mutex_destroy(&s->wake_lock);
	pthread_mutex_destroy(&s->slots.lock);
	pthread_mutex_destroy(&s->rl_accept.lock);
	pthread_mutex_destroy(&s->rl_refused.lock);
	free(s);
}

const char *srv_quit_reason(const struct srv *s) { return s->quit_reason; }
unsigned srv_open_count(const struct srv *s) { return s->open; }
unsigned srv_accepted_count(const struct srv *s) { return s->accepted; }
unsigned srv_stream_count(const struct srv *s) { return s->streams; }
unsigned srv_pending_count(const struct srv *s) { return s->pending; }

struct srv_conn *srv_conn_find(struct srv *s, unsigned id)
{
	for (struct srv_conn *c = s->conns; c; c = c->next)
		if (c->id == id && !c->finished)
			return c;
	return NULL;
}
