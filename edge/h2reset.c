/*
 * Ends one HTTP/2 stream with RST_STREAM (CANCEL) from outside h2o's callbacks (edge.send_timeout):
 * h2o 2.2.5 has no public call for it, and a generator may not h2o_send() again while a send of it
 * is pending, which is exactly the state of a stream stuck on flow control. Its own file: the
 * internal header it needs wants a shim (edge/h2o-internal/khash.h) on the include path.
 */
#include <h2o.h>
#include <h2o/http2.h>
#include <h2o/http2_internal.h>

#include "edge.h"

void rc_h2_stream_reset(h2o_req_t *req)
{
    h2o_http2_conn_t *conn = (h2o_http2_conn_t *)req->conn;
    h2o_http2_stream_t *stream = H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, req, req);
    /* h2o_http2_stream_reset() only closes the stream on this side (it serves streams the peer
     * reset): the peer is told first, as h2o itself does for a stream it refuses. */
    h2o_http2_encode_rst_stream_frame(&conn->_write.buf, stream->stream_id, -H2O_HTTP2_ERROR_CANCEL);
    h2o_http2_conn_request_write(conn);
    h2o_http2_stream_reset(conn, stream);
}
