/* srv-upgrade: the HTTP side of a connection before it is a WebSocket:
 * the request's path and Authorization, an HTTP answer instead of 101
 * when the server's events say so, and plain HTTP requests (400). Service
 * thread. */
#include "srv-internal.h"

#include <stdio.h>
#include <string.h>

#include "srv-key.h"

#define AUTH_HEADER_MAX		(KEY_MAX_LEN + 64)

/* Path (sanitized) and Authorization, before the upgrade. */
static void read_request(struct srv_conn *c, struct lws *wsi)
{
	const char *key = c->srv->cfg.sess.key;
	char auth[AUTH_HEADER_MAX];
	int n;

	n = lws_hdr_copy(wsi, c->path, (int)sizeof(c->path), WSI_TOKEN_GET_URI);
	if (n <= 0)
		snprintf(c->path, sizeof(c->path), "-");
	for (char *p = c->path; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"')
			*p = '?';
	n = lws_hdr_copy(wsi, auth, (int)sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	c->auth_header = n > 0;
	if (!key)
		c->auth = SRV_AUTH_NONE;
	else if (n <= 0)
		c->auth = SRV_AUTH_MISSING;
	else
		c->auth = key_bearer_matches(key, auth) ? SRV_AUTH_OK : SRV_AUTH_BAD;
	explicit_bzero(auth, sizeof(auth));
}

/* Answers the upgrade request with status (and Retry-After) instead of 101. */
static int http_reject(struct srv_conn *c, struct lws *wsi, int status, int retry_after)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;
	char body[160], ra[16];
	int blen, n;

	blen = snprintf(body, sizeof(body),
			"{\"error_code\":%d,\"error_message\":\"%s rejected the upgrade\"}\n",
			status, c->srv->cfg.name);
	if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end))
		return -1;
	if (retry_after >= 0) {
		n = snprintf(ra, sizeof(ra), "%d", retry_after);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_RETRY_AFTER,
						 (unsigned char *)ra, n, &p, end))
			return -1;
	}
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (unsigned char *)"application/json", 16, &p, end) ||
	    lws_add_http_header_content_length(wsi, (lws_filepos_t)blen, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
					 (unsigned char *)"close", 5, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	memcpy(start, body, (size_t)blen);
	if (lws_write(wsi, start, (size_t)blen, LWS_WRITE_HTTP_FINAL) < 0)
		return -1;
	c->http_status = status;
	return 0;
}

int srv_upgrade_confirm(struct srv_conn *c, struct lws *wsi)
{
	int status = 0, retry_after = -1;

	if (c->srv->quit)
		return -1;
	read_request(c, wsi);
	if (srv_events_of(c->srv)->upgrade)
		status = srv_events_of(c->srv)->upgrade(c->srv->cfg.data, c, &retry_after);
	if (status) {
		http_reject(c, wsi, status, retry_after);
		return -1;	/* hang up after the response */
	}
	return 0;
}

int srv_upgrade_refuse_http(struct srv_conn *c, struct lws *wsi)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s speaks WebSocket only: ws://HOST:PORT/transcribe-websocket",
		 c ? c->srv->cfg.name : "this server");
	if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, msg))
		return -1;
	return lws_http_transaction_completed(wsi);
}
