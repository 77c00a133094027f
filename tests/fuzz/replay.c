/*
 * Replays fuzz inputs without libFuzzer: a main that feeds every file of the directories (or the
 * files) named on the command line to LLVMFuzzerTestOneInput(), the same function the fuzzer
 * drives. Built with gcc's ASan+UBSan build, it runs in the unit suite, so every committed corpus
 * entry and every regression input is checked by the gcc build too. A broken invariant aborts (a
 * crash tests/run.sh counts as a failure); otherwise it prints one TAP line per argument.
 *
 *   build/asan/tests/fuzz_<target> tests/fuzz/corpus/<target> tests/fuzz/regressions/<target>
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

extern int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Feeds one file; returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t len = 0, cap = 4096;
    uint8_t *buf = malloc(cap);
    for (;;) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        buf = realloc(buf, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (!bad) {
        /* An exact-size copy, so ASan sees a read one byte past the input. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    free(buf);
    return bad ? -1 : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = 0, errors = 0;
        if (stat(argv[i], &st) != 0) {
            printf("not ok %d - %s: %s\n", i, argv[i], strerror(errno));
            failed++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            struct dirent **names;
            int k = scandir(argv[i], &names, NULL, by_name);
            for (int j = 0; j < k; j++) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]->d_name);
                if (names[j]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                    errors += replay_file(path) != 0;
                    n++;
                }
                free(names[j]);
            }
            free(names);
            errors += k < 0;
        } else {
            errors += replay_file(argv[i]) != 0;
            n = 1;
        }
        /* A directory with nothing to replay is a mistake in the suite, not a pass. */
        if (errors > 0 || n == 0) {
            printf("not ok %d - %s: %d inputs, %d unreadable\n", i, argv[i], n, errors);
            failed++;
        } else {
            printf("ok %d - %s: %d inputs replayed, every invariant held\n", i, argv[i], n);
        }
    }
    printf("1..%d\n", argc - 1);
    return failed ? 1 : 0;
}
