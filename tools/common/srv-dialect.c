/* srv-dialect: the table of dialects and what they share (errors, the
 * stream's config, closes with a reason). See srv-dialect.h. */
#include "srv-dialect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct srv_dialect *const dialects[] = {
	&srv_dialect_soniox, &srv_dialect_deepgram, &srv_dialect_openai_realtime, &srv_dialect_vosk,
};

const struct srv_dialect *srv_dialect_find(const char *name)
{
	for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++)
		if (!strcmp(dialects[i]->name, name))
			return dialects[i];
	return NULL;
}

const char *srv_dialect_names(void)
{
	return "soniox|deepgram|openai-realtime|vosk";
}

void srv_error_set(struct srv_error *e, int code, const char *type, int close,
		   const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	e->type = type;
	e->close = close;
	e->cap = false;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

void srv_stream_cfg_clear(struct srv_stream_cfg *cfg)
{
	if (cfg->api_key) {
		explicit_bzero(cfg->api_key, strlen(cfg->api_key));
		free(cfg->api_key);
	}
	memset(cfg, 0, sizeof(*cfg));
}

int srv_dialect_close(struct srv_outq *q, int code, const char *reason)
{
	size_t len = reason ? strlen(reason) : 0;
	struct srv_out *o;

	if (len > SRV_CLOSE_REASON_MAX) {
		len = SRV_CLOSE_REASON_MAX;
		while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
			len--;	/* not inside a UTF-8 sequence */
	}
	o = srv_out_new(SRV_OUT_CLOSE, reason, len);
	if (!o)
		return -1;
	o->code = code;
	srv_outq_push(q, o);
	return 0;
}
