/*
 * Just enough of "khash.h" for Debian's h2o 2.2.5 <h2o/http2_internal.h> to compile: h2o installs
 * that header but not the klib hash table it includes. ringcast uses only the stream struct and
 * h2o_http2_stream_reset() from it, never the connection's stream table, so its types stay opaque
 * and these macros are never expanded into code that runs (only in inline helpers nobody calls).
 */
#ifndef RC_H2O_KHASH_SHIM_H
#define RC_H2O_KHASH_SHIM_H
typedef unsigned khint_t;
typedef khint_t khiter_t;
#define KHASH_MAP_INIT_INT64(name, type) struct kh_##name##_s;
#define khash_t(name)                    struct kh_##name##_s
#define kh_get(name, h, k)               ((khiter_t)0)
#define kh_end(h)                        ((khiter_t)0)
#define kh_val(h, x)                     (*(void **)(h))
#endif
