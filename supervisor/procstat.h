/* procstat: what /proc says of one process, for the process_* metrics the
 * supervisor exports for itself and each worker (the names and units of the
 * Prometheus client libraries: resident memory in bytes, CPU in seconds, start
 * time in seconds since the epoch, open and maximum file descriptors). */
#ifndef PIYASA_PROCSTAT_H
#define PIYASA_PROCSTAT_H

#include <sys/types.h>

struct procstat {
	double cpu_seconds; /* user + system */
	double start_time;  /* seconds since the epoch */
	double resident_bytes;
	double virtual_bytes;
	double open_fds;
	double max_fds; /* the soft RLIMIT_NOFILE */
};

/* Fill p for pid from /proc/PID/{stat,fd,limits}: 0, or -1 when the process is
 * gone or cannot be read (another user's process under ProtectProc=). */
int procstat_read(pid_t pid, struct procstat *p);

#endif
