/*
 * A ring in a fresh directory for unit tests: under /dev/shm (or /tmp when it is not writable),
 * removed with everything in it by fx_done. Shared by the tests of the ring and of resume planning.
 */
#ifndef RC_RING_FIXTURE_H
#define RC_RING_FIXTURE_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"

typedef struct {
    char dir[128];
    rc_ring_t *w;
} fixture_t;

static inline void fx_dir(fixture_t *f)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(f->dir, sizeof(f->dir), "%s/rc-test-ring-XXXXXX", base);
    if (mkdtemp(f->dir) == NULL)
        abort();
}

/* Opens the writer of ring "s" in f->dir: cap bytes, slots index slots (0: the default), 8 lanes;
 * how and why may be NULL. Returns 0, or -1 (printed as a TAP comment). */
static inline int fx_open(fixture_t *f, uint64_t cap, uint32_t slots, rc_ring_opened_t *how, char *why, size_t whylen)
{
    rc_ring_geom_t g = {.capacity = cap, .index_slots = slots, .max_lanes = 8, .ckpt_interval = 8};
    char err[256];
    rc_ring_opened_t h;
    char w[256];
    int rc = rc_ring_writer_open(&f->w, f->dir, "s", &g, how ? how : &h, why ? why : w, why ? whylen : sizeof(w), err,
                                 sizeof(err));
    if (rc != 0)
        printf("# writer_open: %s\n", err);
    return rc;
}

static inline void fx_done(fixture_t *f)
{
    if (f->w)
        rc_ring_close(f->w);
    f->w = NULL;
    DIR *d = opendir(f->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
                continue;
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
}

/* Appends a DATA record of (lane, offset) whose frame is frame_len bytes (at most 64 KiB). */
static inline int put_sized(rc_ring_t *w, int lane, int64_t offset, size_t frame_len)
{
    static char buf[1 << 16];
    memset(buf, 'a' + (int)(offset % 26), frame_len);
    rc_rec_in_t in = {.type = RC_REC_DATA,
                      .lane = (uint16_t)lane,
                      .partition = lane,
                      .offset = offset,
                      .timestamp = 1000 + offset,
                      .frame = buf,
                      .frame_len = (uint32_t)frame_len};
    return rc_ring_append(w, &in);
}

#endif
