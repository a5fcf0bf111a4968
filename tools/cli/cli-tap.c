/* A tap as the service publishes it: the Tap properties read from a{sv}
 * dictionaries, the tap list of GetManagedObjects, status --json. One table
 * says, for every property, its D-Bus name and type and its JSON key. */
#include "cli-tap.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct tap_prop {
	const char *dbus;
	const char *json;
	char type;		/* its D-Bus type: s, u, x or t */
	size_t offset;
	uint32_t bit;
} tap_props[] = {
	{ "Name", "name", 's', offsetof(struct cli_tap, name), CLI_TAP_NAME },
	{ "NodeId", "node_id", 'u', offsetof(struct cli_tap, node_id), CLI_TAP_NODE_ID },
	{ "Mode", "mode", 's', offsetof(struct cli_tap, mode), CLI_TAP_MODE },
	{ "Target", "target", 's', offsetof(struct cli_tap, target), CLI_TAP_TARGET },
	{ "State", "state", 's', offsetof(struct cli_tap, state), CLI_TAP_STATE },
	{ "Attempt", "attempt", 'u', offsetof(struct cli_tap, attempt), CLI_TAP_ATTEMPT },
	{ "MaxAttempts", "max_attempts", 'u', offsetof(struct cli_tap, max_attempts),
	  CLI_TAP_MAX_ATTEMPTS },
	{ "NextRetryMs", "next_retry_ms", 'x', offsetof(struct cli_tap, next_retry_ms),
	  CLI_TAP_NEXT_RETRY_MS },
	{ "LastError", "last_error", 's', offsetof(struct cli_tap, last_error),
	  CLI_TAP_LAST_ERROR },
	{ "SessionId", "session_id", 's', offsetof(struct cli_tap, session_id),
	  CLI_TAP_SESSION_ID },
	{ "BufferedMs", "buffered_ms", 't', offsetof(struct cli_tap, buffered_ms),
	  CLI_TAP_BUFFERED_MS },
	{ "SpooledMs", "spooled_ms", 't', offsetof(struct cli_tap, spooled_ms),
	  CLI_TAP_SPOOLED_MS },
	{ "DroppedMs", "dropped_ms", 't', offsetof(struct cli_tap, dropped_ms),
	  CLI_TAP_DROPPED_MS },
	{ "JournalPath", "journal_path", 's', offsetof(struct cli_tap, journal_path),
	  CLI_TAP_JOURNAL_PATH },
	{ "Source", "source", 's', offsetof(struct cli_tap, source), CLI_TAP_SOURCE },
};

static const struct tap_prop *find_prop(const char *dbus_name)
{
	size_t i;

	for (i = 0; i < sizeof(tap_props) / sizeof(tap_props[0]); i++)
		if (strcmp(tap_props[i].dbus, dbus_name) == 0)
			return &tap_props[i];
	return NULL;
}

static char **string_field(struct cli_tap *t, const struct tap_prop *p)
{
	return (char **)(void *)((char *)t + p->offset);
}

uint32_t cli_tap_prop_bit(const char *name)
{
	const struct tap_prop *p = find_prop(name);

	return p ? p->bit : 0;
}

int cli_tap_init(struct cli_tap *t, const char *path)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->next_retry_ms = -1;
	t->path = strdup(path);
	if (!t->path)
		return -ENOMEM;
	for (i = 0; i < sizeof(tap_props) / sizeof(tap_props[0]); i++) {
		if (tap_props[i].type != 's')
			continue;
		*string_field(t, &tap_props[i]) = strdup("");
		if (!*string_field(t, &tap_props[i]))
			return -ENOMEM;
	}
	return 0;
}

void cli_tap_clear(struct cli_tap *t)
{
	size_t i;

	for (i = 0; i < sizeof(tap_props) / sizeof(tap_props[0]); i++)
		if (tap_props[i].type == 's')
			free(*string_field(t, &tap_props[i]));
	free(t->path);
	memset(t, 0, sizeof(*t));
}

/* Reads the variant's value, already checked to be of p's type. */
static int read_value(struct cli_tap *t, const struct tap_prop *p, sd_bus_message *m)
{
	const char sig[2] = { p->type, '\0' };
	const char *s;
	char *copy;
	int r;

	r = sd_bus_message_enter_container(m, 'v', sig);
	if (r < 0)
		return r;
	if (p->type == 's') {
		r = sd_bus_message_read_basic(m, 's', &s);
		if (r < 0)
			return r;
		copy = strdup(s);
		if (!copy)
			return -ENOMEM;
		free(*string_field(t, p));
		*string_field(t, p) = copy;
	} else {
		r = sd_bus_message_read_basic(m, p->type, (char *)t + p->offset);
		if (r < 0)
			return r;
	}
	return sd_bus_message_exit_container(m);
}

