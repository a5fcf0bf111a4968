/* WebSocket client transport on libwebsockets 4.1: the thin I/O shell.
 *
 * Worker thread only (every lws call happens on the service thread). It
 * knows connection ids, not sessions: it reports what happened to each
 * connection and leaves every decision to the session state machine.
 * Nothing here blocks: DNS is resolved beforehand on the helper thread and
 * the connection goes to that address, with the URL's host for Host, SNI
 * and certificate verification. A ws+unix URL connects to its socket path
 * (no DNS, no TCP options; Host: localhost).
 */
#ifndef TRANSCRIBE_TRANSPORT_H
#define TRANSCRIBE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "errclass.h"
#include "url.h"

/* Every event comes from lws_service(), never from inside a transport_*()
 * call. connect_failed, closed and released come once the socket's fd is
 * closed (from a zero-delay timer after lws let go of it), so a new
 * connection opened in response never overlaps the old one. */
struct transport_events {
	void (*opened)(void *data, uint64_t conn);
	/* Before the upgrade completed. http_status 0: no HTTP answer;
	 * retry_after_ms 0: none given. */
	void (*connect_failed)(void *data, uint64_t conn, enum err_class cls, int http_status,
			int64_t retry_after_ms, const char *message);
	void (*writeable)(void *data, uint64_t conn);
	void (*message)(void *data, uint64_t conn, const char *msg, size_t len, bool binary);
	/* seq: what transport_ping() sent, 0 for a pong without it. */
	void (*pong)(void *data, uint64_t conn, uint64_t seq);
	/* After the upgrade; code 1006 when no close frame came, or when we
	 * ended the connection for a local reason (a message from the service
	 * over max_message: reason says so, and the peer got close 1009). */
	void (*closed)(void *data, uint64_t conn, int code, const char *reason);
	/* A connection closed with transport_close() is gone. */
	void (*released)(void *data, uint64_t conn);
};

struct transport_config {
	struct url url;
	uint32_t ping_s;		/* lws validity ping after this idle time; 0: none */
	uint32_t hangup_s;		/* hang up without a valid pong for this long */
	uint32_t tcp_user_timeout_ms;
	/* Bytes; a bigger message from the service is dropped unread and ends
	 * the connection (close 1009 to the peer, `closed` 1006 to us). A
	 * message of exactly this size is delivered. 0: the default. */
	uint32_t max_message;
	/* A response header that says why an upgrade was refused (the
	 * dialect's upgrade_error_header), quoted in connect_failed's reason;
	 * NULL: none. */
	const char *error_header;
};

#define TRANSPORT_MAX_MESSAGE_DEFAULT	(1024u * 1024)

struct transport;

/* The lws protocol entry the worker's context must list. */
extern const struct lws_protocols transport_protocol;

struct transport *transport_new(struct lws_context *ctx, const struct transport_config *cfg,
		const struct transport_events *events, void *data);
/* Opens connection `conn` to `address` (numeric, resolved by the caller;
 * ignored for a ws+unix URL, whose socket path is used). auth_header: full
 * "Authorization" value or NULL. Returns 0; a failure, also one lws reports
 * at once, comes as connect_failed. */
int transport_open(struct transport *t, uint64_t conn, const char *address,
		const char *auth_header);
/* Queues a message (copied); it goes out in order. -ENOTCONN if conn is gone. */
int transport_send(struct transport *t, uint64_t conn, const void *data, size_t len, bool text);
/* Frames queued but not yet written (back-pressure for audio). */
uint32_t transport_queued(struct transport *t, uint64_t conn);
/* A ping carrying seq (8 bytes), ahead of queued data; its pong reports it. */
int transport_ping(struct transport *t, uint64_t conn, uint64_t seq);
/* Closes with `code` after what is queued; abort (or a pending connect)
 * drops the socket at once. Afterwards only `released` is reported. */
void transport_close(struct transport *t, uint64_t conn, int code, bool abort);
void transport_destroy(struct transport *t);

/* lws asks the context's first protocol, not ours, to confirm a server
 * certificate: the worker forwards LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_
 * VERIFICATION here (in = X509_STORE_CTX, len = preverify_ok). Records why
 * verification failed so the connection error can say so. Returns 0 (the
 * verdict stays OpenSSL's). */
int transport_cert_verified(struct lws *wsi, void *x509_ctx, size_t preverify_ok);

#endif
