/*
 * The edge's short text answers (4xx, 5xx): one place, used by the worker and access control.
 */
#include <h2o.h>
#include <string.h>

#include "edge.h"

int rc_edge_reply(h2o_req_t *req, int status, const char *reason, const char *body)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_send_inline(req, body, strlen(body));
    return 0;
}
