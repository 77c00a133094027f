/*
 * What the kernel says about a client's TCP connection, for edge.send_timeout: a stream is stalled
 * when bytes wait for its client and it acknowledges none for that long. Its own file: glibc's
 * <netinet/tcp.h>, which h2o's headers bring in, has no tcpi_bytes_acked; <linux/tcp.h> does.
 */
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "edge.h"

int rc_tcp_progress(int fd, uint64_t *acked, uint64_t *outstanding)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return -1;
    *acked = ti.tcpi_bytes_acked;
    /* Not yet sent, plus sent and not acknowledged (retransmissions aside). */
    *outstanding = (uint64_t)ti.tcpi_notsent_bytes +
                   (ti.tcpi_bytes_sent > ti.tcpi_bytes_acked ? ti.tcpi_bytes_sent - ti.tcpi_bytes_acked : 0);
    return 0;
}
