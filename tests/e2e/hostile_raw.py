#!/usr/bin/env python3
"""Malformed HTTP/2 and HTTP/1.1 on a raw socket against a running ringcast-edge.

    hostile_raw.py PORT EDGE_MASTER_PID [CASE...]

Runs a catalogue of hostile inputs (listed in tests/RELIABILITY.md, "Hostile input"), one fresh
connection each, and prints one line per case: "pass<TAB>name<TAB>what happened" or
"fail<TAB>name<TAB>why". A case passes when the edge answered the way HTTP says it should (a
GOAWAY with the right error code, a RST_STREAM, a 4xx status, a clean close, or the input
ignored and the connection still usable), the edge's workers are the same processes as before the
case (none died and was restarted), and a new, well-behaved client still gets a stream of events.
Every wait is bounded; nothing here asserts how fast the edge is.
"""
import os
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
MASTER = int(sys.argv[2])
ONLY = set(sys.argv[3:])
WAIT = float(os.environ.get("HOSTILE_WAIT", "3"))  # seconds to wait for an answer that should come
PATH = "/streams/s"

# --- processes ----------------------------------------------------------------------------------


def workers():
    """PIDs of the edge master's children (its workers), from /proc."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the ")" that closes the command name, which may hold spaces.
        if int(stat[stat.rindex(")") + 2:].split()[1]) == MASTER:
            kids.append(int(d))
    return sorted(kids)


def rss_kib(pids):
    """Resident memory of the workers together, in KiB (reported with each case, not judged)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


# --- sockets ------------------------------------------------------------------------------------


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send(s, data):
    """Sends what the peer accepts; False once it closed or reset the connection."""
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        return False


def receive(s, done, wait=WAIT):
    """Reads until done(bytes) is true, the peer closes, or wait seconds pass (wait=0: only what
    already arrived). Returns (bytes, closed)."""
    out = b""
    end = time.monotonic() + wait
    try:
        while wait == 0 or not done(out):
            left = end - time.monotonic()
            if wait == 0:
                s.setblocking(False)
            elif left <= 0:
                return out, False
            else:
                s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except (socket.timeout, BlockingIOError):
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
        return out, False
    finally:
        s.settimeout(WAIT)


# --- HTTP/2 framing -----------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
          "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
          "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]


