/* cfgsnap: the configuration the supervisor runs, as the bytes it loaded.
 *
 * Workers and the reshard child read their configuration themselves (--config).
 * Handing them FILE would let every later start read whatever is on disk then: a
 * file a reload has just rejected (a respawned worker exits 1 and crash-loops; a
 * resize drains the fleet, then its reshard fails until someone fixes the file),
 * or an edit nobody has reloaded yet. So each load reads FILE once into a sealed
 * memfd and checks that copy; a good copy goes to one fixed descriptor of the
 * supervisor, and children get `--config /proc/<supervisor pid>/fd/<that fd>`.
 * A good reload swaps the descriptor (dup3), so workers that reload in place on
 * SIGHUP read the new copy; a child still reading the old one keeps it open. */
#ifndef PIYASA_CFGSNAP_H
#define PIYASA_CFGSNAP_H

#include "common/cfg.h"

#include <stddef.h>

/* A check beyond the parser, run on each loaded copy before it may replace the
 * one in force: 0, or -1 with why in err. c->path is the copy's path (read it,
 * not the file, for a line number: the file may have changed since); an error
 * that starts with it is shown with the file's name instead. */
typedef int (*cfgsnap_check_fn)(void *arg, const struct cfg *c, char *err, size_t n);

struct cfgsnap {
	int fd;                 /* the copy in force; valid when path is set */
	char path[64];          /* "/proc/PID/fd/FD", "" before the first good load */
	cfgsnap_check_fn check; /* NULL: the parser alone */
	void *check_arg;
};

/* cfg_load(c, file) through a copy, then cs->check on it: errors name file
 * (FILE:LINE: KEY: why), and c->path is file. On success the copy becomes the
 * one children read; on failure the one in force stays. file NULL: defaults and
 * environment, no copy (the check runs all the same). */
int cfgsnap_load(struct cfgsnap *cs, struct cfg *c, const char *file, char *err, size_t n);
/* From the next load on, run check (the supervisor sets cfgcheck's after its
 * first load: the start is checked by `supervisor -t` in ExecStartPre). */
void cfgsnap_set_check(struct cfgsnap *cs, cfgsnap_check_fn check, void *arg);
/* What children get after --config, or NULL (no file). */
const char *cfgsnap_arg(const struct cfgsnap *cs);
void cfgsnap_free(struct cfgsnap *cs);

#endif
