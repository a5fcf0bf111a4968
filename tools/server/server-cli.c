/* server-cli: see server-cli.h. */
#include "server-cli.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli-int.h"
#include "unix-listen.h"

#ifndef SERVER_MODELDIR
#define SERVER_MODELDIR		"/usr/share/pocketsphinx/model"
#endif
#ifndef SERVER_VERSION
#define SERVER_VERSION		"unknown"
#endif

#define DEFAULT_ADDRESS		"127.0.0.1"
#define HELP_COLUMN		26

/* Numeric options: name, argument, where, default, range, help. */
struct int_option {
	const char *name, *arg;
	size_t offset;			/* of the long in struct server_options */
	long def, min, max;
	const char *help;
};

#define OFF(f)	offsetof(struct server_options, f)

static const struct int_option int_options[] = {
	{ "port", "P", OFF(port), 7681, 0, 65535, "TCP port, 0: a free one; 7681 with only --address" },
	{ "rate", "HZ", OFF(rate), 0, 0, 48000, "(its --help line is written out)" },
	{ "max-connections", "N", OFF(max_conns), 8, 1, 256,
	  "streams (~95 MB each); more get error 429" },
	{ "spare-decoders", "N", OFF(spare), 1, 0, 64, "decoders kept ready for new streams" },
	{ "idle-timeout", "S", OFF(idle_s), 20, 1, 86400,
	  "no audio or keepalive for S s: error 408" },
	{ "upgrade-timeout", "S", OFF(upgrade_s), 5, 1, 3600,
	  "S s to finish the WebSocket upgrade" },
	{ "max-pending", "N", OFF(max_pending), 32, 1, 4096,
	  "connections before their upgrade, at most" },
	{ "partial-ms", "MS", OFF(partial_ms), 200, 20, 60000,
	  "partial words at most every MS of audio" },
	{ "progress-ms", "MS", OFF(progress_ms), 500, 20, 600000,
	  "a response at least every MS of audio" },
	{ "lws-debug", "BITS", OFF(lws_debug), 0, 0, 0xffff,
	  "lws log bits, 0: errors and warnings" },
};

#define N_INT_OPTIONS	(sizeof(int_options) / sizeof(int_options[0]))

enum {
	OPT_ADDRESS = 256, OPT_KEY_FILE, OPT_SOCKET, OPT_INSECURE_TCP, OPT_HMM, OPT_LM, OPT_DICT,
	OPT_DIALECT, OPT_HELP, OPT_VERSION, OPT_INT
};

static const struct option named_options[] = {
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "key-file", required_argument, NULL, OPT_KEY_FILE },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "insecure-tcp", no_argument, NULL, OPT_INSECURE_TCP },
	{ "hmm", required_argument, NULL, OPT_HMM },
	{ "lm", required_argument, NULL, OPT_LM },
	{ "dict", required_argument, NULL, OPT_DICT },
	{ "dialect", required_argument, NULL, OPT_DIALECT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
};

#define N_NAMED_OPTIONS	(sizeof(named_options) / sizeof(named_options[0]))

static void line(FILE *f, const char *opt, const char *arg, const char *help)
{
	char left[64];

	snprintf(left, sizeof(left), "%s%s%s", opt, arg ? " " : "", arg ? arg : "");
	fprintf(f, "  %-*s%s\n", HELP_COLUMN - 2, left, help);
}

static void int_line(FILE *f, const struct int_option *io)
{
	char name[40], help[160];

	snprintf(name, sizeof(name), "--%s", io->name);
	if (strcmp(io->name, "port"))
		snprintf(help, sizeof(help), "%s (default %ld)", io->help, io->def);
	else
		snprintf(help, sizeof(help), "%s", io->help);
	line(f, name, io->arg, help);
}

static void more(FILE *f, const char *text)
{
	fprintf(f, "  %-*s%s\n", HELP_COLUMN - 2, "", text);
}

static void usage(FILE *f, const struct server_options *o)
{
	fprintf(f, "Usage: %s [OPTIONS]\n\n"
		"Local speech-to-text over WebSocket with pocketsphinx, for pipewire-transcribe\n"
		"(the Soniox real-time protocol subset, or another dialect).\n\n"
		"Listening (one of):\n", SERVER_PROG);
	line(f, "--socket", "PATH", "a Unix socket, mode 0600 (the default:");
	more(f, "$XDG_RUNTIME_DIR/" UNIX_LISTEN_DIR "/" UNIX_LISTEN_NAME ")");
	line(f, "--address", "A", "TCP on this IP literal; " DEFAULT_ADDRESS " with only --port");
	int_line(f, &int_options[0]);	/* port */
	line(f, "--key-file", "FILE", "clients must send this secret (a mode 600 file)");
	line(f, "--insecure-tcp", NULL, "TCP without a key, on loopback only: any local");
	more(f, "user can connect (a warning is logged)");
	line(f, "--dialect", "NAME", "the protocol: soniox (default), deepgram,");
	more(f, "openai-realtime or vosk");
	fprintf(f, "\nRecognizer (pocketsphinx):\n");
	line(f, "--hmm", "DIR", "acoustic model, default:");
	more(f, o->hmm);
	line(f, "--lm", "FILE", "language model, default:");
	more(f, o->lm);
	line(f, "--dict", "FILE", "dictionary, default:");
	more(f, o->dict);
	line(f, "--rate", "HZ", "the audio rate taken (16000..48000), default:");
	more(f, "24000 with --dialect openai-realtime, else 16000");
	fprintf(f, "\nLimits, pacing, diagnostics:\n");
	for (size_t i = 2; i < N_INT_OPTIONS; i++)
		int_line(f, &int_options[i]);
	line(f, "--help", NULL, "this text");
	line(f, "--version", NULL, "the version");
	fprintf(f, "\nTCP needs --key-file (a non-loopback address always does). Started by\n"
		"systemd socket activation, it serves the socket it is given. Protocol, log\n"
		"and limits: the top of tools/server/%s.c.\n\n"
		"Exit status: 0 after SIGTERM/SIGINT; 2 on bad usage or when the model, the\n"
		"key file or the socket cannot be set up (the message says which).\n", SERVER_PROG);
}