def frame(ftype, flags, sid, payload=b"", length=None):
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def settings(*pairs, flags=0, sid=0):
    return frame(SETTINGS, flags, sid, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def hpack_int(v, prefix_bits, first=0):
    """RFC 7541 5.1 integer with an N-bit prefix."""
    top = (1 << prefix_bits) - 1
    if v < top:
        return bytes([first | v])
    out = [first | top]
    v -= top
    while v >= 128:
        out.append(v % 128 + 128)
        v //= 128
    out.append(v)
    return bytes(out)


def hpack(headers):
    """Literal header fields without indexing, new names, no Huffman: valid and simple."""
    out = b""
    for name, value in headers:
        out += b"\x00" + hpack_int(len(name), 7) + name.encode() + hpack_int(len(value), 7) + value.encode()
    return out


def request_block(path=PATH + "?limit=2"):
    return hpack([(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "x"),
                  ("accept", "text/event-stream")])


def get(sid, path=PATH + "?limit=2"):
    return frame(HEADERS, END_HEADERS | END_STREAM, sid, request_block(path))


def parse(buf):
    """Complete frames in buf as (type, flags, sid, payload)."""
    frames, i = [], 0
    while len(buf) - i >= 9:
        n = int.from_bytes(buf[i:i + 3], "big")
        if len(buf) - i - 9 < n:
            break
        frames.append((buf[i + 3], buf[i + 4], int.from_bytes(buf[i + 5:i + 9], "big") & 0x7fffffff,
                       buf[i + 9:i + 9 + n]))
        i += 9 + n
    return frames


class H2:
    """What came back on an HTTP/2 connection."""

    def __init__(self, raw, closed):
        self.raw, self.closed = raw, closed
        self.frames = parse(raw)
        self.goaway = None
        self.rst = {}
        self.data = {}
        self.status = {}
        for t, fl, sid, p in self.frames:
            if t == GOAWAY and len(p) >= 8:
                self.goaway = int.from_bytes(p[4:8], "big")
            elif t == RST_STREAM and len(p) == 4:
                self.rst[sid] = int.from_bytes(p, "big")
            elif t == DATA:
                self.data[sid] = self.data.get(sid, b"") + p
            elif t == HEADERS and p:
                # h2o sends :status from the static table: 0x88 is 200, 0x8c 400, 0x8d 404.
                self.status[sid] = {0x88: 200, 0x89: 204, 0x8c: 400, 0x8d: 404, 0x8e: 500}.get(p[0], p[0])

    def events(self, sid):
        return self.data.get(sid, b"").count(b"\ndata: ") + self.data.get(sid, b"").startswith(b"data: ")

    def stream_done(self, sid):
        return any(t == DATA and s == sid and fl & END_STREAM for t, fl, s, _ in self.frames) or sid in self.rst

    def describe(self):
        parts = []
        if self.goaway is not None:
            parts.append("GOAWAY " + (ERRORS[self.goaway] if self.goaway < len(ERRORS) else str(self.goaway)))
        if len(self.rst) + len(self.status) > 4:  # a flood: counts, not every stream
            parts.append("%d streams answered 200, %d reset by the edge" % (
                sum(1 for v in self.status.values() if v == 200), len(self.rst)))
            self_rst, self_status = {}, {}
        else:
            self_rst, self_status = self.rst, self.status
        for sid, code in sorted(self_rst.items()):
            parts.append("RST_STREAM(%d) %s" % (sid, ERRORS[code] if code < len(ERRORS) else code))
        for sid, st in sorted(self_status.items()):
            parts.append("stream %d: %s, %d events" % (sid, st, self.events(sid)))
        parts.append("closed" if self.closed else "open")
        return ", ".join(parts)


def h2_session(extra=b""):
    s = connect()
    send(s, PREFACE + settings() + extra)
    return s


def h2_until(s, pred, wait=WAIT):
    raw, closed = receive(s, lambda b: pred(H2(b, False)), wait)
    return H2(raw, closed)


def goaway_or_closed(h):
    return h.goaway is not None


def conn_error(*codes):
    """The connection must end: a GOAWAY with one of codes (and no stream served), or a close."""
    def check(s, h):
        if h.goaway is None and not h.closed:
            h2 = h2_until(s, lambda x: x.goaway is not None)
            h = H2(h.raw + h2.raw, h2.closed)
        if h.goaway is None:
            return h.closed, h
        return h.goaway in codes, h
    return check


def h2_case(payload, expect, after=b"", wait=WAIT):
    """Sends preface, SETTINGS, payload; reads until a GOAWAY or close; judges with expect."""
    s = h2_session(payload)
    if after:
        send(s, after)
    h = h2_until(s, goaway_or_closed, wait)
    ok, h = expect(s, h)
    s.close()
    return ok, h.describe()


def still_usable(s, sid, already=b""):
    """A normal request on the same connection is served: the hostile frames were ignored."""
    if not send(s, get(sid)):
        return False, H2(already, True)
    h2 = h2_until(s, lambda x: x.stream_done(sid) or x.goaway is not None)
    h = H2(already + h2.raw, h2.closed)
    return h.status.get(sid) == 200 and h.events(sid) == 2, h


def ignored(payload, sid=1):
    s = h2_session(payload)
    ok, h = still_usable(s, sid)
    s.close()
    return ok and h.goaway is None, h.describe()


# --- the HTTP/2 catalogue -----------------------------------------------------------------------

H2_CASES = []


def h2c(name):
    def reg(fn):
        H2_CASES.append((name, fn))
        return fn
    return reg


@h2c("h2: frame longer than SETTINGS_MAX_FRAME_SIZE (16 MiB - 1 announced)")
def _():
    return h2_case(frame(HEADERS, END_HEADERS, 1, request_block(), length=0xffffff) + b"\x00" * 1000,
                   conn_error(6))


@h2c("h2: DATA frame of 20000 bytes (over the 16384 default)")
def _():
    return h2_case(frame(HEADERS, END_HEADERS, 1, request_block()) + frame(DATA, 0, 1, b"x" * 20000),
                   conn_error(6))


@h2c("h2: frame header cut short, then the peer waits")
def _():
    s = h2_session(b"\x00\x00\x10\x01")
    s.shutdown(socket.SHUT_WR)
    h = h2_until(s, lambda x: False)
    s.close()
    return h.closed, h.describe()


@h2c("h2: SETTINGS of 5 bytes (not a multiple of 6)")
def _():
    return h2_case(frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00"), conn_error(6))


@h2c("h2: SETTINGS ACK with a payload")
def _():
    return h2_case(settings((3, 100), flags=ACK), conn_error(6))


@h2c("h2: SETTINGS on stream 1")
def _():
    return h2_case(settings((3, 100), sid=1), conn_error(1))


@h2c("h2: SETTINGS_ENABLE_PUSH = 2")
def _():
    return h2_case(settings((2, 2)), conn_error(1))


@h2c("h2: SETTINGS_INITIAL_WINDOW_SIZE = 2^31")
def _():
    return h2_case(settings((4, 1 << 31)), conn_error(3))


@h2c("h2: SETTINGS_MAX_FRAME_SIZE = 100 (below 16384)")
def _():
    return h2_case(settings((5, 100)), conn_error(1))


@h2c("h2: SETTINGS_MAX_FRAME_SIZE = 2^24 (above 2^24-1)")
def _():
    return h2_case(settings((5, 1 << 24)), conn_error(1))


@h2c("h2: SETTINGS with unknown ids and extreme values (ignored)")
def _():
    return ignored(settings((0, 0), (0xffff, 0xffffffff), (1, 0xffffffff), (6, 0), (3, 0xffffffff)))


@h2c("h2: 10000 SETTINGS frames (each needs an ACK)")
def _():
    s = h2_session()
    ok_send = send(s, settings((3, 100)) * 10000)
    h = h2_until(s, lambda x: sum(1 for t, fl, _, _ in x.frames if t == SETTINGS and fl & ACK) >= 10001
                 or x.goaway is not None, wait=3 * WAIT)
    acks = sum(1 for t, fl, _, _ in h.frames if t == SETTINGS and fl & ACK)
    s.close()
    return (ok_send and acks >= 10001) or h.goaway is not None, h.describe() + ", %d ACKs" % acks


@h2c("h2: unknown frame types on stream 0 and 1 (ignored)")
def _():
    return ignored(frame(0xfa, 0xff, 0, b"junk" * 100) + frame(0x20, 0, 1, b"") + frame(0xff, 0, 7, b"x" * 16384),
                   sid=3)


@h2c("h2: HEADERS with HPACK index 0")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 1, b"\x80"), conn_error(9))


