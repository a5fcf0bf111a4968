/* Loads and unloads libpipewire-module-transcribe in one live process, on
 * command, so a test can unload it while audio flows and then count this
 * process's threads and fds (once the module's own threads are gone: a
 * worker still finishing its sessions ends on its own after the unload).
 *
 *   module-cycler '<module args>'
 *   stdin:  "load\n" | "unload\n" | "quit\n"
 *   stdout: "loaded" | "unloaded threads=N fds=N" | "error …"
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pipewire/pipewire.h>
#include <pipewire/impl.h>

struct cycler {
	struct pw_main_loop *loop;
	struct pw_context *context;
	struct pw_impl_module *module;
	const char *args;
};

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - (strcmp(path, "/proc/self/fd") == 0);	/* opendir's own fd */
}

/* Threads of ours still named as the module names them. */
static int module_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[300], name[32];
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(name, sizeof(name), f) != NULL && strncmp(name, "pw-transcr", 10) == 0)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Polls for the module's threads to end, for up to 10 s. */
static void wait_module_threads(void)
{
	struct timespec step = { .tv_nsec = 10 * 1000000L };

	for (int i = 0; i < 1000 && module_threads() > 0; i++)
		nanosleep(&step, NULL);
}

static void on_stdin(void *data, int fd, uint32_t mask)
{
	struct cycler *c = data;
	char line[64];
	ssize_t n = read(fd, line, sizeof(line) - 1);

	if (n <= 0 || strncmp(line, "quit", 4) == 0) {
		pw_main_loop_quit(c->loop);
		return;
	}
	line[n] = '\0';
	if (strncmp(line, "load", 4) == 0 && c->module == NULL) {
		c->module = pw_context_load_module(c->context, "libpipewire-module-transcribe",
				c->args, NULL);
		printf(c->module ? "loaded\n" : "error load: %m\n");
	} else if (strncmp(line, "unload", 6) == 0 && c->module != NULL) {
		pw_impl_module_destroy(c->module);
		c->module = NULL;
		wait_module_threads();
		printf("unloaded threads=%d fds=%d\n", count_dir("/proc/self/task"),
				count_dir("/proc/self/fd"));
	}
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	struct cycler c = { .args = argc > 1 ? argv[1] : "" };

	pw_init(&argc, &argv);
	c.loop = pw_main_loop_new(NULL);
	c.context = pw_context_new(pw_main_loop_get_loop(c.loop), NULL, 0);
	if (c.context == NULL) {
		printf("error context: %m\n");
		return 1;
	}
	printf("ready threads=%d fds=%d\n", count_dir("/proc/self/task"), count_dir("/proc/self/fd"));
	fflush(stdout);
	pw_loop_add_io(pw_main_loop_get_loop(c.loop), STDIN_FILENO, SPA_IO_IN, false, on_stdin, &c);
	pw_main_loop_run(c.loop);
	if (c.module != NULL)
		pw_impl_module_destroy(c.module);
	pw_context_destroy(c.context);
	pw_main_loop_destroy(c.loop);
	pw_deinit();
	return 0;
}
