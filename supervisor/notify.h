/* notify: the supervisor's side of the systemd notify protocol (sd_notify(3)).
 *
 * Every call is a no-op when NOTIFY_SOCKET is unset (run by hand, in tests), so
 * callers never ask whether systemd is there. NOTIFY_SOCKET stays in the
 * environment for the workers, but with the default NotifyAccess=main systemd
 * listens to the supervisor only. */
#ifndef PIYASA_NOTIFY_H
#define PIYASA_NOTIFY_H

#include <stdint.h>

/* The watchdog interval systemd asked for in ms (WatchdogSec=), 0 when none. */
int64_t notify_watchdog_ms(void);

void notify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC, as systemd wants since v253. */
void notify_reloading(void);
void notify_stopping(void);
void notify_watchdog(void);
/* STATUS=text, sent only when it differs from the last one sent. */
void notify_status(const char *text);

#endif