@h2c("h2: HEADERS with HPACK index past the tables")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 1, b"\xff\xff\xff\xff\x0f"), conn_error(9))


@h2c("h2: HEADERS with an HPACK integer that never ends")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 1, b"\x7f" + b"\xff" * 200), conn_error(9))


@h2c("h2: HEADERS with a literal longer than the frame")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 1, b"\x00\x7f\xff\x7fabc"), conn_error(9))


@h2c("h2: HEADERS with broken Huffman (EOS, bad padding)")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                         b"\x00\x84\xff\xff\xff\xff\x84\xfe\xff\xff\xff"), conn_error(9))


@h2c("h2: HEADERS with a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack_int(1 << 20, 5, 0x20) + request_block()),
                   conn_error(9))


@h2c("h2: HEADERS with padding longer than the frame")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, b"\xff" + request_block()), conn_error(1))


@h2c("h2: HEADERS without :path (malformed request)")
def _():
    s = h2_session(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                         hpack([(":method", "GET"), (":scheme", "http"), (":authority", "x")])))
    h = h2_until(s, lambda x: 1 in x.rst or 1 in x.status or x.goaway is not None)
    s.close()
    return 1 in h.rst or h.status.get(1) == 400 or h.goaway == 1, h.describe()


@h2c("h2: HEADERS on stream 0")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 0, request_block()), conn_error(1))


