/* libwebsockets client shell: one small struct per connection, callbacks
 * translated into connection-id events. See transport.h. */
#include "transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <spa/utils/defs.h>
#include <spa/utils/list.h>
#include <spa/utils/string.h>

#define TRANSPORT_CLOSE_WAIT_S	2	/* for a close frame to go out */

struct frame {
	struct spa_list link;
	bool text;
	bool ping;
	size_t len;
	uint8_t buf[];			/* LWS_PRE bytes, then the payload */
};

enum conn_report { REPORT_NONE, REPORT_CONNECT_FAILED, REPORT_CLOSED, REPORT_RELEASED };

struct conn {
	struct spa_list link;
	struct transport *t;
	uint64_t id;
	struct lws *wsi;
	bool established;
	bool detached;			/* closed by us: report nothing more but release */
	bool released_pending;		/* closed by transport_close(): report `released` */
	bool ending;			/* in t->ending, its report due */
	enum conn_report report;
	enum err_class report_cls;
	char report_msg[400];
	bool closing;
	bool close_sent;		/* our close frame is out: wait for the echo */
	int close_code;
	int http_status;
	char refusal[160];		/* the service's reason for a refused upgrade */
	int64_t retry_after_ms;
	char cert_error[128];		/* why the server certificate was refused */
	int peer_close_code;
	char peer_close_reason[124];
	struct spa_list tx;
	uint32_t n_tx;
	char *auth;			/* Authorization value until the upgrade is sent */
	size_t auth_len;
	char *rx;
	size_t rx_len, rx_size;
	bool rx_binary;
	/* The service sent a message over the limit (or one we had no memory
	 * for): everything it sends from then on is dropped unread and the
	 * connection is closed from the next WRITEABLE. Never by returning -1
	 * from CLIENT_RECEIVE: lws 4.1.6 then writes past its rx buffer part-way
	 * through a frame (PROTOCOLS.md E, "Close-code gotcha"). */
	bool rx_dead;
	char rx_dead_why[160];
};

struct transport {
	struct lws_context *ctx;
	struct transport_config cfg;
	lws_retry_bo_t retry;
	const struct transport_events *events;
	void *data;
	struct spa_list conns;
	struct spa_list ending;		/* gone, report not yet delivered */
	lws_sorted_usec_list_t report_sul;
};

static struct conn *find_conn(struct transport *t, uint64_t id)
{
	struct conn *c;
	spa_list_for_each(c, &t->conns, link)
		if (c->id == id && !c->detached)
			return c;
	return NULL;
}

static void wipe_auth(struct conn *c)
{
	if (c->auth == NULL)
		return;
	explicit_bzero(c->auth, c->auth_len);
	free(c->auth);
	c->auth = NULL;
	c->auth_len = 0;
}

static void free_conn(struct conn *c)
{
	struct frame *f;

	wipe_auth(c);
	spa_list_consume(f, &c->tx, link) {
		spa_list_remove(&f->link);
		free(f);
	}
	spa_list_remove(&c->link);
	free(c->rx);
	free(c);
}

static int64_t parse_retry_after(struct lws *wsi)
{
	char buf[64], *e;
	long v;

	if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_RETRY_AFTER) <= 0)
		return 0;
	v = strtol(buf, &e, 10);
	/* Delta-seconds only; an HTTP-date is rare on upgrades and is ignored. */
	if (e == buf || v < 0 || v > 86400)
		return 0;
	return (int64_t)v * 1000;
}

static void set_tcp_user_timeout(struct conn *c)
{
	unsigned int ms = c->t->cfg.tcp_user_timeout_ms;
	int fd = lws_get_socket_fd(c->wsi);

	/* Unacknowledged data for this long fails the socket: a dead path is
	 * noticed even while we are sending audio. (TCP only.) */
	if (ms > 0 && fd >= 0 && !c->t->cfg.url.unix_socket)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

/* Stops reading: frees what was collected, asks for WRITEABLE to send the
 * close, and does not wait long for it (a peer that never lets us write). */
static void rx_refuse(struct conn *c, struct lws *wsi, size_t bytes, bool no_memory)
{
	c->rx_dead = true;
	if (no_memory)
		snprintf(c->rx_dead_why, sizeof(c->rx_dead_why), "no memory for a message of %zu "
				"bytes from the service; closed with 1009", bytes);
	else
		snprintf(c->rx_dead_why, sizeof(c->rx_dead_why), "the service sent a message of "
				"%zu bytes or more, over the limit of %u (service.max-message-kb); "
				"closed with 1009", bytes, c->t->cfg.max_message);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_size = 0;
	lws_callback_on_writable(wsi);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, TRANSPORT_CLOSE_WAIT_S);
}

