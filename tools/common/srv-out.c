/* srv-out: see srv-out.h. */
#include "srv-out.h"

#include <stdlib.h>
#include <string.h>

struct srv_out *srv_out_new_cap(enum srv_out_kind kind, const void *data, size_t len, size_t cap)
{
	struct srv_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->kind = kind;
	if (srv_out_has_payload(kind)) {
		o->cap = cap > len ? cap : len;
		o->buf = calloc(1, SRV_OUT_PRE + o->cap + 1);
		if (!o->buf) {
			free(o);
			return NULL;
		}
		if (data && len)
			memcpy(o->buf + SRV_OUT_PRE, data, len);
		o->len = len;
	}
	return o;
}

struct srv_out *srv_out_new(enum srv_out_kind kind, const void *data, size_t len)
{
	return srv_out_new_cap(kind, data, len, len);
}

void srv_out_free(struct srv_out *o)
{
	if (!o)
		return;
	free(o->buf);
	free(o);
}

void srv_outq_push(struct srv_outq *q, struct srv_out *o)
{
	o->next = NULL;
	if (q->tail)
		q->tail->next = o;
	else
		q->head = o;
	q->tail = o;
	q->bytes += o->len;
}

struct srv_out *srv_outq_pop(struct srv_outq *q)
{
	struct srv_out *o = q->head;

	if (!o)
		return NULL;
	q->head = o->next;
	if (!q->head)
		q->tail = NULL;
	o->next = NULL;
	q->bytes -= o->len;
	return o;
}

void srv_outq_move(struct srv_outq *to, struct srv_outq *from)
{
	if (!from->head)
		return;
	if (to->tail)
		to->tail->next = from->head;
	else
		to->head = from->head;
	to->tail = from->tail;
	to->bytes += from->bytes;
	from->head = from->tail = NULL;
	from->bytes = 0;
}

void srv_outq_clear(struct srv_outq *q)
{
	struct srv_out *o;

	while ((o = srv_outq_pop(q)))
		srv_out_free(o);
}