@h2c("h2: HEADERS on an even (server-initiated) stream id")
def _():
    return h2_case(frame(HEADERS, END_HEADERS | END_STREAM, 2, request_block()), conn_error(1))


@h2c("h2: HEADERS depending on itself (PRIORITY flag)")
def _():
    p = struct.pack(">IB", 1, 15) + request_block()
    s = h2_session(frame(HEADERS, END_HEADERS | END_STREAM | PRIO_FLAG, 1, p))
    h = h2_until(s, lambda x: 1 in x.rst or x.goaway is not None or x.stream_done(1))
    s.close()
    return h.rst.get(1) == 1 or h.goaway == 1, h.describe()


@h2c("h2: PRIORITY frame of 4 bytes")
def _():
    s = h2_session(frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00"))
    h = h2_until(s, lambda x: 1 in x.rst or x.goaway is not None)
    s.close()
    return h.rst.get(1) == 6 or h.goaway == 6, h.describe()


@h2c("h2: CONTINUATION flood (headers never end; up to 8 MiB)")
def _():
    s = h2_session(frame(HEADERS, END_STREAM, 1, request_block()))
    sent, chunk, got = 0, frame(CONTINUATION, 0, 1, b"\x00\x01a\x01b" * 200) * 64, b""
    while sent < 8 << 20 and send(s, chunk):
        sent += len(chunk)
        more, closed = receive(s, lambda b: True, wait=0)  # whatever already came back, without waiting
        got += more
        if closed or H2(got, False).goaway is not None:
            break
    h = h2_until(s, goaway_or_closed)
    h = H2(got + h.raw, h.closed)
    s.close()
    # h2o refuses header blocks past 8 KiB; when its GOAWAY arrives depends on the scheduler, so the
    # amount sent is reported, not judged.
    return h.goaway is not None or h.closed, h.describe() + ", %d KiB sent" % (sent >> 10)


@h2c("h2: CONTINUATION flood of empty frames (50000)")
def _():
    s = h2_session(frame(HEADERS, END_STREAM, 1, request_block()))
    done = send(s, frame(CONTINUATION, 0, 1) * 50000)
    h = h2_until(s, goaway_or_closed, wait=1)
    s.close()
    # Empty frames add no header bytes, so h2o 2.2.5 keeps waiting for the end of the headers (as it
    # would for a slow peer); what matters is that the worker stays up and keeps serving others.
    return True, h.describe() + (", all 50000 taken" if done else ", refused part way")


@h2c("h2: CONTINUATION without HEADERS")
def _():
    return h2_case(frame(CONTINUATION, END_HEADERS, 1, request_block()), conn_error(1))


@h2c("h2: HEADERS interrupted by another frame before CONTINUATION")
def _():
    return h2_case(frame(HEADERS, END_STREAM, 1, request_block()) + frame(PING, 0, 0, b"\x00" * 8), conn_error(1))


@h2c("h2: RST_STREAM flood (5000 requests opened and cancelled at once)")
def _():
    s = h2_session()
    burst = b"".join(get(sid, PATH) + frame(RST_STREAM, 0, sid, struct.pack(">I", 8)) for sid in range(1, 10001, 2))
    sent = send(s, burst)
    ok, h = still_usable(s, 10001)
    s.close()
    # Either it kept up and still serves, or it told us to calm down.
    return (sent and ok) or h.goaway == 11, h.describe()


@h2c("h2: RST_STREAM on an idle stream")
def _():
    return h2_case(frame(RST_STREAM, 0, 99, struct.pack(">I", 8)), conn_error(1))


@h2c("h2: RST_STREAM of 3 bytes")
def _():
    return h2_case(get(1, PATH) + frame(RST_STREAM, 0, 1, b"\x00\x00\x08"), conn_error(6))


@h2c("h2: WINDOW_UPDATE overflowing the connection window")
def _():
    return h2_case(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff)) * 2, conn_error(3))


