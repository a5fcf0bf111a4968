/* Temporary API keys: a short-lived key fetched with libcurl before every
 * connect (Soniox /v1/auth/temporary-api-key). Helper thread only; see
 * creds.h for the contract. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strerrordesc_np, sigabbrev_np, pipe2, closefrom_np */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "creds.h"
#include "creds-internal.h"

/* Largest temporary-key response accepted (the real one is ~200 bytes). */
#define CREDS_RESPONSE_MAX	(64 * 1024)

/* ---- temporary keys ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct fetch {
	CURL *h;
	char host[256];
	char errbuf[CURL_ERROR_SIZE];
	char *body;			/* 2xx response, CREDS_RESPONSE_MAX + 1 */
	size_t len;
	bool too_big;
	const atomic_bool *cancel;
};

/* libcurl asks at least about once a second, also while nothing moves. */
static int on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		curl_off_t ulnow)
{
	const struct fetch *f = data;

	return f->cancel != NULL && atomic_load(f->cancel) ? 1 : 0;
}

static bool is_loopback_name(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
		strcasecmp(host, "localhost") == 0;
}

/* Checks the URL's scheme before any connection; fills f->host. */
static int check_url(const char *url, struct fetch *f, bool *plain, struct creds_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int res = 0;

	if (u == NULL)
		return creds_fail(err, ERR_TRANSIENT, -ENOMEM, "temporary key: out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		res = creds_fail(err, ERR_FATAL, -EINVAL, "service.temporary-key.url: not a valid URL; "
				"give https://host/path");
		goto out;
	}
	*plain = strcmp(scheme, "http") == 0;
	if (!*plain && strcmp(scheme, "https") != 0) {
		res = creds_fail(err, ERR_FATAL, -EPROTONOSUPPORT, "service.temporary-key.url: %s:// is not "
				"supported; use https://", scheme);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		res = creds_fail(err, ERR_FATAL, -EINVAL, "service.temporary-key.url: no host; give https://host/path");
		goto out;
	}
	snprintf(f->host, sizeof(f->host), "%s", host);
	if (*plain && !is_loopback_name(host))
		res = creds_fail(err, ERR_FATAL, -EPROTONOSUPPORT, "service.temporary-key.url: http:// is only allowed "
				"to 127.0.0.1, [::1] or localhost, not %s; use https://", f->host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return res;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct fetch *f = user;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return 0;		/* an error's body is never read */
	if (n > CREDS_RESPONSE_MAX - f->len) {
		f->too_big = true;
		return 0;
	}
	memcpy(f->body + f->len, data, n);
	f->len += n;
	return n;
}

static char *request_body(uint32_t ttl_s)
{
	json_object *o = json_object_new_object();
	char *s = NULL;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "usage_type", json_object_new_string("transcribe_websocket"));
	json_object_object_add(o, "expires_in_seconds", json_object_new_int64(ttl_s));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static struct curl_slist *request_headers(const struct creds_secret *key)
{
	char auth[CREDS_KEY_MAX + 32];
	struct curl_slist *l, *t;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %.*s", (int)key->len, key->key);
	l = curl_slist_append(NULL, auth);
	explicit_bzero(auth, sizeof(auth));
	if (l == NULL)
		return NULL;
	t = curl_slist_append(l, "Content-Type: application/json");
	if (t == NULL) {
		explicit_bzero(l->data, strlen(l->data));
		curl_slist_free_all(l);
	}
	return t;
}

static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i != NULL; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static int setup_request(struct fetch *f, const struct creds_config *cfg, bool plain,
		struct curl_slist *headers, const char *body)
{
	CURL *h = f->h;
	const char *proto = plain ? "http" : "https";
	CURLcode rc = CURLE_OK;

#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
	SET(CURLOPT_URL, cfg->temporary_key_url);
	SET(CURLOPT_PROTOCOLS_STR, proto);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, proto);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)cfg->total_timeout_ms);
	SET(CURLOPT_ERRORBUFFER, f->errbuf);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_POSTFIELDS, body);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CREDS_RESPONSE_MAX);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, f);
	SET(CURLOPT_USERAGENT, "pipewire-transcribe");
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, f);
	if (plain)
		SET(CURLOPT_PROXY, "");		/* loopback: never through a proxy */
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