/* One {sv} entry; adds its bit to *read when it is a property we know. */
static int read_entry(struct cli_tap *t, sd_bus_message *m, uint32_t *read)
{
	const struct tap_prop *p;
	const char *key, *contents;
	int r;

	r = sd_bus_message_read_basic(m, 's', &key);
	if (r < 0)
		return r;
	p = find_prop(key);
	if (p) {
		r = sd_bus_message_peek_type(m, NULL, &contents);
		if (r < 0)
			return r;
		if (contents[0] == p->type && contents[1] == '\0') {
			*read |= p->bit;
			return read_value(t, p, m);
		}
	}
	return sd_bus_message_skip(m, "v");
}

int cli_tap_read_props(struct cli_tap *t, sd_bus_message *m, uint32_t *read)
{
	uint32_t bits = 0;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = read_entry(t, m, &bits);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (read)
		*read = bits;
	return sd_bus_message_exit_container(m);
}

int cli_tap_read_interfaces(struct cli_tap *t, sd_bus_message *m)
{
	const char *iface;
	int found = 0, r;

	r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
		r = sd_bus_message_read_basic(m, 's', &iface);
		if (r < 0)
			return r;
		if (strcmp(iface, CLI_TAP_IFACE) == 0) {
			found = 1;
			r = cli_tap_read_props(t, m, NULL);
		} else {
			r = sd_bus_message_skip(m, "a{sv}");
		}
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	return r < 0 ? r : found;
}

struct json_object *cli_tap_to_json(const struct cli_tap *t)
{
	struct json_object *o = json_object_new_object();
	const struct tap_prop *p;
	const void *field;
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < sizeof(tap_props) / sizeof(tap_props[0]); i++) {
		p = &tap_props[i];
		field = (const char *)t + p->offset;
		switch (p->type) {
		case 's':
			json_object_object_add(o, p->json,
				json_object_new_string(*(char *const *)field));
			break;
		case 'u':
			json_object_object_add(o, p->json,
				json_object_new_int64(*(const uint32_t *)field));
			break;
		case 'x':
			json_object_object_add(o, p->json,
				json_object_new_int64(*(const int64_t *)field));
			break;
		default:
			json_object_object_add(o, p->json,
				json_object_new_uint64(*(const uint64_t *)field));
			break;
		}
	}
	return o;
}

static int compare_names(const void *a, const void *b)
{
	const struct cli_tap *ta = a, *tb = b;

	return strcmp(ta->name, tb->name);
}

/* One {oa{sa{sv}}} entry: appended to list when it is a tap. */
static int read_object(struct cli_tap_list *list, sd_bus_message *m)
{
	struct cli_tap *taps, *t;
	const char *path;
	int r;

	r = sd_bus_message_read_basic(m, 'o', &path);
	if (r < 0)
		return r;
	taps = realloc(list->taps, (list->n + 1) * sizeof(*taps));
	if (!taps)
		return -ENOMEM;
	list->taps = taps;
	t = &taps[list->n];
	r = cli_tap_init(t, path);
	if (r >= 0)
		r = cli_tap_read_interfaces(t, m);
	if (r > 0)
		list->n++;
	else
		cli_tap_clear(t);
	return r < 0 ? r : 0;
}

int cli_tap_list_read(struct cli_tap_list *list, sd_bus_message *m)
{
	int r;

	list->taps = NULL;
	list->n = 0;
	r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
		r = read_object(list, m);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	if (r < 0) {
		cli_tap_list_clear(list);
		return r;
	}
	if (list->n > 1)
		qsort(list->taps, list->n, sizeof(*list->taps), compare_names);
	return 0;
}

void cli_tap_list_clear(struct cli_tap_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		cli_tap_clear(&list->taps[i]);
	free(list->taps);
	list->taps = NULL;
	list->n = 0;
}

const struct cli_tap *cli_tap_list_find(const struct cli_tap_list *list,
					const char *name)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->taps[i].name, name) == 0)
			return &list->taps[i];
	return NULL;
}

char *cli_tap_list_names(const struct cli_tap_list *list)
{
	size_t i, len = sizeof("none");
	char *s;

	for (i = 0; i < list->n; i++)
		len += strlen(list->taps[i].name) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, list->n ? "" : "none");
	for (i = 0; i < list->n; i++) {
		if (i > 0)
			strcat(s, ", ");
		strcat(s, list->taps[i].name);
	}
	return s;
}