@h2c("h2: WINDOW_UPDATE overflowing a stream window")
def _():
    s = h2_session(get(1, PATH + "?timeout=2") + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7fffffff)) * 2)
    h = h2_until(s, lambda x: 1 in x.rst or x.goaway is not None)
    s.close()
    return h.rst.get(1) == 3 or h.goaway == 3, h.describe()


@h2c("h2: WINDOW_UPDATE with increment 0")
def _():
    return h2_case(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)), conn_error(1))


@h2c("h2: WINDOW_UPDATE of 3 bytes")
def _():
    return h2_case(frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"), conn_error(6))


@h2c("h2: PING flood (20000 PINGs, answers left unread)")
def _():
    s = h2_session()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sent = send(s, frame(PING, 0, 0, b"12345678") * 20000)
    s.close()
    # The edge must survive a peer that never reads; the checks after the case prove it did.
    return True, "sent %s" % ("all" if sent else "until the edge stopped reading")


@h2c("h2: PING of 7 bytes")
def _():
    return h2_case(frame(PING, 0, 0, b"1234567"), conn_error(6))


@h2c("h2: PING on stream 1")
def _():
    return h2_case(frame(PING, 0, 1, b"12345678"), conn_error(1))


@h2c("h2: stream id reused after the stream ended")
def _():
    s = h2_session(get(1))
    first = h2_until(s, lambda x: x.stream_done(1))
    send(s, get(1))
    h = h2_until(s, goaway_or_closed)
    s.close()
    return first.events(1) == 2 and (h.goaway in (1, 5) or h.closed), h.describe()


@h2c("h2: stream ids going down (3, then 1)")
def _():
    return h2_case(get(3) + get(1), conn_error(1, 5))


@h2c("h2: DATA on stream 0")
def _():
    return h2_case(frame(DATA, 0, 0, b"hello"), conn_error(1))


@h2c("h2: DATA on an idle stream")
def _():
    return h2_case(frame(DATA, 0, 5, b"hello"), conn_error(1, 5))


@h2c("h2: DATA after END_STREAM")
def _():
    s = h2_session(get(1, PATH + "?timeout=2") + frame(DATA, 0, 1, b"late"))
    h = h2_until(s, lambda x: 1 in x.rst or x.goaway is not None)
    s.close()
    return h.rst.get(1) == 5 or h.goaway in (1, 5), h.describe()


@h2c("h2: PUSH_PROMISE from the client")
def _():
    return h2_case(frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + request_block()), conn_error(1))


@h2c("h2: 300 concurrent streams (over SETTINGS_MAX_CONCURRENT_STREAMS)")
def _():
    s = h2_session(b"".join(get(sid, PATH + "?timeout=2") for sid in range(1, 601, 2)))
    h = h2_until(s, lambda x: len(x.status) + len(x.rst) >= 300 or x.goaway is not None, wait=3 * WAIT)
    s.close()
    refused = sum(1 for c in h.rst.values() if c in (1, 7))
    return len(h.status) + refused >= 300 or h.goaway is not None, \
        "%d streams answered 200, %d refused, %s" % (sum(1 for v in h.status.values() if v == 200), refused,
                                                       "GOAWAY" if h.goaway is not None else "no GOAWAY")


@h2c("h2: GOAWAY from the client, then a new stream")
def _():
    s = h2_session(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)) + get(1))
    h = h2_until(s, lambda x: x.stream_done(1) or x.goaway is not None or x.closed)
    s.close()
    return True, h.describe()  # either is fine; the checks after the case are the point


@h2c("h2: wrong preface")
def _():
    s = connect()
    send(s, b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings())
    raw, closed = receive(s, lambda b: False)
    s.close()
    return closed, "closed" if closed else "still open after %ss" % WAIT


@h2c("h2: random frames after the preface (200 connections)")
def _():
    import random
    rnd = random.Random(7)
    for _ in range(200):
        s = connect()
        body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(9, 300)))
        send(s, PREFACE + frame(rnd.randrange(12), rnd.randrange(256), rnd.randrange(8), body))
        receive(s, lambda b: False, wait=0.05)
        s.close()
    return True, "200 connections"