/* Retry-After in ms, -1 when the server did not send one. */
static int64_t retry_after_ms(CURL *h)
{
	struct curl_header *hdr = NULL;
	curl_off_t secs = 0;
	CURLHcode hc = curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hdr);

	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &secs) != CURLE_OK || secs < 0)
		return -1;
	if (secs > 0)
		return secs > INT64_MAX / 1000 ? INT64_MAX : (int64_t)secs * 1000;
	/* 0: either "Retry-After: 0" or no (usable) header */
	if (hc == CURLHE_OK && hdr->value != NULL && strspn(hdr->value, " \t0") == strlen(hdr->value) &&
	    strchr(hdr->value, '0') != NULL)
		return 0;
	return -1;
}

static int status_error(struct fetch *f, long status, struct creds_error *err)
{
	err->http_status = status;
	err->retry_after_ms = retry_after_ms(f->h);
	if (status == 401 || status == 403)
		return creds_fail(err, ERR_FATAL, -EACCES, "temporary key from %s: HTTP %ld: the long-lived key "
				"was refused; check service.api-key", f->host, status);
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		return creds_fail(err, ERR_TRANSIENT, -EAGAIN, "temporary key from %s: HTTP %ld (server busy or "
				"failing)", f->host, status);
	if (status >= 300 && status <= 399)
		return creds_fail(err, ERR_FATAL, -EINVAL, "temporary key from %s: HTTP %ld redirect, not followed; "
				"check service.temporary-key.url", f->host, status);
	if (status == 404)
		return creds_fail(err, ERR_FATAL, -EINVAL, "temporary key from %s: HTTP 404: no such endpoint; "
				"check service.temporary-key.url", f->host);
	if (status == 402)
		return creds_fail(err, ERR_FATAL, -EINVAL, "temporary key from %s: HTTP 402: payment required; "
				"check the account", f->host);
	return creds_fail(err, ERR_FATAL, -EINVAL, "temporary key from %s: HTTP %ld: request refused; check "
			"service.temporary-key.url and its settings", f->host, status);
}

static int curl_error(struct fetch *f, CURLcode rc, struct creds_error *err)
{
	const char *detail = f->errbuf[0] != '\0' ? f->errbuf : curl_easy_strerror(rc);
	int res;

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return creds_fail(err, ERR_FATAL, -EPROTO, "temporary key: TLS certificate verification failed for %s "
				"(%s); check the system CA certificates and the URL", f->host, detail);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
		return creds_fail(err, ERR_FATAL, -EINVAL, "temporary key from %s: %s (curl %d); check "
				"service.temporary-key.url", f->host, detail, rc);
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
			return creds_fail(err, ERR_FATAL, -EMSGSIZE, "temporary key from %s: answer larger than %d KiB; "
					"check service.temporary-key.url", f->host, CREDS_RESPONSE_MAX / 1024);
		res = -EIO;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		res = -ETIMEDOUT;
		break;
	case CURLE_COULDNT_CONNECT:
		res = -ECONNREFUSED;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		res = -EHOSTUNREACH;
		break;
	default:
		res = -EIO;
		break;
	}
	return creds_fail(err, ERR_TRANSIENT, res, "temporary key from %s: %s (curl %d)", f->host, detail, rc);
}

