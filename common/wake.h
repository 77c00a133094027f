/*
 * Waking edges when the bridge publishes, without polling.
 *
 * Each edge worker makes an eventfd, connects to the bridge's unix socket <ring.dir>/bridge.sock
 * and hands the eventfd over (SCM_RIGHTS). After every publication the bridge adds 1 to every
 * eventfd it holds: the worker's event loop sees it readable within microseconds, and several
 * publications before the worker looks coalesce into one wake-up. The connection is the
 * registration: when either side goes away the other notices (EOF), and a restarted bridge is
 * found again by the edge reconnecting.
 *
 * The socket is a trust boundary: any process that may connect (the socket is 0660, owned by the
 * ring group) can pass descriptors to the bridge, and the bridge writes to them on every
 * publication. So the bridge takes only eventfds: a descriptor is kept only if it is an eventfd
 * (fstat, and /proc/self/fd/N reads "anon_inode:[eventfd]"); anything else is closed and the
 * connection that passed it is ended. Every descriptor kept is made O_NONBLOCK (and checked again
 * before each write), so a peer cannot make the bridge wait: an eventfd whose counter a peer
 * filled refuses the write, which costs nothing. Registrations are bounded per connection and in
 * total (below); descriptors beyond a bound are closed and refused, the connection stays.
 */
#ifndef RC_WAKE_H
#define RC_WAKE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RC_WAKE_MAX_PEERS    256  /* connections at once: edge workers of one host, with room to spare */
#define RC_WAKE_MAX_PER_PEER 64   /* eventfds one connection may register (an edge worker registers 1) */
#define RC_WAKE_MAX_TOTAL    1024 /* eventfds registered at once, all connections together */
#define RC_WAKE_SOCK_MODE    0660 /* owner (the bridge) and the ring group may connect; others may not */

/* The bridge listens on <ring.dir>/RC_WAKE_SOCK_NAME and edge workers connect to it: one name for both. */
#define RC_WAKE_SOCK_NAME "bridge.sock"

typedef struct st_rc_wake_server_t rc_wake_server_t;

/* What the server refused since it opened, for logs and tests. */
typedef struct st_rc_wake_refused_t {
    uint64_t not_eventfd; /* descriptors that were not eventfds: closed, their connections ended */
    uint64_t over_limit;  /* eventfds beyond RC_WAKE_MAX_PER_PEER or RC_WAKE_MAX_TOTAL: closed */
    uint64_t peers;       /* connections refused at once (RC_WAKE_MAX_PEERS reached) */
    uint64_t blocking;    /* registrations dropped because their descriptor lost O_NONBLOCK */
} rc_wake_refused_t;

/*
 * Listens on path (a stale socket file is replaced). The socket file appears under its name
 * already with mode RC_WAKE_SOCK_MODE and group gid ((gid_t)-1: the process's own group): it is
 * bound under a temporary name, its mode and group set, then renamed into place. Returns NULL with
 * a message in err.
 */
rc_wake_server_t *rc_wake_server_open(const char *path, gid_t gid, char *err, size_t errlen);
/* The listening socket, for the caller's poll(). */
int rc_wake_server_fd(const rc_wake_server_t *s);
/* Accepts new edges, takes their eventfds, drops edges that went away. Never blocks. */
void rc_wake_server_service(rc_wake_server_t *s);
/* Wakes every registered edge. Never blocks. */
void rc_wake_server_notify(rc_wake_server_t *s);
/* Eventfds registered now. */
size_t rc_wake_server_count(const rc_wake_server_t *s);
/* Connections open now (registered or not yet). */
size_t rc_wake_server_peers(const rc_wake_server_t *s);
/* Counts of what was refused since the server opened. */
rc_wake_refused_t rc_wake_server_refused(const rc_wake_server_t *s);
/* Closes every connection and removes the socket file. */
void rc_wake_server_close(rc_wake_server_t *s);

/* Edge side: connects to path and registers efd. Returns the connected socket (keep it open: its
 * EOF says the bridge is gone), or -1 with errno set. */
int rc_wake_connect(const char *path, int efd);

#endif