static int set_path(char *dst, const char *name, const char *v)
{
	if (strlen(v) >= SERVER_PATH_MAX) {
		fprintf(stderr, "%s: --%s: path too long\n", SERVER_PROG, name);
		return -1;
	}
	snprintf(dst, SERVER_PATH_MAX, "%s", v);
	return 0;
}

static void defaults(struct server_options *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < N_INT_OPTIONS; i++)
		*(long *)((char *)o + int_options[i].offset) = int_options[i].def;
	o->address = DEFAULT_ADDRESS;
	o->dialect = &srv_dialect_soniox;
	snprintf(o->hmm, sizeof(o->hmm), "%s/en-us/en-us", SERVER_MODELDIR);
	snprintf(o->lm, sizeof(o->lm), "%s/en-us/en-us.lm.bin", SERVER_MODELDIR);
	snprintf(o->dict, sizeof(o->dict), "%s/en-us/cmudict-en-us.dict", SERVER_MODELDIR);
}

/* One option; 0, 1 (answered: exit 0) or -1. */
static int one(struct server_options *o, int ch)
{
	const struct int_option *io;

	switch (ch) {
	case OPT_ADDRESS: o->address = optarg; o->tcp = true; return 0;
	case OPT_KEY_FILE: o->key_file = optarg; return 0;
	case OPT_SOCKET: o->socket = optarg; return 0;
	case OPT_INSECURE_TCP: o->insecure_tcp = true; return 0;
	case OPT_HMM: return set_path(o->hmm, "hmm", optarg);
	case OPT_LM: return set_path(o->lm, "lm", optarg);
	case OPT_DICT: return set_path(o->dict, "dict", optarg);
	case OPT_DIALECT:
		o->dialect = srv_dialect_find(optarg);
		if (!o->dialect)
			fprintf(stderr, "%s: --dialect %s: unknown (%s)\n", SERVER_PROG, optarg,
				srv_dialect_names());
		return o->dialect ? 0 : -1;
	case 'h':
	case OPT_HELP:
		usage(stdout, o);
		return 1;
	case OPT_VERSION:
		printf("%s %s\n", SERVER_PROG, SERVER_VERSION);
		return 1;
	}
	if (ch < OPT_INT || ch >= OPT_INT + (int)N_INT_OPTIONS) {
		fprintf(stderr, "Try '%s --help'.\n", SERVER_PROG);
		return -1;
	}
	io = &int_options[ch - OPT_INT];
	if (!strcmp(io->name, "port"))
		o->tcp = true;
	return cli_int(SERVER_PROG, io->name, optarg, io->min, io->max,
		       (long *)((char *)o + io->offset));
}

int server_cli_parse(int argc, char **argv, struct server_options *o)
{
	struct option lo[N_NAMED_OPTIONS + N_INT_OPTIONS + 1];
	int ch, rc = 0;

	defaults(o);
	memcpy(lo, named_options, sizeof(named_options));
	for (size_t i = 0; i < N_INT_OPTIONS; i++)
		lo[N_NAMED_OPTIONS + i] = (struct option){ int_options[i].name, required_argument,
							    NULL, OPT_INT + (int)i };
	lo[N_NAMED_OPTIONS + N_INT_OPTIONS] = (struct option){ NULL, 0, NULL, 0 };
	while (rc == 0 && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1)
		rc = one(o, ch);
	if (rc == 0 && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", SERVER_PROG, argv[optind]);
		rc = -1;
	}
	if (rc == 0 && o->rate != 0 && o->rate < 16000) {
		fprintf(stderr, "%s: --rate: 16000..48000 (the model's band needs 16 kHz)\n",
			SERVER_PROG);
		rc = -1;
	}
	if (rc == 0 && !o->rate)
		o->rate = o->dialect == &srv_dialect_openai_realtime ? 24000 : 16000;
	if (rc == 0 && o->socket && o->tcp) {
		fprintf(stderr, "%s: --socket and --address/--port: choose one\n", SERVER_PROG);
		rc = -1;
	}
	return rc;
}
