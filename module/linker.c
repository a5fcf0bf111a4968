/* Registry watcher that keeps a tap's links in place. */
#include "linker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spa/debug/types.h>
#include <spa/param/audio/type-info.h>
#include <spa/utils/list.h>
#include <spa/utils/string.h>

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

struct rule {
	struct spa_list link;
	char tap[CONFIG_NAME_MAX];
	uint32_t n_match;
	struct config_match match[CONFIG_MAX_MATCH];
	char to_node[CONFIG_STR_MAX];
	uint32_t n_position;
	uint32_t position[SPA_AUDIO_MAX_CHANNELS];
	bool passive;
};

/* A tap's node whose sources are reported: any link into it counts, ours
 * or a session manager's. */
struct watch {
	struct spa_list link;
	char tap[CONFIG_NAME_MAX];
	char node[CONFIG_STR_MAX];
	char sources[CONFIG_STR_MAX];	/* as last reported */
};

/* A link in the graph (anyone's), by node ids. */
struct glink {
	struct spa_list link;
	uint32_t id;
	uint32_t out_node, in_node;
};

struct node {
	struct spa_list link;
	struct linker *linker;
	uint32_t id;
	struct pw_properties *props;	/* global props, then full info props */
	struct pw_proxy *proxy;		/* NULL once the core destroyed it */
	struct spa_hook proxy_listener;
	struct spa_hook node_listener;
};

struct port {
	struct spa_list link;
	uint32_t id;
	uint32_t node_id;
	bool output;
	bool monitor;
	char channel[16];
};

struct plink {
	struct spa_list link;
	struct linker *linker;
	uint32_t out_port, in_port;
	struct pw_proxy *proxy;
	struct spa_hook proxy_listener;
};

struct linker {
	struct pw_core *core;
	const struct linker_events *events;
	void *events_data;
	struct pw_registry *registry;	/* NULL once the core destroyed it */
	struct spa_hook registry_listener;
	struct spa_hook registry_proxy_listener;
	struct spa_list rules, nodes, ports, links, watches, glinks;
	uint32_t n_links;
};

static struct node *find_node(struct linker *l, uint32_t id)
{
	struct node *n;
	spa_list_for_each(n, &l->nodes, link)
		if (n->id == id)
			return n;
	return NULL;
}

static struct node *find_node_by_name(struct linker *l, const char *name)
{
	struct node *n;
	spa_list_for_each(n, &l->nodes, link)
		if (spa_streq(pw_properties_get(n->props, PW_KEY_NODE_NAME), name))
			return n;
	return NULL;
}

static bool node_matches(const struct node *n, const struct rule *r)
{
	for (uint32_t i = 0; i < r->n_match; i++)
		if (!spa_streq(pw_properties_get(n->props, r->match[i].key), r->match[i].value))
			return false;
	return true;
}

static bool have_link(struct linker *l, uint32_t out_port, uint32_t in_port)
{
	struct plink *k;
	spa_list_for_each(k, &l->links, link)
		if (k->out_port == out_port && k->in_port == in_port)
			return true;
	return false;
}

/* Tells each watched tap which nodes it hears now, when that changed. */
static void report_sources(struct linker *l)
{
	struct watch *w;
	struct glink *g, *h;
	struct node *to, *from;

	spa_list_for_each(w, &l->watches, link) {
		char names[CONFIG_STR_MAX] = "";
		size_t len = 0;

		to = find_node_by_name(l, w->node);
		spa_list_for_each(g, &l->glinks, link) {
			bool seen = false;
			if (to == NULL || g->in_node != to->id ||
			    (from = find_node(l, g->out_node)) == NULL)
				continue;
			spa_list_for_each(h, &l->glinks, link) {
				if (h == g)
					break;
				if (h->in_node == g->in_node && h->out_node == g->out_node)
					seen = true;
			}
			if (!seen && len < sizeof(names))
				len += snprintf(names + len, sizeof(names) - len, "%s%s", len ? " " : "",
						pw_properties_get(from->props, PW_KEY_NODE_NAME) ?: "?");
		}
		if (strcmp(names, w->sources) == 0)
			continue;
		snprintf(w->sources, sizeof(w->sources), "%s", names);
		if (l->events && l->events->sources)
			l->events->sources(l->events_data, w->tap, w->sources);
	}
}

static void link_proxy_removed(void *data)
{
	struct plink *k = data;
	pw_proxy_destroy(k->proxy);
}

