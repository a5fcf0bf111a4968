/* pw-transcribe list and status: one snapshot of the taps (GetManagedObjects),
 * printed as aligned columns, as a few lines per tap, or as JSON. */
#include "cli.h"
#include "cli-bus.h"
#include "cli-text.h"

#include <stdio.h>

#define LIST_GAP "  "

struct list_widths {
	int name, state, node, mode;
};

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

static void print_list(const struct cli_tap_list *list)
{
	struct list_widths w = { 0 };
	const struct cli_tap *t;
	char node[32];
	size_t i;

	for (i = 0; i < list->n; i++) {
		t = &list->taps[i];
		w.name = max_int(w.name, cli_text_width(t->name));
		w.state = max_int(w.state, cli_text_width(t->state));
		w.node = max_int(w.node, snprintf(node, sizeof(node), "node=%u", t->node_id));
		w.mode = max_int(w.mode, cli_text_width(t->mode));
	}
	for (i = 0; i < list->n; i++) {
		t = &list->taps[i];
		snprintf(node, sizeof(node), "node=%u", t->node_id);
		cli_text_put_padded(stdout, t->name, w.name);
		fputs(LIST_GAP, stdout);
		cli_text_put_padded(stdout, t->state, w.state);
		fputs(LIST_GAP, stdout);
		cli_text_put_padded(stdout, node, w.node);
		fputs(LIST_GAP, stdout);
		cli_text_put_padded(stdout, t->mode, w.mode);
		fputs(LIST_GAP, stdout);
		cli_text_put(stdout, *t->target ? t->target : "-");
		fputc('\n', stdout);
	}
}

static const char *or_default(const char *s, const char *dflt)
{
	return *s ? s : dflt;
}

static void print_status(const struct cli_tap *t)
{
	cli_text_put(stdout, t->name);
	fputs(": ", stdout);
	cli_text_put(stdout, t->state);
	printf("\n  attempt %u/%u, next retry ", t->attempt, t->max_attempts);
	if (t->next_retry_ms < 0)
		fputs("-", stdout);
	else
		printf("in %.1f s", (double)t->next_retry_ms / 1000.0);
	fputs("\n  last error: ", stdout);
	cli_text_put(stdout, or_default(t->last_error, "none"));
	fputs("\n  session ", stdout);
	cli_text_put(stdout, or_default(t->session_id, "-"));
	printf(", node %u, mode ", t->node_id);
	cli_text_put(stdout, t->mode);
	fputs(", target ", stdout);
	cli_text_put(stdout, or_default(t->target, "-"));
	fputs("\n  hears: ", stdout);
	cli_text_put(stdout, or_default(t->source, "nothing (no node is linked into the tap)"));
	printf("\n  buffered %.1f s, spooled %.1f s, dropped %.1f s\n",
	       (double)t->buffered_ms / 1000.0, (double)t->spooled_ms / 1000.0,
	       (double)t->dropped_ms / 1000.0);
	fputs("  journal: ", stdout);
	cli_text_put(stdout, or_default(t->journal_path, "none"));
	fputc('\n', stdout);
}

static int print_json(struct json_object *o)
{
	if (!o) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return CLI_EXIT_OK;
}

/* Several taps (or none): an array; one tap: the object itself. */
static int print_all_json(const struct cli_tap_list *list)
{
	struct json_object *a;
	size_t i;

	if (list->n == 1)
		return print_json(cli_tap_to_json(&list->taps[0]));
	a = json_object_new_array();
	for (i = 0; a && i < list->n; i++)
		json_object_array_add(a, cli_tap_to_json(&list->taps[i]));
	return print_json(a);
}

static int show(const struct cli_opts *o, const struct cli_tap_list *list)
{
	const struct cli_tap *t;
	size_t i;
	int r;

	if (o->tap) {
		r = cli_bus_select(list, o->tap, &t);
		if (r != CLI_EXIT_OK)
			return r;
		if (o->json)
			return print_json(cli_tap_to_json(t));
		print_status(t);
		return CLI_EXIT_OK;
	}
	if (o->json)
		return print_all_json(list);
	for (i = 0; i < list->n; i++) {
		if (i > 0)
			fputc('\n', stdout);
		print_status(&list->taps[i]);
	}
	return CLI_EXIT_OK;
}

/* list, or status when status is set. */
static int run(const struct cli_opts *o, bool status)
{
	struct cli_tap_list list;
	struct cli_bus cb;
	int r;

	r = cli_bus_open(&cb, o->bus_name, false);
	if (r == CLI_EXIT_OK)
		r = cli_bus_get_taps(&cb, &list, NULL);
	if (r == CLI_EXIT_OK) {
		if (status)
			r = show(o, &list);
		else
			print_list(&list);
		cli_tap_list_clear(&list);
	}
	cli_bus_close(&cb);
	return r;
}

int cli_status_list(const struct cli_opts *o)
{
	return run(o, false);
}

int cli_status_show(const struct cli_opts *o)
{
	return run(o, true);
}