static int append_rx(struct conn *c, const void *in, size_t len)
{
	size_t need = c->rx_len + len + 1;	/* + NUL */

	if (need > c->rx_size) {
		/* Doubling, but never past the limit. */
		size_t size = SPA_MIN(SPA_MAX(need, c->rx_size * 2), (size_t)c->t->cfg.max_message + 1);
		char *p = realloc(c->rx, size);
		if (p == NULL)
			return -ENOMEM;
		c->rx = p;
		c->rx_size = size;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	c->rx[c->rx_len] = '\0';
	return 0;
}

static int on_receive(struct conn *c, struct lws *wsi, void *in, size_t len)
{
	struct transport *t = c->t;

	if (c->rx_dead)
		return 0;	/* dropped: the close is on its way */
	if (lws_is_first_fragment(wsi)) {
		c->rx_len = 0;
		c->rx_binary = lws_frame_is_binary(wsi);
	}
	if (len > t->cfg.max_message - c->rx_len) {
		rx_refuse(c, wsi, c->rx_len + len, false);
		return 0;
	}
	if (append_rx(c, in, len) < 0) {
		rx_refuse(c, wsi, c->rx_len + len, true);
		return 0;
	}
	if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0 && !c->detached)
		t->events->message(t->data, c->id, c->rx, c->rx_len, c->rx_binary);
	return 0;
}

static int on_writeable(struct conn *c, struct lws *wsi)
{
	struct frame *f;
	int flags, n;

	/* lws may call again while it waits for the peer's echo of our close;
	 * a second -1 would drop the socket with unread data (a reset). */
	if (c->close_sent)
		return 0;
	if (c->rx_dead) {
		/* What is queued is not sent: the session sends it again on
		 * its next connection (the replay buffer still holds it). */
		c->close_sent = true;
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				(unsigned char *)"message too big", 15);
		return -1;
	}
	if (spa_list_is_empty(&c->tx)) {
		if (c->closing) {
			c->close_sent = true;
			lws_close_reason(wsi, (enum lws_close_status)c->close_code,
					(unsigned char *)"bye", 3);
			return -1;
		}
		if (!c->detached)
			c->t->events->writeable(c->t->data, c->id);
		return 0;
	}
	f = spa_list_first(&c->tx, struct frame, link);
	flags = f->ping ? LWS_WRITE_PING : f->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
	n = lws_write(wsi, f->buf + LWS_PRE, f->len, (enum lws_write_protocol)flags);
	spa_list_remove(&f->link);
	c->n_tx--;
	if (f->text)	/* the config message may carry the key */
		explicit_bzero(f->buf, LWS_PRE + f->len);
	free(f);
	if (n < 0)
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Reports go out from a zero-delay timer: after lws closed the socket
 * (it calls back before its close()), and never from inside a call into
 * the transport. */
static void deliver_reports(lws_sorted_usec_list_t *sul)
{
	struct transport *t = lws_container_of(sul, struct transport, report_sul);
	struct spa_list due;
	struct conn *c;

	spa_list_init(&due);
	spa_list_insert_list(&due, &t->ending);
	spa_list_init(&t->ending);
	spa_list_consume(c, &due, link) {
		spa_list_remove(&c->link);
		switch (c->report) {
		case REPORT_CONNECT_FAILED:
			t->events->connect_failed(t->data, c->id, c->report_cls,
					c->http_status != 101 ? c->http_status : 0,
					c->retry_after_ms, c->report_msg);
			break;
		case REPORT_CLOSED:
			/* Our own limit (rx_dead) is not the peer's verdict on us:
			 * reported as an abnormal end (1006, retried with backoff),
			 * never as a received 1009 (our message was too big). */
			if (c->rx_dead)
				t->events->closed(t->data, c->id, 1006, c->rx_dead_why);
			else
				t->events->closed(t->data, c->id, c->peer_close_code ?
						c->peer_close_code : 1006, c->peer_close_reason);
			break;
		case REPORT_RELEASED:
			t->events->released(t->data, c->id);
			break;
		default:
			break;
		}
		free_conn(c);
	}
}

