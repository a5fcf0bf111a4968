/* Worker → main thread results (see publish-queue.h). */
#include "publish-queue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spa/utils/defs.h>
#include <spa/utils/list.h>

struct item {
	struct spa_list link;
	struct publish_event ev;
};

struct publish_queue {
	pthread_mutex_t lock;
	struct spa_list items;		/* oldest first; under lock */
	uint32_t n_partials;		/* under lock */
	void (*wake)(void *data);	/* under lock; NULL once detached */
	void *data;
	int refs;			/* under lock */
};

struct publish_queue *publish_queue_new(void (*wake)(void *data), void *data)
{
	struct publish_queue *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	spa_list_init(&q->items);
	q->wake = wake;
	q->data = data;
	q->refs = 1;
	return q;
}

void publish_queue_ref(struct publish_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->refs++;
	pthread_mutex_unlock(&q->lock);
}

void publish_queue_detach(struct publish_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->wake = NULL;
	pthread_mutex_unlock(&q->lock);
}

void publish_queue_free(struct publish_queue *q)
{
	struct item *it, *t;
	bool last;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	last = --q->refs == 0;
	pthread_mutex_unlock(&q->lock);
	if (!last)
		return;
	spa_list_for_each_safe(it, t, &q->items, link)
		free(it);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static struct item *item_new(enum publish_kind kind, uint32_t tap)
{
	struct item *it = malloc(sizeof(*it));

	if (it != NULL) {
		memset(&it->ev, 0, offsetof(struct publish_event, state));
		it->ev.kind = kind;
		it->ev.tap = tap;
	}
	return it;
}

static void push(struct publish_queue *q, struct item *it)
{
	bool drop;

	if (it == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	drop = it->ev.kind == PUBLISH_PARTIAL && q->n_partials >= PUBLISH_QUEUE_MAX_PARTIALS;
	if (!drop) {
		q->n_partials += it->ev.kind == PUBLISH_PARTIAL;
		spa_list_append(&q->items, &it->link);
	}
	/* Under the lock: once detach() returned, the reader may be gone. A
	 * wake is a loop event's eventfd write: it never blocks. */
	if (!drop && q->wake != NULL)
		q->wake(q->data);
	pthread_mutex_unlock(&q->lock);
	if (drop)
		free(it);
}

void publish_queue_push_state(struct publish_queue *q, uint32_t tap, const struct publish_state *st)
{
	struct item *it = item_new(PUBLISH_STATE, tap);

	if (it != NULL)
		it->ev.state = *st;
	push(q, it);
}

void publish_queue_push_answer(struct publish_queue *q, uint32_t tap, uint64_t waiter,
		enum session_answer answer, const char *message)
{
	struct item *it = item_new(PUBLISH_ANSWER, tap);

	if (it != NULL) {
		it->ev.answer.waiter = waiter;
		it->ev.answer.answer = answer;
		snprintf(it->ev.answer.message, sizeof(it->ev.answer.message), "%s",
				message ? message : "");
	}
	push(q, it);
}

/* Joins tokens[from..to) with their own spacing; the segment starts at a
 * word, not at the space the service put before it. */
static void fill_segment(struct publish_segment *seg, const struct transcript_token *t,
		uint32_t n, int64_t base_ms)
{
	size_t len = 0;
	double conf = 0;
	uint32_t n_conf = 0;

	seg->start_ms = seg->end_ms = -1;
	seg->confidence = -1;
	for (uint32_t i = 0; i < n; i++) {
		const char *text = t[i].text;
		if (len == 0)
			text += strspn(text, " ");
		len += (size_t)snprintf(seg->text + len, sizeof(seg->text) - len, "%s", text);
		len = SPA_MIN(len, sizeof(seg->text) - 1);
		if (seg->start_ms < 0 && t[i].start_ms >= 0)
			seg->start_ms = base_ms + t[i].start_ms;
		if (t[i].end_ms >= 0)
			seg->end_ms = base_ms + t[i].end_ms;
		if (t[i].confidence >= 0) {
			conf += t[i].confidence;
			n_conf++;
		}
		if (seg->speaker[0] == '\0')
			snprintf(seg->speaker, sizeof(seg->speaker), "%s", t[i].speaker);
		if (seg->language[0] == '\0')
			snprintf(seg->language, sizeof(seg->language), "%s", t[i].language);
	}
	if (n_conf > 0)
		seg->confidence = conf / n_conf;
}

static uint64_t text_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a; 0 is kept for "" */

	if (*s == '\0')
		return 0;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h | 1;
}

static uint32_t count_finals(const struct transcript_token *tokens, uint32_t n)
{
	uint32_t i = 0;

	while (i < n && tokens[i].is_final)
		i++;
	return i;
}

static void fill(struct publish_segment *seg, const struct transcript_token *tokens, uint32_t n,
		int64_t base_ms, const char *session_id, uint64_t conn)
{
	memset(seg, 0, sizeof(*seg));
	fill_segment(seg, tokens, n, base_ms);
	seg->conn = conn;
	snprintf(seg->session_id, sizeof(seg->session_id), "%s", session_id);
}

bool publish_queue_push_tokens(struct publish_queue *q, uint32_t tap,
		struct publish_cursor *cur, const struct transcript_token *tokens,
		uint32_t n_tokens, int64_t base_ms, const char *session_id, uint64_t conn,
		struct publish_segment *final)
{
	uint32_t n_final = count_finals(tokens, n_tokens);
	struct item *it;
	uint64_t h;

	if (n_final > 0 && (it = item_new(PUBLISH_FINAL, tap)) != NULL) {
		fill(&it->ev.segment, tokens, n_final, base_ms, session_id, conn);
		it->ev.segment.seq = ++cur->seq;
		if (final != NULL)
			*final = it->ev.segment;
		if (q != NULL)
			push(q, it);
		else
			free(it);
	}
	if ((it = item_new(PUBLISH_PARTIAL, tap)) == NULL)
		return n_final > 0;
	fill(&it->ev.segment, tokens + n_final, n_tokens - n_final, base_ms, session_id, conn);
	if (q == NULL || (h = text_hash(it->ev.segment.text)) == cur->partial_hash) {
		free(it);
		return n_final > 0;
	}
	cur->partial_hash = h;
	push(q, it);
	return n_final > 0;
}

bool publish_queue_pop(struct publish_queue *q, struct publish_event *out)
{
	struct item *it = NULL;

	pthread_mutex_lock(&q->lock);
	if (!spa_list_is_empty(&q->items)) {
		it = spa_list_first(&q->items, struct item, link);
		spa_list_remove(&it->link);
		q->n_partials -= it->ev.kind == PUBLISH_PARTIAL;
	}
	pthread_mutex_unlock(&q->lock);
	if (it == NULL)
		return false;
	*out = it->ev;
	free(it);
	return true;
}
