/* The blocking half of a connection attempt (module/connect-job.c) on the
 * real helper thread: a superseded job does nothing more (no key command,
 * no lookup), the key goes into the Authorization value and the config
 * message only, and every address of a name comes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "blocking.h"
#include "connect-job.h"

#define KEY	"sk-connect-test-0123456789"

struct done {
	int calls;
	int res;
	struct connect_result r;
	char message[CREDS_MSG_MAX];
};

static void on_done(void *owner, uint64_t attempt, int res, const struct creds_error *err,
		struct connect_result *r)
{
	struct done *d = owner;

	d->calls++;
	d->res = res;
	d->r = *r;
	d->r.config = NULL;	/* stays the job's; it is wiped after this */
	snprintf(d->message, sizeof(d->message), "%s", err->message);
}

static void wake(void *data)
{
	__atomic_add_fetch((int *)data, 1, __ATOMIC_SEQ_CST);	/* a job ran */
}

static struct dialect_params params = { .model = "stt-rt-v5", .rate = 16000, .channels = 1 };

static void job_params(struct connect_job_params *p, const char *host, const char *command)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->creds.command, sizeof(p->creds.command), "%s", command);
	p->creds.total_timeout_ms = 5000;
	p->creds.connect_timeout_ms = 2000;
	snprintf(p->host, sizeof(p->host), "%s", host);
	p->port = 7681;
	p->dns_timeout_ms = 5000;
	p->dialect = &dialect_soniox;
	p->dialect_params = &params;
}

/* Runs one job to its end (blocking_destroy() hands every job back). */
static void run_job(const struct connect_job_params *p, uint64_t attempt,
		_Atomic uint64_t *current, struct done *d)
{
	static int ran;
	int before = __atomic_load_n(&ran, __ATOMIC_SEQ_CST);
	struct blocking *b = blocking_new(wake, &ran);

	assert_non_null(b);
	assert_int_equal(connect_job_submit(b, p, attempt, current, on_done, d), 0);
	/* The helper runs it (bounded: the command and the lookup are). */
	for (int i = 0; i < 1000 && __atomic_load_n(&ran, __ATOMIC_SEQ_CST) == before; i++)
		usleep(10000);
	blocking_collect(b);
	blocking_destroy(b);
}

static void test_a_superseded_job_runs_no_key_command_and_no_lookup(void **state)
{
	char marker[] = "/tmp/test-session-connect-XXXXXX", command[256];
	struct connect_job_params p;
	_Atomic uint64_t current = 2;	/* attempt 2 started before job 1 ran */
	struct done d = { 0 };
	int fd = mkstemp(marker);

	assert_true(fd >= 0);
	close(fd);
	unlink(marker);
	snprintf(command, sizeof(command), "touch %s; echo " KEY, marker);
	job_params(&p, "localhost", command);
	run_job(&p, 1, &current, &d);
	/* Finding 8: superseded jobs ran the key command, minted temporary
	 * keys and resolved DNS all the same. */
	assert_int_equal(d.calls, 0);
	assert_int_not_equal(access(marker, F_OK), 0);
}

static void test_the_key_goes_into_the_header_and_the_config_only(void **state)
{
	struct connect_job_params p;
	_Atomic uint64_t current = 1;
	struct done d = { 0 };

	job_params(&p, "127.0.0.1", "echo " KEY);
	run_job(&p, 1, &current, &d);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.res, 0);
	assert_string_equal(d.r.auth, "Bearer " KEY);
	assert_string_equal(d.r.key_source, "command");
	assert_int_equal(d.r.n_addresses, 1);
	assert_string_equal(d.r.addresses[0], "127.0.0.1");
}

static void test_every_address_of_a_name_comes_back(void **state)
{
	struct connect_job_params p;
	_Atomic uint64_t current = 1;
	struct done d = { 0 };
	char hosts[4096] = "";
	FILE *f = fopen("/etc/hosts", "r");

	/* localhost is 127.0.0.1 and, on most systems, ::1 too. */
	if (f != NULL) {
		hosts[fread(hosts, 1, sizeof(hosts) - 1, f)] = '\0';
		fclose(f);
	}
	job_params(&p, "localhost", "");
	run_job(&p, 1, &current, &d);
	assert_int_equal(d.res, 0);
	assert_true(d.r.n_addresses >= 1);
	if (strstr(hosts, "::1") != NULL && strstr(hosts, "127.0.0.1") != NULL)
		assert_int_equal(d.r.n_addresses, 2);
	for (uint32_t i = 0; i < d.r.n_addresses; i++)
		assert_true(strcmp(d.r.addresses[i], "127.0.0.1") == 0 ||
				strcmp(d.r.addresses[i], "::1") == 0);
}

static void test_a_name_that_does_not_resolve_says_so(void **state)
{
	struct connect_job_params p;
	_Atomic uint64_t current = 1;
	struct done d = { 0 };

	job_params(&p, "no-such-host.invalid", "");
	run_job(&p, 1, &current, &d);
	assert_int_equal(d.calls, 1);
	assert_true(d.res < 0);
	assert_non_null(strstr(d.message, "cannot resolve no-such-host.invalid"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_superseded_job_runs_no_key_command_and_no_lookup),
		cmocka_unit_test(test_the_key_goes_into_the_header_and_the_config_only),
		cmocka_unit_test(test_every_address_of_a_name_comes_back),
		cmocka_unit_test(test_a_name_that_does_not_resolve_says_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