static void queue_report(struct conn *c, enum conn_report report)
{
	struct transport *t = c->t;

	c->ending = true;
	c->report = report;
	spa_list_remove(&c->link);
	spa_list_append(&t->ending, &c->link);
	lws_sul_schedule(t->ctx, 0, &t->report_sul, deliver_reports, 0);
}

/* The service's own words for a refused upgrade, from the dialect's header:
 * printable ASCII only (it goes into logs and D-Bus), cut to fit. */
static void read_refusal(struct conn *c, struct lws *wsi)
{
	const char *name = c->t->cfg.error_header;
	char hdr[64], buf[sizeof(c->refusal)];
	int n;
	size_t j = 0;

	c->refusal[0] = '\0';
	if (name == NULL || snprintf(hdr, sizeof(hdr), "%s:", name) >= (int)sizeof(hdr))
		return;
	if ((n = lws_hdr_custom_copy(wsi, buf, sizeof(buf), hdr, (int)strlen(hdr))) <= 0)
		return;
	for (int i = 0; i < n && j + 1 < sizeof(c->refusal); i++)
		c->refusal[j++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
	c->refusal[j] = '\0';
}

static void describe_failure(struct conn *c, const char *why)
{
	struct transport *t = c->t;
	int status = c->http_status != 101 ? c->http_status : 0;

	c->report_cls = ERR_TRANSIENT;
	if (c->cert_error[0] != '\0') {
		/* A refused certificate will be refused again. */
		c->report_cls = ERR_FATAL;
		snprintf(c->report_msg, sizeof(c->report_msg), "TLS certificate verification failed for "
				"%.100s: %.100s (set service.tls.ca-file for a private CA)",
				t->cfg.url.host, c->cert_error);
	} else if (status > 0) {
		snprintf(c->report_msg, sizeof(c->report_msg), "the server answered the upgrade with HTTP %d%s%s",
				status, c->refusal[0] ? ": " : "", c->refusal);
	} else if (t->cfg.url.unix_socket) {
		snprintf(c->report_msg, sizeof(c->report_msg), "cannot connect to the socket %.200s: %.150s",
				t->cfg.url.socket_path, why ? why : "closed before the upgrade");
	} else {
		snprintf(c->report_msg, sizeof(c->report_msg), "cannot connect to %.200s:%u: %.150s",
				t->cfg.url.host, t->cfg.url.port, why ? why : "closed before the upgrade");
	}
}

/* The one way a connection ends, from whichever of CONNECTION_ERROR,
 * CLIENT_CLOSED, CLOSED_CLIENT_HTTP (lws 4.1 sends only that when no 101
 * came in time) or WSI_DESTROY comes first: report it (unless we closed it
 * ourselves, then `released`), later. */
static void finish_conn(struct conn *c, struct lws *wsi, const char *why)
{
	if (wsi != NULL)
		lws_set_opaque_user_data(wsi, NULL);
	c->wsi = NULL;
	if (c->ending)
		return;
	if (c->detached) {
		queue_report(c, c->released_pending ? REPORT_RELEASED : REPORT_NONE);
	} else if (c->established) {
		queue_report(c, REPORT_CLOSED);
	} else {
		describe_failure(c, why);
		queue_report(c, REPORT_CONNECT_FAILED);
	}
	c->detached = true;
}

static int transport_callback(struct lws *wsi, enum lws_callback_reasons reason,
		void *user, void *in, size_t len)
{
	struct conn *c = lws_get_opaque_user_data(wsi);
	struct transport *t = c ? c->t : NULL;

	if (c == NULL)
		return 0;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		int res = 0;
		if (c->auth != NULL)
			res = lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
					(unsigned char *)c->auth, (int)c->auth_len, p, end) ? -1 : 0;
		/* The key is on the wire now; keep no copy. */
		wipe_auth(c);
		return res;
	}
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		/* Every upgrade answer passes here before lws checks for 101. */
		c->http_status = (int)lws_http_client_http_response(wsi);
		c->retry_after_ms = parse_retry_after(wsi);
		if (c->http_status != 101)
			read_refusal(c, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		finish_conn(c, wsi, in);
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		/* Upgrade never answered in time: lws 4.1 sends nothing else. */
		if (!c->established)
			finish_conn(c, wsi, "no answer to the upgrade in time");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		finish_conn(c, wsi, NULL);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->established = true;
		set_tcp_user_timeout(c);
		if (!c->detached)
			t->events->opened(t->data, c->id);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG: {
		/* Our pings carry their sequence number; lws's own carry none. */
		uint64_t seq = 0;
		if (len == sizeof(seq))
			for (size_t i = 0; i < len; i++)
				seq = seq << 8 | ((const uint8_t *)in)[i];
		if (!c->detached)
			t->events->pong(t->data, c->id, seq);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const uint8_t *p = in;
			c->peer_close_code = (p[0] << 8) | p[1];
			snprintf(c->peer_close_reason, sizeof(c->peer_close_reason), "%.*s",
					(int)SPA_MIN(len - 2, sizeof(c->peer_close_reason) - 1),
					(const char *)in + 2);
		} else {
			c->peer_close_code = 1005;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		finish_conn(c, wsi, NULL);
		return 0;
	default:
		return 0;
	}
}