# --- HTTP/1.1 -----------------------------------------------------------------------------------


def h1(raw, wait=WAIT, until_close=False):
    """Sends raw bytes; returns (statuses seen, closed, bytes)."""
    s = connect()
    send(s, raw)
    out, closed = receive(s, (lambda b: False) if until_close else (lambda b: b"\r\n\r\n" in b), wait)
    if not closed and not until_close:
        more, closed = receive(s, lambda b: False, wait=0.3)
        out += more
    s.close()
    statuses = [int(line.split(b" ")[1]) for line in out.split(b"\r\n")
                if line.startswith(b"HTTP/1.1 ") and len(line.split(b" ")) > 1 and line.split(b" ")[1].isdigit()]
    return statuses, closed, out


H1_CASES = []


def h1c(name, raw, want, **kw):
    H1_CASES.append((name, raw, want, kw))


def first_is(*codes):
    return lambda st, closed, out: (bool(st) and st[0] in codes, "statuses %s, %s" % (st, "closed" if closed else "open"))


def once_then_closed(*codes):
    """One answer with one of codes, and the connection closed after it (RFC 9112 6.1, 6.3)."""
    return lambda st, closed, out: (len(st) == 1 and st[0] in codes and closed,
                                     "statuses %s, %s" % (st, "closed" if closed else "open"))


def refused_400_closed():
    """Exactly one answer, a 400 with a short text body saying why, and the connection closed: the
    bytes after the first body are never read as a request (RFC 9112 6.3)."""
    def check(st, closed, out):
        body = out.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in out else b""
        short = 0 < len(body) < 200 and b"text/plain" in out.split(b"\r\n\r\n", 1)[0].lower()
        return st == [400] and closed and short, "statuses %s, %s, body %r" % (
            st, "closed" if closed else "open", body[:100])
    return check


def refused_or_closed(*codes):
    return lambda st, closed, out: ((bool(st) and st[0] in codes) or (not st and closed),
                                     "statuses %s, %s" % (st, "closed" if closed else "open"))


GET = b"GET " + PATH.encode() + b"?limit=1 HTTP/1.1\r\nHost: x\r\n"
POST = b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
MARK = b"zq9"  # the body of every smuggling case: tests/e2e/edge_hostile.sh checks Kafka never got it
SMUGGLED = b"GET " + PATH.encode() + b"?limit=1&key=smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

h1c("h1: POST with Content-Length and Transfer-Encoding (CL.TE smuggling shape)",
    POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, refused_400_closed(),
    until_close=True)
h1c("h1: GET with Content-Length and Transfer-Encoding (CL.TE smuggling shape)",
    GET + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, once_then_closed(400),
    until_close=True)
h1c("h1: Transfer-Encoding: chunked with a second, obfuscated TE (TE.TE shape)",
    POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n5c\r\n"
    + SMUGGLED + b"\r\n0\r\n\r\n", refused_or_closed(400, 201, 413, 415, 501))
h1c("h1: POST with two different Content-Length headers, a request hidden behind the first",
    POST + b"Content-Length: 3\r\nContent-Length: %d\r\n\r\n%s" % (3 + len(SMUGGLED), MARK) + SMUGGLED,
    refused_400_closed(), until_close=True)
h1c("h1: POST with two different Content-Length headers, the larger first (the body holds a request)",
    POST + b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n%s" % (3 + len(SMUGGLED), MARK) + SMUGGLED,
    refused_400_closed(), until_close=True)
h1c("h1: POST with Transfer-Encoding first, then Content-Length (TE.CL smuggling shape)",
    POST + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\n%s\r\n0\r\n\r\n" % MARK + SMUGGLED,
    refused_400_closed(), until_close=True)
h1c("h1: POST with a Content-Length list (3, %d)" % (3 + len(SMUGGLED)),
    POST + b"Content-Length: 3, %d\r\n\r\n%s" % (3 + len(SMUGGLED), MARK) + SMUGGLED, refused_400_closed(),
    until_close=True)
