/*
 * Waking edges when the bridge publishes, without polling.
 *
 * Each edge worker makes an eventfd, connects to the bridge's unix socket <ring.dir>/bridge.sock
 * and hands the eventfd over (SCM_RIGHTS). After every publication the bridge adds 1 to every
 * eventfd it holds: the worker's event loop sees it readable within microseconds, and several
 * publications before the worker looks coalesce into one wake-up. The connection is the
 * registration: when either side goes away the other notices (EOF), and a restarted bridge is
 * found again by the edge reconnecting.
 */
#ifndef RC_WAKE_H
#define RC_WAKE_H

#include <stddef.h>

typedef struct st_rc_wake_server_t rc_wake_server_t;

/* Listens on path (a stale socket file is replaced). Returns NULL with a message in err. */
rc_wake_server_t *rc_wake_server_open(const char *path, char *err, size_t errlen);
/* The listening socket, for the caller's poll(). */
int rc_wake_server_fd(const rc_wake_server_t *s);
/* Accepts new edges, takes their eventfds, drops edges that went away. Never blocks. */
void rc_wake_server_service(rc_wake_server_t *s);
/* Wakes every registered edge. */
void rc_wake_server_notify(rc_wake_server_t *s);
/* Edges registered now. */
size_t rc_wake_server_count(const rc_wake_server_t *s);
/* Closes every connection and removes the socket file. */
void rc_wake_server_close(rc_wake_server_t *s);

/* Edge side: connects to path and registers efd. Returns the connected socket (keep it open: its
 * EOF says the bridge is gone), or -1 with errno set. */
int rc_wake_connect(const char *path, int efd);

#endif