static void link_proxy_destroy(void *data)
{
	struct plink *k = data;
	struct linker *l = k->linker;

	spa_hook_remove(&k->proxy_listener);
	spa_list_remove(&k->link);
	l->n_links--;
	free(k);
}

static void link_proxy_error(void *data, int seq, int res, const char *message)
{
	struct plink *k = data;
	pw_log_warn("link %u→%u failed: %s", k->out_port, k->in_port, message);
}

static const struct pw_proxy_events link_proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.removed = link_proxy_removed,
	.destroy = link_proxy_destroy,
	.error = link_proxy_error,
};

static void make_link(struct linker *l, const struct rule *r, const struct port *out,
		const struct port *in)
{
	struct pw_properties *props;
	struct plink *k;

	if (have_link(l, out->id, in->id) || (k = calloc(1, sizeof(*k))) == NULL)
		return;
	props = pw_properties_new(PW_KEY_OBJECT_LINGER, "false",
			PW_KEY_LINK_PASSIVE, r->passive ? "true" : "false", NULL);
	if (props == NULL) {
		free(k);
		return;
	}
	pw_properties_setf(props, PW_KEY_LINK_OUTPUT_NODE, "%u", out->node_id);
	pw_properties_setf(props, PW_KEY_LINK_OUTPUT_PORT, "%u", out->id);
	pw_properties_setf(props, PW_KEY_LINK_INPUT_NODE, "%u", in->node_id);
	pw_properties_setf(props, PW_KEY_LINK_INPUT_PORT, "%u", in->id);
	k->proxy = pw_core_create_object(l->core, "link-factory", PW_TYPE_INTERFACE_Link,
			PW_VERSION_LINK, &props->dict, 0);
	pw_properties_free(props);
	if (k->proxy == NULL) {
		pw_log_warn("tap=%s cannot create link: %m", r->tap);
		free(k);
		return;
	}
	k->linker = l;
	k->out_port = out->id;
	k->in_port = in->id;
	pw_proxy_add_listener(k->proxy, &k->proxy_listener, &link_proxy_events, k);
	spa_list_append(&l->links, &k->link);
	l->n_links++;
	pw_log_info("tap=%s link node=%u port=%u (%s) → node=%u port=%u (%s)", r->tap,
			out->node_id, out->id, out->channel, in->node_id, in->id, in->channel);
}

/* in_first: `in` is the tap's first channel; out_first: `out` is the
 * source's first output. */
static bool channel_pairs(const struct port *out, const struct port *in, bool in_has_channel,
		bool in_first, bool out_first)
{
	if (spa_streq(out->channel, in->channel))
		return true;
	/* Summed into one port, a loud stereo pair clips. */
	if (spa_streq(in->channel, "MONO"))
		return out_first;
	/* A mono source into one input only: fed to all of them, the
	 * equal-power downmix would add 3 dB and clip loud sources. */
	if (spa_streq(out->channel, "MONO"))
		return in_first;
	/* A channel the tap has no port for (FC of 5.1, say) still carries
	 * speech: mix it into every input rather than lose it. */
	return !in_has_channel && !spa_streq(out->channel, "LFE");
}

static bool rule_has_channel(const struct rule *r, const char *channel)
{
	for (uint32_t i = 0; i < r->n_position; i++)
		if (spa_streq(spa_debug_type_find_short_name(spa_type_audio_channel,
						r->position[i]), channel))
			return true;
	return false;
}

static void link_node(struct linker *l, const struct rule *r, const struct node *from,
		const struct node *to)
{
	const char *cls = pw_properties_get(from->props, PW_KEY_MEDIA_CLASS);
	struct port *out, *in, *out_first = NULL;
	bool want_monitor = true;

	/* A sink is heard on its monitor; so is a virtual source, whose only
	 * outputs are monitor ports (what is played into it). */
	if (cls == NULL || !spa_strendswith(cls, "/Sink")) {
		spa_list_for_each(out, &l->ports, link)
			if (out->node_id == from->id && out->output && !out->monitor)
				want_monitor = false;
	}

	spa_list_for_each(out, &l->ports, link) {
		if (out->node_id != from->id || !out->output || out->monitor != want_monitor)
			continue;
		/* The lowest port id: ports appear in channel order. */
		if (out_first == NULL || out->id < out_first->id)
			out_first = out;
	}
	spa_list_for_each(out, &l->ports, link) {
		if (out->node_id != from->id || !out->output || out->monitor != want_monitor)
			continue;
		bool has = rule_has_channel(r, out->channel);
		const char *first = r->n_position > 0 ? spa_debug_type_find_short_name(
				spa_type_audio_channel, r->position[0]) : NULL;
		spa_list_for_each(in, &l->ports, link) {
			if (in->node_id == to->id && !in->output &&
			    channel_pairs(out, in, has, spa_streq(in->channel, first),
					    out == out_first))
				make_link(l, r, out, in);
		}
	}
}

