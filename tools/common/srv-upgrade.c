/* srv-upgrade: the HTTP side of a connection before it is a WebSocket:
 * the request's path and Authorization, an HTTP answer instead of 101
 * when the server's events say so, and plain HTTP requests (400). Service
 * thread. */
#include "srv-internal.h"

#include <stdio.h>
#include <string.h>

#include "srv-key.h"

#define AUTH_HEADER_MAX		(KEY_MAX_LEN + 64)

/* The query's arguments (lws splits and url-decodes them), joined by '&'. */
static void read_query(struct srv_conn *c, struct lws *wsi)
{
	size_t used = 0;
	int n;

	c->query[0] = '\0';
	for (int i = 0; used + 2 < sizeof(c->query); i++) {
		if (used)
			c->query[used++] = '&';
		n = lws_hdr_copy_fragment(wsi, c->query + used, (int)(sizeof(c->query) - used),
					  WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n <= 0) {
			c->query[used ? used - 1 : 0] = '\0';
			return;
		}
		used += (size_t)n;
	}
}

/* Path (sanitized), query and Authorization, before the upgrade. */
static void read_request(struct srv_conn *c, struct lws *wsi)
{
	const struct srv_dialect *d = c->srv->cfg.sess.dialect;
	const char *key = c->srv->cfg.sess.key;
	char auth[AUTH_HEADER_MAX];
	int n;

	n = lws_hdr_copy(wsi, c->path, (int)sizeof(c->path), WSI_TOKEN_GET_URI);
	if (n <= 0)
		snprintf(c->path, sizeof(c->path), "-");
	for (char *p = c->path; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"')
			*p = '?';
	read_query(c, wsi);
	n = lws_hdr_copy(wsi, auth, (int)sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	c->auth_header = n > 0;
	if (!key)
		c->auth = SRV_AUTH_NONE;
	else if (n <= 0)
		c->auth = SRV_AUTH_MISSING;
	else
		c->auth = key_scheme_matches(key, auth, d->auth_token) ? SRV_AUTH_OK : SRV_AUTH_BAD;
	explicit_bzero(auth, sizeof(auth));
}

/* Answers the upgrade request with status (and Retry-After) instead of 101. */
static int http_reject(struct srv_conn *c, struct lws *wsi, int status, int retry_after,
		       const char *msg)
{
	const struct srv_dialect *d = c->srv->cfg.sess.dialect;
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;
	char body[512], ra[16], what[SRV_ERROR_MSG_MAX], name[64];
	int blen, n;

	if (!msg) {
		snprintf(what, sizeof(what), "%s rejected the upgrade", c->srv->cfg.name);
		msg = what;
	}
	if (d->http_body)
		blen = d->http_body(status, msg, body, sizeof(body));
	else
		blen = snprintf(body, sizeof(body), "{\"error_code\":%d,\"error_message\":\"%s\"}\n",
				status, msg);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -1;
	if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end))
		return -1;
	snprintf(name, sizeof(name), "%s:", d->http_error_header ? d->http_error_header : "");
	if (d->http_error_header &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					(const unsigned char *)msg, (int)strlen(msg), &p, end))
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

/* What the dialect refuses before the upgrade: a config in the query it
 * cannot take (400), a key it cannot see later (401). 0 = none. */
static int dialect_verdict(struct srv_conn *c, char *msg, size_t size)
{
	const struct srv_dialect *d = c->srv->cfg.sess.dialect;
	struct srv_stream_cfg cfg = { 0 };
	struct srv_error e;
	int rc = 0;

	if (!d->key_in_config && (c->auth == SRV_AUTH_MISSING || c->auth == SRV_AUTH_BAD)) {
		snprintf(msg, size, "%s", c->auth == SRV_AUTH_MISSING ?
			 "Missing credentials: send an Authorization header." :
			 "Invalid credentials.");
		return 401;
	}
	if (d->parse_request && d->parse_request(c->query, &cfg, &e) < 0) {
		snprintf(msg, size, "%s", e.message);
		rc = e.code;
	}
	srv_stream_cfg_clear(&cfg);
	return rc;
}

int srv_upgrade_confirm(struct srv_conn *c, struct lws *wsi)
{
	char msg[SRV_ERROR_MSG_MAX];
	int status = 0, retry_after = -1;

	if (c->srv->quit)
		return -1;
	read_request(c, wsi);
	if (srv_events_of(c->srv)->upgrade)
		status = srv_events_of(c->srv)->upgrade(c->srv->cfg.data, c, &retry_after);
	if (status) {
		http_reject(c, wsi, status, retry_after, NULL);
		return -1;	/* hang up after the response */
	}
	status = dialect_verdict(c, msg, sizeof(msg));
	if (status) {
		srv_log("conn=%u reject http=%d reason=\"%s\"", c->id, status, msg);
		http_reject(c, wsi, status, -1, msg);
		return -1;
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