h1c("h1: POST with two Transfer-Encoding: chunked headers",
    POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n%s\r\n0\r\n\r\n" % MARK
    + SMUGGLED, refused_400_closed(), until_close=True)
h1c("h1: POST with whitespace before the colon of Content-Length",
    POST + b"Content-Length : %d\r\n\r\n%s" % (3 + len(SMUGGLED), MARK) + SMUGGLED, refused_400_closed(),
    until_close=True)
h1c("h1: POST with the same Content-Length twice is one request (RFC 9110 8.6)",
    POST.replace(b" HTTP/1.1", b"?key=same-length-twice HTTP/1.1") + b"Content-Length: 4\r\nContent-Length: 4\r\n"
    b"Connection: close\r\n\r\ntwin", first_is(201), until_close=True)
h1c("h1: GET with two different Content-Length headers, a request hidden behind the first",
    GET + b"Content-Length: 3\r\nContent-Length: %d\r\n\r\nabc" % (3 + len(SMUGGLED)) + SMUGGLED,
    once_then_closed(400), until_close=True)
h1c("h1: GET with Content-Length 0 then a larger one, a request hidden behind",
    GET + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, once_then_closed(400),
    until_close=True)
h1c("h1: Content-Length with a sign (+3)", POST + b"Content-Length: +3\r\n\r\nabc", refused_or_closed(400))
h1c("h1: negative Content-Length", POST + b"Content-Length: -1\r\n\r\nabc", refused_or_closed(400))
h1c("h1: Content-Length past 2^64", POST + b"Content-Length: 99999999999999999999999\r\n\r\nabc",
    refused_or_closed(400, 413))
h1c("h1: chunk size that is not hex", POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    refused_or_closed(400))
h1c("h1: chunk size past 2^64", POST + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\nabc\r\n",
    refused_or_closed(400, 413))
h1c("h1: negative chunk size", POST + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n",
    refused_or_closed(400))
h1c("h1: chunk longer than announced", POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n",
    refused_or_closed(400))
h1c("h1: chunk with a 100 KiB extension", POST + b"Transfer-Encoding: chunked\r\n\r\n3;" + b"e" * 102400
    + b"\r\nabc\r\n0\r\n\r\n", refused_or_closed(400, 413, 201))
h1c("h1: obs-fold continuation line in a header", GET + b"X-Folded: a\r\n  b\r\nAccept: text/event-stream\r\n\r\n",
    refused_or_closed(400, 200))
h1c("h1: obs-fold as the first header line", b"GET " + PATH.encode() + b"?limit=1 HTTP/1.1\r\n  Host: x\r\n\r\n",
    refused_or_closed(400, 200))
