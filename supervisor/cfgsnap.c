/* cfgsnap: see cfgsnap.h. The copy is checked by the same cfg_load the workers
 * run (and the check hook), reading it through /proc/self/fd, so what was
 * checked is byte for byte what they read. */
#include "supervisor/cfgsnap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* The whole file in a sealed memfd: the fd, or -1 with err set. */
static int copy_file(const char *file, char *err, size_t n)
{
	char buf[65536];
	int in = open(file, O_RDONLY | O_CLOEXEC), fd;
	ssize_t r = 0;

	if (in < 0) {
		snprintf(err, n, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	fd = memfd_create("piyasa.conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	while (fd >= 0 && (r = read(in, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)r) != r)
			r = -1;
	if (fd < 0 || r < 0 || fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
		snprintf(err, n, "%s: cannot copy: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	close(in);
	return fd;
}

/* Errors from the copy say /proc/self/fd/N where the operator wrote FILE. */
static void name_file(char *err, size_t n, const char *copy, const char *file)
{
	size_t len = strlen(copy);
	char rest[512];

	if (strncmp(err, copy, len) != 0)
		return;
	snprintf(rest, sizeof rest, "%s", err + len);
	snprintf(err, n, "%s%s", file, rest);
}

/* The copy in force becomes fd; the old one closes (a reader keeps its own). */
static int install(struct cfgsnap *cs, int fd, char *err, size_t n)
{
	if (!*cs->path) {
		cs->fd = fd;
		snprintf(cs->path, sizeof cs->path, "/proc/%d/fd/%d", (int)getpid(), fd);
		return 0;
	}
	if (dup3(fd, cs->fd, O_CLOEXEC) < 0) {
		snprintf(err, n, "configuration copy: dup3: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int cfgsnap_load(struct cfgsnap *cs, struct cfg *c, const char *file, char *err, size_t n)
{
	char copy[64];
	int fd;

	if (!file || !*file) {
		if (cfg_load(c, NULL, err, n) < 0)
			return -1;
		return cs->check ? cs->check(cs->check_arg, c, err, n) : 0;
	}
	if ((fd = copy_file(file, err, n)) < 0)
		return -1;
	snprintf(copy, sizeof copy, "/proc/self/fd/%d", fd);
	/* Checked before install: a refused copy never becomes the one in force. */
	if (cfg_load(c, copy, err, n) < 0 || (cs->check && cs->check(cs->check_arg, c, err, n) < 0)) {
		name_file(err, n, copy, file);
		close(fd);
		return -1;
	}
	snprintf(c->path, sizeof c->path, "%s", file);
	return install(cs, fd, err, n);
}

void cfgsnap_set_check(struct cfgsnap *cs, cfgsnap_check_fn check, void *arg)
{
	cs->check = check;
	cs->check_arg = arg;
}

const char *cfgsnap_arg(const struct cfgsnap *cs)
{
	return *cs->path ? cs->path : NULL;
}

void cfgsnap_free(struct cfgsnap *cs)
{
	if (*cs->path)
		close(cs->fd);
	cs->path[0] = '\0';
}
