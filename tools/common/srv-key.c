/* srv-key: see srv-key.h. */
#include "srv-key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int key_load(const char *path, char **out, char *err, size_t errlen)
{
	char buf[KEY_MAX_LEN + 2];
	struct stat st;
	ssize_t n;
	size_t len, start = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open key file %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "key file %s is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(err, errlen, "key file %s is accessible by group or others (mode %04o); "
			 "run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	e = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(e));
		return -e;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\n");	/* first line only */
	while (len > 0 && is_space(buf[len - 1]))
		len--;
	while (start < len && is_space(buf[start]))
		start++;
	len -= start;
	if (len == 0 || len > KEY_MAX_LEN) {
		snprintf(err, errlen, "key file %s: the first line must hold a key of 1..%d bytes",
			 path, KEY_MAX_LEN);
		return -EINVAL;
	}
	*out = strndup(buf + start, len);
	explicit_bzero(buf, sizeof(buf));
	if (!*out) {
		snprintf(err, errlen, "out of memory reading key file %s", path);
		return -ENOMEM;
	}
	return 0;
}

bool key_matches(const char *key, const char *given, size_t len)
{
	size_t klen = strlen(key);
	unsigned char diff = klen != len;

	/* walk the whole given string whatever the key length */
	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(given[i] ^ key[i < klen ? i : 0]);
	return diff == 0;
}

static bool scheme_matches(const char *key, const char *header, const char *scheme)
{
	size_t n = strlen(scheme);

	if (strncasecmp(header, scheme, n) || header[n] != ' ')
		return false;
	header += n;
	while (*header == ' ')
		header++;
	return key_matches(key, header, strlen(header));
}

bool key_bearer_matches(const char *key, const char *header)
{
	return scheme_matches(key, header, "Bearer");
}

bool key_scheme_matches(const char *key, const char *header, bool token)
{
	return scheme_matches(key, header, "Bearer") || (token && scheme_matches(key, header, "Token"));
}
