/*
 * Small helpers shared by every ringcast program. Allocation failure aborts through one place:
 * a daemon that cannot get memory has no half-recovery path worth keeping.
 */
#ifndef RC_UTIL_H
#define RC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define RC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *rc_malloc(size_t n);
void *rc_calloc(size_t n, size_t size);
void *rc_realloc(void *p, size_t n);
char *rc_strdup(const char *s);
char *rc_strndup(const char *s, size_t n);

/* Nanoseconds of CLOCK_MONOTONIC (shared by every process of one boot) and of CLOCK_REALTIME. */
uint64_t rc_now_mono_ns(void);
uint64_t rc_now_real_ms(void);

#endif