int transport_cert_verified(struct lws *wsi, void *x509_ctx, size_t preverify_ok)
{
	struct conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;

	if (c != NULL && !preverify_ok && x509_ctx != NULL && c->cert_error[0] == '\0')
		snprintf(c->cert_error, sizeof(c->cert_error), "%s", X509_verify_cert_error_string(
				X509_STORE_CTX_get_error((X509_STORE_CTX *)x509_ctx)));
	return 0;
}

const struct lws_protocols transport_protocol = {
	"transcribe-ws", transport_callback, 0, 4096, 0, NULL, 0
};

struct transport *transport_new(struct lws_context *ctx, const struct transport_config *cfg,
		const struct transport_events *events, void *data)
{
	struct transport *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ctx = ctx;
	t->cfg = *cfg;
	if (t->cfg.max_message == 0)
		t->cfg.max_message = TRANSPORT_MAX_MESSAGE_DEFAULT;
	t->events = events;
	t->data = data;
	spa_list_init(&t->conns);
	spa_list_init(&t->ending);
	/* Validity: lws pings after ping_s without traffic and hangs up when
	 * nothing valid (a pong or data) came for hangup_s. ping_s 0: the
	 * caller pings (transport_ping()) and decides. */
	t->retry.secs_since_valid_ping = (uint16_t)SPA_MAX(cfg->ping_s, 1u);
	t->retry.secs_since_valid_hangup = (uint16_t)SPA_MAX(cfg->hangup_s, cfg->ping_s + 1);
	return t;
}

struct handshake {
	char auth[1100];
};

