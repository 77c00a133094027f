/*
 * Minimal TAP harness for ringcast's C unit tests.
 *
 * A test is a small named function; each one checks one behaviour and becomes one TAP line:
 *
 *     TEST(ring_pad_at_wrap) { ... CHECK(x == 1); CHECK_EQ_U64(a, b); ... }
 *     int main(void) { return tap_run(); }
 *
 * CHECK records a failure (with file:line and the expression) and lets the test go on, so one run
 * shows every broken expectation; REQUIRE returns from the test at once. tap_run() prints the plan,
 * one "ok N - name" or "not ok N - name" per test, and exits 0 only if every test passed.
 * tests/run.sh sums these lines over every suite into "N passed, N failed".
 */
#ifndef RC_TAP_H
#define RC_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_tap_test_t {
    const char *name;
    void (*fn)(void);
    struct st_tap_test_t *next;
} tap_test_t;

static tap_test_t *tap_tests_head, **tap_tests_tail = &tap_tests_head;
static int tap_cur_failed;

static inline void tap_register(tap_test_t *t)
{
    /* Constructors run in definition order, so tests run in the order the file lists them. */
    *tap_tests_tail = t;
    tap_tests_tail = &t->next;
}

#define TEST(name)                                                                                                     \
    static void test_##name(void);                                                                                     \
    static tap_test_t tap_rec_##name = {#name, test_##name, NULL};                                                     \
    __attribute__((constructor)) static void tap_reg_##name(void)                                                      \
    {                                                                                                                  \
        tap_register(&tap_rec_##name);                                                                                 \
    }                                                                                                                  \
    static void test_##name(void)

#define TAP_FAIL(...)                                                                                                  \
    do {                                                                                                               \
        tap_cur_failed = 1;                                                                                            \
        printf("#   %s:%d: ", __FILE__, __LINE__);                                                                     \
        printf(__VA_ARGS__);                                                                                           \
        printf("\n");                                                                                                  \
    } while (0)

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            TAP_FAIL("failed: %s", #cond);                                                                             \
    } while (0)

#define REQUIRE(cond)                                                                                                  \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            TAP_FAIL("required: %s", #cond);                                                                           \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                                             \
    do {                                                                                                               \
        uint64_t tap_a_ = (uint64_t)(a), tap_b_ = (uint64_t)(b);                                                       \
        if (tap_a_ != tap_b_)                                                                                          \
            TAP_FAIL("%s == %s: got %" PRIu64 ", want %" PRIu64, #a, #b, tap_a_, tap_b_);                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                             \
    do {                                                                                                               \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                                                    \
        if (tap_a_ != tap_b_)                                                                                          \
            TAP_FAIL("%s == %s: got %lld, want %lld", #a, #b, tap_a_, tap_b_);                                         \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                             \
    do {                                                                                                               \
        const char *tap_a_ = (a), *tap_b_ = (b);                                                                       \
        if (tap_a_ == NULL || tap_b_ == NULL || strcmp(tap_a_, tap_b_) != 0)                                           \
            TAP_FAIL("%s == %s:\n#     got  \"%s\"\n#     want \"%s\"", #a, #b, tap_a_ ? tap_a_ : "(null)",            \
                     tap_b_ ? tap_b_ : "(null)");                                                                      \
    } while (0)

static inline int tap_run(void)
{
    int n = 0, failed = 0, i = 0;
    const char *only = getenv("TAP_ONLY"); /* run a single test by name while debugging */
    for (tap_test_t *t = tap_tests_head; t != NULL; t = t->next)
        if (only == NULL || strcmp(only, t->name) == 0)
            n++;
    printf("1..%d\n", n);
    fflush(stdout);
    for (tap_test_t *t = tap_tests_head; t != NULL; t = t->next) {
        if (only != NULL && strcmp(only, t->name) != 0)
            continue;
        tap_cur_failed = 0;
        t->fn();
        printf("%s %d - %s\n", tap_cur_failed ? "not ok" : "ok", ++i, t->name);
        fflush(stdout);
        failed += tap_cur_failed;
    }
    return failed ? 1 : 0;
}

#endif