h1c("h1: NUL in the request line", b"GET /streams/s\x00x?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    refused_or_closed(400, 404))
h1c("h1: NUL in a header name", GET + b"X-\x00Bad: y\r\n\r\n", refused_or_closed(400))
h1c("h1: NUL in a header value", GET + b"X-Bad: y\x00z\r\n\r\n", refused_or_closed(400))
h1c("h1: NUL in Last-Event-ID", GET + b"Last-Event-ID: AAAA\x00B\r\n\r\n", refused_or_closed(400, 200))
h1c("h1: NUL and CR in the method", b"G\x00E\rT " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    refused_or_closed(400, 405))
h1c("h1: request line of 100 KiB", b"GET /streams/s?limit=1&key=" + b"k" * 102400 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    refused_or_closed(400, 413, 414, 431))
h1c("h1: header line of 100 KiB", GET + b"X-Long: " + b"v" * 102400 + b"\r\n\r\n",
    refused_or_closed(200, 400, 413, 431))
h1c("h1: 10000 headers", GET + b"".join(b"X-%d: y\r\n" % i for i in range(10000)) + b"\r\n",
    refused_or_closed(400, 413, 431))
h1c("h1: bare LF line endings", b"GET " + PATH.encode() + b"?limit=1 HTTP/1.1\nHost: x\nAccept: */*\n\n",
    refused_or_closed(400, 200))
h1c("h1: bare CR line endings", b"GET " + PATH.encode() + b"?limit=1 HTTP/1.1\rHost: x\r\r", refused_or_closed(400))
h1c("h1: HTTP/9.9", b"GET " + PATH.encode() + b"?limit=1 HTTP/9.9\r\nHost: x\r\n\r\n", refused_or_closed(400, 505))
h1c("h1: absolute-form target with another host",
    b"GET http://evil.invalid" + PATH.encode() + b"?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    refused_or_closed(200, 400, 404))
h1c("h1: path with ../ and %2e%2e", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    refused_or_closed(400, 403, 404))
h1c("h1: CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", refused_or_closed(400, 404, 405))
h1c("h1: Upgrade: h2c with a broken HTTP2-Settings",
    GET + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: !!!!\r\n\r\n",
    refused_or_closed(400, 200, 101))
h1c("h1: Expect: 100-continue with a 1 GiB body, then nothing",
    POST + b"Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n", refused_or_closed(413, 100, 400))
h1c("h1: 1000 pipelined requests in one write", (GET + b"\r\n") * 999 + GET + b"Connection: close\r\n\r\n",
    lambda st, closed, out: (st == [200] * 1000, "%d answers, %d of them 200, %s" % (
        len(st), st.count(200), "closed" if closed else "open")), until_close=True, wait=3 * WAIT)


def slowloris():
    """50 connections trickle a request's headers one byte per 0.5 s: a normal client is served all
    the while, and the edge closes every one of them (h2o's request timeout, 10 s by default) within
    a generous bound of 30 s."""
    start = time.monotonic()
    conns = []
    for i in range(50):
        s = connect()
        send(s, b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        conns.append(s)
    served, ticks, open_ = 0, 0, set(range(50))
    while open_ and time.monotonic() - start < 30:
        for k in list(open_):
            more, closed = receive(conns[k], lambda b: True, wait=0)
            if closed or more or not send(conns[k], b"X"):
                open_.discard(k)  # closed, or answered (an error status) and then closed
        time.sleep(0.5)
        ticks += 1
        if ticks <= 6:
            served += normal_client()[0]
    took = time.monotonic() - start
    for s in conns:
        s.close()
    return served == 6 and not open_, \
        "a normal client was served %d times of 6 while 50 partial requests were held; " \
        "%d of them still open after %.0f s" % (served, len(open_), took)


# --- after every case ---------------------------------------------------------------------------


def normal_client():
    """A well-behaved HTTP/1.1 client streams 3 events."""
    try:
        st, closed, out = h1(GET.replace(b"limit=1", b"limit=3") + b"Connection: close\r\n\r\n", until_close=True)
    except OSError as e:
        return False, "normal client: %s" % e
    n = out.count(b"\ndata: ")
    return st == [200] and n == 3, "normal client: %s, %d events" % (st, n)


def main():
    before = workers()
    if not before:
        print("fail\tsetup\tno workers under pid %d" % MASTER)
        return 1
    cases = [(name, fn) for name, fn in H2_CASES]
    for name, raw, want, kw in H1_CASES:
        cases.append((name, (lambda raw=raw, want=want, kw=kw: want(*h1(raw, **kw)))))
    cases.append(("h1: slowloris, 50 connections trickling partial headers, all closed by the edge", slowloris))
    failed = 0
    for name, fn in cases:
        if ONLY and name not in ONLY:
            continue
        rss_before = rss_kib(before)
        try:
            ok, detail = fn()
        except OSError as e:
            ok, detail = False, "socket error: %s" % e
        now = workers()
        alive = now == before
        served, how = normal_client()
        verdict = ok and alive and served
        if not alive:
            detail += "; workers changed: %s -> %s" % (before, now)
        detail += "; %s; workers' RSS %.1f -> %.1f MiB" % (how, rss_before / 1024, rss_kib(before) / 1024)
        print("%s\t%s\t%s" % ("pass" if verdict else "fail", name, detail.replace("\t", " ")), flush=True)
        failed += not verdict
    print("done\t%d cases\t%d failed" % (len(cases), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