static void reconcile(struct linker *l)
{
	struct rule *r;
	struct node *from, *to;

	spa_list_for_each(r, &l->rules, link) {
		if ((to = find_node_by_name(l, r->to_node)) == NULL)
			continue;
		spa_list_for_each(from, &l->nodes, link)
			if (from != to && node_matches(from, r))
				link_node(l, r, from, to);
	}
}

static void node_info(void *data, const struct pw_node_info *info)
{
	struct node *n = data;

	if (info->change_mask & PW_NODE_CHANGE_MASK_PROPS) {
		pw_properties_update(n->props, info->props);
		reconcile(n->linker);
	}
}

static const struct pw_node_events node_events = {
	PW_VERSION_NODE_EVENTS,
	.info = node_info,
};

static void node_proxy_destroy(void *data)
{
	struct node *n = data;

	spa_hook_remove(&n->node_listener);
	spa_hook_remove(&n->proxy_listener);
	n->proxy = NULL;
}

static const struct pw_proxy_events node_proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.destroy = node_proxy_destroy,
};

static void free_node(struct node *n)
{
	if (n->proxy != NULL)
		pw_proxy_destroy(n->proxy);
	spa_list_remove(&n->link);
	pw_properties_free(n->props);
	free(n);
}

static void add_node(struct linker *l, uint32_t id, const struct spa_dict *props)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n == NULL || (n->props = pw_properties_new_dict(props)) == NULL) {
		free(n);
		return;
	}
	n->linker = l;
	n->id = id;
	spa_list_append(&l->nodes, &n->link);
	/* Global props lack most keys (application.name…); the node's info
	 * has them all, so match rules see what pw-dump shows. */
	n->proxy = pw_registry_bind(l->registry, id, PW_TYPE_INTERFACE_Node, PW_VERSION_NODE, 0);
	if (n->proxy != NULL) {
		pw_proxy_add_object_listener(n->proxy, &n->node_listener, &node_events, n);
		pw_proxy_add_listener(n->proxy, &n->proxy_listener, &node_proxy_events, n);
	}
}

