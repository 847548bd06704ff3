/* notify: see notify.h. A failed send is logged at debug only: systemd going away
 * is not something the supervisor can fix, and the watchdog will say so anyway. */
#include "supervisor/notify.h"

#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static char last_status[256];

static void report(const char *what, int rc)
{
	if (rc < 0)
		log_errno(LOG_DEBUG, -rc, "sd_notify %s: %s", what, strerror(-rc));
}

int64_t notify_watchdog_ms(void)
{
	uint64_t usec = 0;

	/* unset_environment=0: the variable names our pid, so a worker that inherits
	 * it gets 0 from the same call and never pings on our behalf. */
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (int64_t)(usec / 1000);
}

void notify_ready(void)
{
	report("READY", sd_notifyf(0, "READY=1\nSTATUS=%s", last_status));
}

void notify_reloading(void)
{
	struct timespec ts;
	unsigned long long usec;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	usec = (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
	report("RELOADING", sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec));
}

void notify_stopping(void)
{
	report("STOPPING", sd_notify(0, "STOPPING=1"));
}

void notify_watchdog(void)
{
	report("WATCHDOG", sd_notify(0, "WATCHDOG=1"));
}

void notify_status(const char *text)
{
	if (strcmp(text, last_status) == 0)
		return;
	snprintf(last_status, sizeof last_status, "%s", text);
	report("STATUS", sd_notifyf(0, "STATUS=%s", last_status));
}
