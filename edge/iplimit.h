/*
 * Per-IP limits shared by every edge worker: open event streams per address and a publish rate
 * per address. SO_REUSEPORT spreads one address's connections over all workers, so the table
 * lives in one MAP_SHARED mapping that the master creates before it forks; workers update it with
 * atomics only (no locks: a worker killed at any instruction leaves nothing held).
 *
 * Addresses are 16 bytes: IPv4 as ::ffff:a.b.c.d, IPv6 cut to its /64 prefix (what one subscriber
 * line usually gets, so rotating through one's own /64 does not multiply the limits).
 */
#ifndef RC_IPLIMIT_H
#define RC_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct st_rc_iplimit_t rc_iplimit_t;

/* rc_iplimit_open(): a slot index (>= 0) to hand back to rc_iplimit_close(), or one of these. */
#define RC_IPLIMIT_REFUSED   (-1) /* the address has max streams open already */
#define RC_IPLIMIT_UNTRACKED (-2) /* no room in the table: served without a limit (counted) */

/* Maps a table of at least `slots` addresses (rounded up to a power of two) for `workers`
 * workers, shared with the processes forked afterwards. Aborts if the mapping fails. */
rc_iplimit_t *rc_iplimit_new(size_t slots, size_t workers);
/* Unmaps the table (tests). */
void rc_iplimit_free(rc_iplimit_t *t);

/* The table key of a peer address; returns 0, or -1 for a family other than IPv4/IPv6. */
int rc_iplimit_key(const struct sockaddr *sa, uint8_t key[16]);

/* Counts one more stream of key for worker; refuses past max open streams of key over all
 * workers (never more than max are counted at once, even when workers race). */
int32_t rc_iplimit_open(rc_iplimit_t *t, const uint8_t key[16], size_t worker, uint32_t max);
/* Ends a stream counted by rc_iplimit_open() in the same worker; a negative slot is ignored. */
void rc_iplimit_close(rc_iplimit_t *t, int32_t slot, size_t worker);
/* Streams of key open now, over all workers (tests and diagnostics). */
uint32_t rc_iplimit_count(rc_iplimit_t *t, const uint8_t key[16]);

/* Takes one publish token of key from a bucket of `burst` tokens that refills `per_minute`
 * tokens a minute. Returns 0, or 1 when empty with *retry_ms set to when one will be there. */
int rc_iplimit_take(rc_iplimit_t *t, const uint8_t key[16], uint64_t now_us, uint64_t per_minute, uint64_t burst,
                    uint64_t *retry_ms);

/* Forgets every stream worker counted: the master calls it before it restarts a dead worker. */
void rc_iplimit_reset_worker(rc_iplimit_t *t, size_t worker);
/* Times an address found no room in the table, since it was made. */
uint64_t rc_iplimit_full_count(rc_iplimit_t *t);

#endif