static void add_port(struct linker *l, uint32_t id, const struct spa_dict *props)
{
	const char *node_id = spa_dict_lookup(props, PW_KEY_NODE_ID);
	const char *dir = spa_dict_lookup(props, PW_KEY_PORT_DIRECTION);
	const char *ch = spa_dict_lookup(props, PW_KEY_AUDIO_CHANNEL);
	struct port *p;

	if (node_id == NULL || dir == NULL || (p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->id = id;
	p->node_id = (uint32_t)atoi(node_id);
	p->output = spa_streq(dir, "out");
	p->monitor = spa_atob(spa_dict_lookup(props, PW_KEY_PORT_MONITOR));
	snprintf(p->channel, sizeof(p->channel), "%s", ch ? ch : "MONO");
	spa_list_append(&l->ports, &p->link);
}

static void add_glink(struct linker *l, uint32_t id, const struct spa_dict *props)
{
	const char *out = spa_dict_lookup(props, PW_KEY_LINK_OUTPUT_NODE);
	const char *in = spa_dict_lookup(props, PW_KEY_LINK_INPUT_NODE);
	struct glink *g;

	if (out == NULL || in == NULL || (g = calloc(1, sizeof(*g))) == NULL)
		return;
	g->id = id;
	g->out_node = (uint32_t)atoi(out);
	g->in_node = (uint32_t)atoi(in);
	spa_list_append(&l->glinks, &g->link);
}

static void registry_global(void *data, uint32_t id, uint32_t permissions,
		const char *type, uint32_t version, const struct spa_dict *props)
{
	struct linker *l = data;

	if (props == NULL)
		return;
	if (spa_streq(type, PW_TYPE_INTERFACE_Node)) {
		add_node(l, id, props);
		report_sources(l);
	} else if (spa_streq(type, PW_TYPE_INTERFACE_Port)) {
		add_port(l, id, props);
	} else if (spa_streq(type, PW_TYPE_INTERFACE_Link)) {
		add_glink(l, id, props);
		report_sources(l);
		return;
	} else {
		return;
	}
	reconcile(l);
}

static void registry_global_remove(void *data, uint32_t id)
{
	struct linker *l = data;
	struct node *n;
	struct port *p, *t;
	struct glink *g, *u;

	if ((n = find_node(l, id)) != NULL) {
		free_node(n);
		report_sources(l);
		return;
	}
	spa_list_for_each_safe(g, u, &l->glinks, link) {
		if (g->id == id) {
			spa_list_remove(&g->link);
			free(g);
			report_sources(l);
			return;
		}
	}
	spa_list_for_each_safe(p, t, &l->ports, link) {
		if (p->id == id) {
			spa_list_remove(&p->link);
			free(p);
		}
	}
}

static const struct pw_registry_events registry_events = {
	PW_VERSION_REGISTRY_EVENTS,
	.global = registry_global,
	.global_remove = registry_global_remove,
};

static void registry_proxy_destroy(void *data)
{
	struct linker *l = data;

	spa_hook_remove(&l->registry_listener);
	spa_hook_remove(&l->registry_proxy_listener);
	l->registry = NULL;
}

static const struct pw_proxy_events registry_proxy_events = {
	PW_VERSION_PROXY_EVENTS,
	.destroy = registry_proxy_destroy,
};

struct linker *linker_new(struct pw_core *core, const struct linker_events *events, void *data)
{
	struct linker *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->core = core;
	l->events = events;
	l->events_data = data;
	spa_list_init(&l->rules);
	spa_list_init(&l->nodes);
	spa_list_init(&l->ports);
	spa_list_init(&l->links);
	spa_list_init(&l->watches);
	spa_list_init(&l->glinks);
	l->registry = pw_core_get_registry(core, PW_VERSION_REGISTRY, 0);
	if (l->registry == NULL) {
		free(l);
		return NULL;
	}
	pw_registry_add_listener(l->registry, &l->registry_listener, &registry_events, l);
	pw_proxy_add_listener((struct pw_proxy *)l->registry, &l->registry_proxy_listener,
			&registry_proxy_events, l);
	return l;
}

int linker_add_rule(struct linker *l, const char *tap_name,
		const struct config_match *match, uint32_t n_match, const char *to_node,
		const uint32_t *to_position, uint32_t n_position, bool passive)
{
	struct rule *r;

	if (n_match == 0 || n_match > CONFIG_MAX_MATCH || n_position > SPA_AUDIO_MAX_CHANNELS ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return -EINVAL;
	memcpy(r->position, to_position, n_position * sizeof(uint32_t));
	r->n_position = n_position;
	r->passive = passive;
	snprintf(r->tap, sizeof(r->tap), "%s", tap_name);
	snprintf(r->to_node, sizeof(r->to_node), "%s", to_node);
	memcpy(r->match, match, n_match * sizeof(*match));
	r->n_match = n_match;
	spa_list_append(&l->rules, &r->link);
	reconcile(l);
	return 0;
}

int linker_watch(struct linker *l, const char *tap_name, const char *node)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -errno;
	snprintf(w->tap, sizeof(w->tap), "%s", tap_name);
	snprintf(w->node, sizeof(w->node), "%s", node);
	spa_list_append(&l->watches, &w->link);
	return 0;
}

void linker_target_match(const char *target, struct config_match *match)
{
	bool digits = target[0] != '\0' && strspn(target, "0123456789") == strlen(target);

	snprintf(match->key, sizeof(match->key), "%s",
			digits ? PW_KEY_OBJECT_SERIAL : PW_KEY_NODE_NAME);
	snprintf(match->value, sizeof(match->value), "%s", target);
}

uint32_t linker_n_links(const struct linker *l)
{
	return l->n_links;
}

void linker_destroy(struct linker *l)
{
	struct plink *k;
	struct node *n;
	struct port *p;
	struct rule *r;
	struct watch *w;
	struct glink *g;

	if (l == NULL)
		return;
	if (l->registry != NULL)
		pw_proxy_destroy((struct pw_proxy *)l->registry);
	spa_list_consume(k, &l->links, link)
		pw_proxy_destroy(k->proxy);
	spa_list_consume(n, &l->nodes, link)
		free_node(n);
	spa_list_consume(p, &l->ports, link) {
		spa_list_remove(&p->link);
		free(p);
	}
	spa_list_consume(r, &l->rules, link) {
		spa_list_remove(&r->link);
		free(r);
	}
	spa_list_consume(w, &l->watches, link) {
		spa_list_remove(&w->link);
		free(w);
	}
	spa_list_consume(g, &l->glinks, link) {
		spa_list_remove(&g->link);
		free(g);
	}
	free(l);
}
