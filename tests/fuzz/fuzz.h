/*
 * Shared parts of ringcast's fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput() and is built twice: with clang's libFuzzer into
 * build/fuzz/ (make test runs each for a bounded time), and with gcc's ASan+UBSan build against
 * tests/fuzz/replay.c, a main that feeds every corpus and regression file to the same function.
 * A target checks invariants of what the code under test returns, not only that it returns:
 * FUZZ_CHECK prints the broken expectation and aborts, which both drivers report as a crash.
 */
#ifndef RC_FUZZ_H
#define RC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: targets that need setup define it; replay.c calls it when present. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                               \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Reads the fuzzer's bytes front to back; reads past the end give zeros (and no bytes). */
typedef struct {
    const uint8_t *p;
    size_t n;
} fuzz_in_t;

static inline uint64_t fuzz_take_u64(fuzz_in_t *in, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && in->n > 0; i++, in->p++, in->n--)
        v = v << 8 | *in->p;
    return v;
}

/* Takes up to want bytes; returns how many were taken (*out points at them). */
static inline size_t fuzz_take(fuzz_in_t *in, size_t want, const uint8_t **out)
{
    size_t n = want < in->n ? want : in->n;
    *out = in->p;
    in->p += n;
    in->n -= n;
    return n;
}

#endif