/* Takes "api_key" from the 2xx response in f->body. */
static int parse_answer(struct fetch *f, struct creds_secret *out, struct creds_error *err)
{
	json_object *root, *k;
	const char *s;
	size_t len;
	int res = 0;

	f->body[f->len] = '\0';
	root = json_tokener_parse(f->body);
	if (root == NULL || !json_object_object_get_ex(root, "api_key", &k) ||
	    !json_object_is_type(k, json_type_string)) {
		res = creds_fail(err, ERR_FATAL, -EBADMSG, "temporary key from %s: the answer is not JSON with "
				"an \"api_key\" string; check service.temporary-key.url", f->host);
		goto out;
	}
	s = json_object_get_string(k);
	len = (size_t)json_object_get_string_len(k);
	if (len == 0 || len > CREDS_KEY_MAX - 1 || creds_has_control(s, len))
		res = creds_fail(err, ERR_FATAL, -EBADMSG, "temporary key from %s: \"api_key\" is empty, longer than "
				"%d bytes or has control characters", f->host, CREDS_KEY_MAX - 1);
	else {
		memcpy(out->key, s, len);
		out->key[len] = '\0';
		out->len = len;
	}
	explicit_bzero((char *)s, len);
out:
	if (root != NULL)
		json_object_put(root);
	return res;
}

static int perform(struct fetch *f, const struct creds_config *cfg, bool plain,
		const struct creds_secret *long_key, struct creds_secret *out, struct creds_error *err)
{
	struct curl_slist *headers = request_headers(long_key);
	char *body = request_body(cfg->temporary_key_ttl_s);
	long status = 0;
	CURLcode rc;
	int res;

	if (headers == NULL || body == NULL || setup_request(f, cfg, plain, headers, body) < 0) {
		res = creds_fail(err, ERR_TRANSIENT, -ENOMEM, "temporary key: can not set up the request");
		goto out;
	}
	rc = curl_easy_perform(f->h);
	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 0 && (status < 200 || status > 299))
		res = status_error(f, status, err);
	else if (rc != CURLE_OK)
		res = curl_error(f, rc, err);
	else
		res = parse_answer(f, out, err);
	err->http_status = status;
out:
	if (headers != NULL)
		free_headers(headers);
	free(body);
	return res;
}

int creds_fetch_temporary(const struct creds_config *cfg, const struct creds_secret *long_key,
		struct creds_secret *out, struct creds_error *err)
{
	struct creds_error dummy;
	struct fetch f = { 0 };
	bool plain = false;
	int res;

	if (err == NULL)
		err = &dummy;
	creds_err_reset(err);
	creds_wipe(out);
	out->source = "temporary";
	if (cfg->temporary_key_url[0] == '\0')
		return creds_fail(err, ERR_FATAL, -EINVAL, "service.temporary-key.url: not set");
	if (long_key->len == 0 || long_key->len > CREDS_KEY_MAX - 1 || creds_has_control(long_key->key, long_key->len))
		return creds_fail(err, ERR_FATAL, -EINVAL, "temporary key: needs a long-lived key without control "
				"characters; set service.api-key.file, .env or .command");
	if (cfg->total_timeout_ms == 0 || cfg->temporary_key_ttl_s == 0)
		return creds_fail(err, ERR_FATAL, -EINVAL, "temporary key: the timeout and the key lifetime must be "
				"above 0");
	if ((res = check_url(cfg->temporary_key_url, &f, &plain, err)) < 0)
		return res;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return creds_fail(err, ERR_FATAL, -EIO, "temporary key: libcurl initialisation failed: %s",
				curl_easy_strerror(curl_init_result));
	f.body = malloc(CREDS_RESPONSE_MAX + 1);
	f.cancel = cfg->cancel;
	f.h = curl_easy_init();
	if (f.body == NULL || f.h == NULL)
		res = creds_fail(err, ERR_TRANSIENT, -ENOMEM, "temporary key: out of memory");
	else
		res = perform(&f, cfg, plain, long_key, out, err);
	if (f.h != NULL)
		curl_easy_cleanup(f.h);
	if (f.body != NULL) {
		explicit_bzero(f.body, f.len);
		free(f.body);
	}
	if (res < 0)
		creds_wipe(out);
	return res;
}
