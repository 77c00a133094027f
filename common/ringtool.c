/*
 * ringcast-ringtool: look into a ring file the way an edge does (read-only).
 *
 *   ringcast-ringtool info FILE                  identity, head, tail, lanes, counters, bridge state
 *   ringcast-ringtool validate FILE              deep validation; exit 0 if the ring is sound
 *   ringcast-ringtool dump FILE [FROM_SEQ [N]]   records as lines: seq lane partition offset key frame
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "util.h"

static int usage(void)
{
    fprintf(stderr, "usage: ringcast-ringtool info FILE\n"
                    "       ringcast-ringtool validate FILE\n"
                    "       ringcast-ringtool dump FILE [FROM_SEQ [COUNT]]\n");
    return 2;
}

static void print_escaped(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            fputs("\\n", stdout);
        else if (p[i] == '\\')
            fputs("\\\\", stdout);
        else if (p[i] < 0x20 || p[i] == 0x7f)
            printf("\\x%02x", p[i]);
        else
            putchar(p[i]);
    }
}

static int info(const rc_ring_t *r)
{
    rc_cursor_t head, old;
    char name[RC_RING_NAME_MAX];
    if (rc_ring_head(r, &head) != 0 || rc_ring_oldest(r, &old) != 0) {
        fprintf(stderr, "ring: no consistent head or tail\n");
        return 1;
    }
    uint64_t hb = rc_ring_heartbeat_ns(r), now = rc_now_mono_ns();
    printf("stream      %s\n", rc_ring_stream_name(r, name, sizeof(name)));
    printf("epoch       %016" PRIx64 "\n", rc_ring_epoch(r));
    printf("capacity    %" PRIu64 " bytes, %u index slots, max record %u bytes\n", rc_ring_capacity(r),
           rc_ring_index_slots(r), rc_ring_max_record(r));
    printf("records     seq %" PRIu64 " .. %" PRIu64 " (%" PRIu64 " kept), bytes %" PRIu64 " .. %" PRIu64 "\n", old.seq,
           head.seq, head.seq - old.seq, old.pos, head.pos);
    printf("bridge      pid %u, %s, heartbeat %.1f s ago\n", rc_ring_writer_pid(r), rc_ring_state_str(rc_ring_state(r)),
           hb && now > hb ? (double)(now - hb) / 1e9 : -1.0);
    static const char *const ctr[] = {"records",        "bytes",         "evicted",    "publishes",
                                      "pads",           "skipped",       "resets",     "restarts",
                                      "skip_too_large", "skip_not_utf8", "skip_event", "no_lane"};
    printf("counters   ");
    for (int i = 0; i < (int)RC_ARRAY_SIZE(ctr); i++)
        printf(" %s=%" PRIu64, ctr[i], rc_ring_counter(r, (rc_ring_counter_t)i));
    printf("\n");
    for (uint32_t l = 0; l < rc_ring_lanes(r); l++) {
        char topic[RC_RING_TOPIC_MAX];
        int32_t part;
        int64_t next;
        if (rc_ring_lane_info(r, l, topic, sizeof(topic), &part, &next) == 0)
            printf("lane %-5u  %s[%d] next offset %" PRId64 "\n", l, topic, part, next);
    }
    return 0;
}

static int dump(const rc_ring_t *r, uint64_t from, uint64_t count)
{
    rc_cursor_t c;
    rc_lookup_t res = rc_ring_find_seq(r, from, &c);
    if (res != RC_FOUND && res != RC_EXPIRED && res != RC_EXPECTED) {
        fprintf(stderr, "seq %" PRIu64 ": %s\n", from, rc_lookup_str(res));
        return 1;
    }
    uint32_t buflen = rc_ring_max_record(r) + 8;
    uint64_t *buf = rc_malloc(buflen);
    uint64_t n = 0;
    while (n < count) {
        size_t nb, off = 0;
        rc_read_t rr = rc_ring_read(r, &c, buf, buflen, &nb);
        if (rr == RC_READ_EMPTY)
            break;
        if (rr != RC_READ_OK) {
            fprintf(stderr, "read at seq %" PRIu64 ": %s\n", c.seq, rc_read_str(rr));
            free(buf);
            return 1;
        }
        rc_record_t rec;
        while (n < count && rc_ring_next_record(buf, nb, &off, &rec)) {
            printf("%" PRIu64 " %s lane=%u partition=%d offset=%" PRId64 " holes_from=%" PRId64 " flags=%u ts=%" PRId64
                   " key=",
                   rec.h.seq,
                   rec.h.type == RC_REC_RESET  ? "RESET"
                   : rec.h.type == RC_REC_SKIP ? "SKIP"
                                               : "DATA",
                   rec.h.lane, rec.h.partition, rec.h.offset, rec.h.hole_from, rec.h.flags, rec.h.timestamp);
            print_escaped(rec.key, rec.h.key_len);
            printf(" event=");
            print_escaped(rec.event, rec.h.event_len);
            printf(" frame=");
            print_escaped(rec.frame, rec.h.frame_len);
            printf("\n");
            n++;
        }
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    rc_ring_t *r;
    char err[512];
    if (rc_ring_open_reader(&r, argv[2], err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "info") == 0) {
        rc = info(r);
    } else if (strcmp(argv[1], "validate") == 0) {
        rc = rc_ring_validate(r, true, err, sizeof(err));
        printf("%s: %s\n", argv[2], rc == 0 ? "ok" : err);
        rc = rc != 0;
    } else if (strcmp(argv[1], "dump") == 0) {
        uint64_t from = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
        uint64_t count = argc > 4 ? strtoull(argv[4], NULL, 10) : UINT64_MAX;
        rc = dump(r, from, count);
    } else {
        rc = usage();
    }
    rc_ring_close(r);
    return rc;
}
