#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static bool notify_on;         /* NOTIFY_SOCKET was set */
static uint64_t watchdog_usec; /* 0: no watchdog */
static uint64_t last_ping_ns;

void rc_notify_init(void)
{
    notify_on = getenv("NOTIFY_SOCKET") != NULL;
    uint64_t usec = 0;
    /* WATCHDOG_PID must name this process: a watchdog meant for another one is not ours to feed. */
    if (sd_watchdog_enabled(0, &usec) > 0)
        watchdog_usec = usec;
    if (watchdog_usec)
        rc_info("systemd", "watchdog every %llu ms: pinging every %llu ms", (unsigned long long)(usec / 1000),
                (unsigned long long)(usec / 2000));
}

void rc_notify(const char *fmt, ...)
{
    if (!notify_on)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sd_notify(0, msg) < 0)
        rc_debug("systemd", "sd_notify failed");
}

bool rc_notify_watchdog_enabled(uint64_t *usec)
{
    if (usec != NULL)
        *usec = watchdog_usec;
    return watchdog_usec != 0;
}

void rc_notify_watchdog_tick(uint64_t now_ns)
{
    if (watchdog_usec == 0)
        return;
    /* Half the interval, as sd_watchdog_enabled(3) recommends: one late ping is not yet fatal. */
    if (last_ping_ns != 0 && now_ns - last_ping_ns < watchdog_usec * 1000 / 2)
        return;
    last_ping_ns = now_ns;
    rc_notify("WATCHDOG=1");
}
