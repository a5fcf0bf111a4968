/* Model-based test of the session state machine: random sequences of
 * everything the world can do to it (session-model.h), every invariant of
 * module/session.h checked after every step, failing sequences shrunk to a
 * minimal one and printed as C for a regression test.
 *
 *   test-session-model [steps] [seed]
 *
 * Defaults: 300 000 steps (the CI smoke run, about a second), seed 1.
 * MODEL_STEPS / MODEL_SEED in the environment do the same; MODEL_ALL=1
 * keeps going after a violation and reports each distinct one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session-model.h"

#define SEQ_LEN		300
#define MAX_DISTINCT	64

/* Deletes ever smaller chunks while the sequence still fails (ddmin
 * without the complement step), then simplifies what is left. */
static size_t shrink(const struct session_config *cfg, enum model_fault fault,
		struct model_op *ops, size_t n)
{
	struct model_op *tmp = malloc(n * sizeof(*ops));
	char v[1024];

	for (size_t chunk = n / 2; chunk >= 1; chunk /= 2) {
		size_t i = 0;
		while (i < n) {
			size_t len = chunk < n - i ? chunk : n - i, k = 0;
			for (size_t j = 0; j < n; j++)
				if (j < i || j >= i + len)
					tmp[k++] = ops[j];
			int at = model_run(cfg, fault, tmp, k, v, sizeof(v));
			if (at >= 0) {
				/* Still fails: keep the shorter one, cut what follows. */
				n = (size_t)at < k ? (size_t)at + 1 : k;
				memcpy(ops, tmp, n * sizeof(*ops));
			} else {
				i += len;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct model_op keep = ops[i];
		if (ops[i].a != 0 || ops[i].b != 0) {
			ops[i].a = 0;
			ops[i].b = 0;
			if (model_run(cfg, fault, ops, n, v, sizeof(v)) < 0)
				ops[i] = keep;
		}
	}
	free(tmp);
	return n;
}

/* The text up to the first digit: violations that differ only in ids. */
static void kind_of(const char *v, char *out, size_t size)
{
	size_t i = 0;
	for (; v[i] != '\0' && i + 1 < size; i++) {
		if (v[i] >= '0' && v[i] <= '9')
			break;
		out[i] = v[i];
	}
	out[i] = '\0';
}

static bool seen_kind(char seen[][128], uint32_t n, const char *kind)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(seen[i], kind) == 0)
			return true;
	return false;
}

static void print_sequence(const char *v, const struct model_op *ops, size_t n, uint64_t done,
		uint64_t runs, uint32_t variant, enum model_fault fault)
{
	char line[64];

	printf("VIOLATION after %" PRIu64 " steps (run %" PRIu64 ", config variant %u, fault %d): "
			"%s\nminimal sequence (%zu ops):\n", done, runs, variant, fault, v, n);
	for (size_t i = 0; i < n; i++) {
		model_format_op(&ops[i], line, sizeof(line));
		printf("\t%s,\n", line);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	uint64_t steps = 300000, seed = 1, done = 0, runs = 0;
	const char *e;
	bool all = getenv("MODEL_ALL") != NULL;
	static char seen[MAX_DISTINCT][128];
	uint32_t n_seen = 0, failures = 0;
	struct model_op ops[SEQ_LEN];
	clock_t t0 = clock();

	if ((e = getenv("MODEL_STEPS")) != NULL)
		steps = strtoull(e, NULL, 10);
	if ((e = getenv("MODEL_SEED")) != NULL)
		seed = strtoull(e, NULL, 10);
	if (argc > 1)
		steps = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 10);
	uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;

	while (done < steps) {
		struct session_config cfg;
		uint32_t variant = (uint32_t)(runs % 8);
		/* Half the runs against a service that keeps failing one way. */
		enum model_fault fault = runs / 8 % 2 ? (enum model_fault)(runs / 16 % MODEL_N_FAULTS) :
			FAULT_ANY;
		model_config(&cfg, variant);
		struct model *m = model_new(&cfg, fault);
		size_t n = 0;
		bool ok = true;

		runs++;
		for (; n < SEQ_LEN && ok; n++) {
			model_random_op(&rng, &ops[n]);
			ok = model_step(m, &ops[n]);
		}
		if (ok)
			ok = model_finish(m);
		done += model_steps(m);
		if (!ok) {
			char v[1024], kind[128];
			snprintf(v, sizeof(v), "%s", model_violation(m));
			kind_of(v, kind, sizeof(kind));
			if (!seen_kind(seen, n_seen, kind) && n_seen < MAX_DISTINCT) {
				snprintf(seen[n_seen++], sizeof(seen[0]), "%s", kind);
				n = shrink(&cfg, fault, ops, n);
				model_run(&cfg, fault, ops, n, v, sizeof(v));
				/* Shrinking may land on another, known violation. */
				kind_of(v, kind, sizeof(kind));
				if (strcmp(kind, seen[n_seen - 1]) == 0 || !seen_kind(seen, n_seen, kind)) {
					if (strcmp(kind, seen[n_seen - 1]) != 0 && n_seen < MAX_DISTINCT)
						snprintf(seen[n_seen++], sizeof(seen[0]), "%s", kind);
					print_sequence(v, ops, n, done, runs, variant, fault);
				}
			}
			failures++;
			if (!all) {
				model_free(m);
				break;
			}
		}
		model_free(m);
	}
	printf("model: %" PRIu64 " steps in %" PRIu64 " runs, seed %" PRIu64 ", %.1f s, "
			"%u failing runs, %u distinct violations\n", done, runs, seed,
			(double)(clock() - t0) / CLOCKS_PER_SEC, failures, n_seen);
	return failures == 0 ? 0 : 1;
}
