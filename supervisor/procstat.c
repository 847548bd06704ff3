/* procstat: see procstat.h. /proc/PID/stat's fields are counted after the
 * command name's closing parenthesis, as the name may hold spaces and ')'. */
#include "supervisor/procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Seconds since the epoch of the boot, from /proc/stat's btime. */
static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[256];
	double bt = 0;

	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "btime ", 6) == 0) {
			bt = strtod(line + 6, NULL);
			break;
		}
	if (f)
		fclose(f);
	return bt;
}

static int read_stat(pid_t pid, struct procstat *p)
{
	char path[64], buf[1024], *s;
	unsigned long utime, stime, vsize;
	unsigned long long start;
	long rss, tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(s = strrchr(buf, ')')))
		return -1;
	/* After ") ": state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24). */
	if (sscanf(s + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d "
		   "%llu %lu %ld",
		   &utime, &stime, &start, &vsize, &rss) != 5)
		return -1;
	p->cpu_seconds = (double)(utime + stime) / (double)tick;
	p->start_time = boot_time() + (double)start / (double)tick;
	p->virtual_bytes = (double)vsize;
	p->resident_bytes = (double)rss * (double)page;
	return 0;
}

static double count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	double n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static double max_fds(pid_t pid)
{
	char path[64], line[256];
	double v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "Max open files", 14) == 0) {
			v = strtod(line + 14, NULL);
			break;
		}
	fclose(f);
	return v;
}

int procstat_read(pid_t pid, struct procstat *p)
{
	memset(p, 0, sizeof *p);
	if (pid <= 0 || read_stat(pid, p) < 0 || (p->open_fds = count_fds(pid)) < 0)
		return -1;
	p->max_fds = max_fds(pid);
	return 0;
}
