/*
 * Talking to systemd (sd_notify through libsystemd) for ringcast's daemons.
 *
 *   READY=1        once the process really serves (the bridge: rings open and partitions
 *                  assigned; the edge master: listeners bound and every worker started)
 *   STATUS=...     one line that `systemctl status` shows
 *   WATCHDOG=1     every half of WatchdogSec, from the loop whose liveness it vouches for
 *   RELOADING=1 / READY=1 around a reload, STOPPING=1 when a stop begins
 *
 * Without NOTIFY_SOCKET (not started by systemd) every call does nothing. The units say
 * NotifyAccess=main: only the process systemd started notifies (the edge master, never a worker).
 */
#ifndef RC_NOTIFY_H
#define RC_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Reads NOTIFY_SOCKET and, through sd_watchdog_enabled(), WATCHDOG_USEC/WATCHDOG_PID once. */
void rc_notify_init(void);

/* Sends one notification (several "KEY=value" lines separated by '\n'); printf-style. */
void rc_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True if systemd expects WATCHDOG=1 from this process; the interval is WatchdogSec in µs. */
bool rc_notify_watchdog_enabled(uint64_t *usec);

/* Sends WATCHDOG=1 if the watchdog is enabled and half its interval passed since the last one
 * (now_ns on CLOCK_MONOTONIC). Call it often from the loop that must stay alive. */
void rc_notify_watchdog_tick(uint64_t now_ns);

#endif