int transport_open(struct transport *t, uint64_t id, const char *address, const char *auth_header)
{
	struct lws_client_connect_info i;
	struct conn *c = calloc(1, sizeof(*c));
	char unix_address[URL_SOCKET_MAX + 1];

	if (c == NULL)
		return -ENOMEM;
	c->t = t;
	c->id = id;
	spa_list_init(&c->tx);
	spa_list_append(&t->conns, &c->link);

	memset(&i, 0, sizeof(i));
	i.context = t->ctx;
	i.address = address;
	i.port = t->cfg.url.port;
	i.path = t->cfg.url.path;
	i.host = t->cfg.url.host;
	i.origin = t->cfg.url.host;
	if (t->cfg.url.unix_socket) {
		/* lws connects to a Unix socket when the address starts with
		 * '+'; it does so at once, so a missing server fails here. */
		if (access(t->cfg.url.socket_path, F_OK) < 0) {
			finish_conn(c, NULL, strerror(errno));
			return 0;
		}
		snprintf(unix_address, sizeof(unix_address), "+%s", t->cfg.url.socket_path);
		i.address = unix_address;
		i.host = i.origin = URL_UNIX_HOST;
	}
	i.ssl_connection = t->cfg.url.tls ? LCCSCF_USE_SSL : 0;
	i.local_protocol_name = transport_protocol.name;
	i.opaque_user_data = c;
	i.retry_and_idle_policy = t->cfg.ping_s > 0 ? &t->retry : NULL;
	i.pwsi = &c->wsi;
	if (auth_header != NULL && *auth_header != '\0') {
		/* Added in CLIENT_APPEND_HANDSHAKE_HEADER, then wiped. */
		if ((c->auth = strdup(auth_header)) == NULL) {
			finish_conn(c, NULL, "out of memory");
			return 0;
		}
		c->auth_len = strlen(c->auth);
	}
	/* lws reports a failure in this call only by returning NULL (its
	 * CONNECTION_ERROR is suppressed here); it is reported like any other. */
	if (lws_client_connect_via_info(&i) == NULL && !c->ending)
		finish_conn(c, NULL, t->cfg.url.unix_socket ? "the socket refused the connection" :
				"lws could not start the connection");
	return 0;
}

int transport_send(struct transport *t, uint64_t id, const void *data, size_t len, bool text)
{
	struct conn *c = find_conn(t, id);
	struct frame *f;

	if (c == NULL || c->wsi == NULL || c->closing)
		return -ENOTCONN;
	if ((f = malloc(sizeof(*f) + LWS_PRE + len)) == NULL)
		return -ENOMEM;
	f->text = text;
	f->ping = false;
	f->len = len;
	if (len > 0)
		memcpy(f->buf + LWS_PRE, data, len);
	spa_list_append(&c->tx, &f->link);
	c->n_tx++;
	if (c->established)
		lws_callback_on_writable(c->wsi);
	return 0;
}

uint32_t transport_queued(struct transport *t, uint64_t id)
{
	struct conn *c = find_conn(t, id);
	return c ? c->n_tx : 0;
}

int transport_ping(struct transport *t, uint64_t id, uint64_t seq)
{
	struct conn *c = find_conn(t, id);
	struct frame *f;

	if (c == NULL || c->wsi == NULL || !c->established)
		return -ENOTCONN;
	if ((f = calloc(1, sizeof(*f) + LWS_PRE + sizeof(seq))) == NULL)
		return -ENOMEM;
	f->ping = true;
	f->len = sizeof(seq);
	for (size_t i = 0; i < sizeof(seq); i++)
		f->buf[LWS_PRE + i] = (uint8_t)(seq >> (8 * (sizeof(seq) - 1 - i)));
	/* Ahead of queued audio: this probes the path, not the backlog. */
	spa_list_prepend(&c->tx, &f->link);
	c->n_tx++;
	lws_callback_on_writable(c->wsi);
	return 0;
}

void transport_close(struct transport *t, uint64_t id, int code, bool abort)
{
	struct conn *c = find_conn(t, id);

	if (c == NULL || c->wsi == NULL) {
		/* Nothing left to wait for; still say so, from the loop. */
		if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
			c->t = t;
			c->id = id;
			spa_list_init(&c->tx);
			spa_list_append(&t->conns, &c->link);
		}
		if (c != NULL && !c->ending) {
			c->detached = true;
			c->released_pending = true;
			finish_conn(c, NULL, NULL);
		}
		return;
	}
	c->detached = true;
	c->released_pending = true;
	if (c->established && !abort) {
		c->closing = true;
		c->close_code = code;
		lws_callback_on_writable(c->wsi);
		/* If the peer never lets us write, do not wait long. */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, TRANSPORT_CLOSE_WAIT_S);
	} else {
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

void transport_destroy(struct transport *t)
{
	struct conn *c;

	if (t == NULL)
		return;
	/* Called after the lws context is destroyed (which closed every wsi)
	 * or with no connection left; reports still due go unsaid. */
	spa_list_consume(c, &t->conns, link)
		free_conn(c);
	spa_list_consume(c, &t->ending, link)
		free_conn(c);
	free(t);
}
