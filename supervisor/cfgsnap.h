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

struct cfgsnap {
	int fd;        /* the copy in force; valid when path is set */
	char path[64]; /* "/proc/PID/fd/FD", "" before the first good load */
};

/* cfg_load(c, file) through a copy: errors name file (FILE:LINE: KEY: why), and
 * c->path is file. On success the copy becomes the one children read; on failure
 * the one in force stays. file NULL: defaults and environment, no copy. */
int cfgsnap_load(struct cfgsnap *cs, struct cfg *c, const char *file, char *err, size_t n);
/* What children get after --config, or NULL (no file). */
const char *cfgsnap_arg(const struct cfgsnap *cs);
void cfgsnap_free(struct cfgsnap *cs);

#endif
