#!/usr/bin/env python3
"""Clients that stop reading, for ringcast's edge.send_timeout and memory tests.

  stall_client.py h1 PORT PATH [LAST_EVENT_ID ...]
      One HTTP/1.1 stream per id given (or one without), each on a socket with a 4 KiB receive
      buffer, sent the request and then never read. Prints "open N" once every request is sent,
      then waits until it is killed.
  stall_client.py h2 PORT PATH SECONDS
      One h2c connection whose SETTINGS grant a window of 0 bytes: the edge may send HEADERS but
      no DATA, so the stream's first send never completes. The connection itself is read. Prints
      the stream's fate, "rst_stream 1 CODE" (exit 0) or "no reset" (exit 1) after SECONDS.
"""
import socket
import struct
import sys
import time

HOST = "127.0.0.1"


def h1(port, path, ids):
    socks = []
    for last in ids or [None]:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((HOST, port))
        req = "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n" % (path, HOST, port)
        if last:
            req += "Last-Event-ID: %s\r\n" % last
        s.sendall((req + "\r\n").encode())
        socks.append(s)
    print("open %d" % len(socks), flush=True)
    while True:
        time.sleep(3600)


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def hpack_literal(name, value):
    # Literal header field without indexing, new name (RFC 7541 6.2.2); short strings only.
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2(port, path, seconds):
    s = socket.create_connection((HOST, port))
    settings = frame(4, 0, 0, struct.pack(">HI", 4, 0))  # SETTINGS_INITIAL_WINDOW_SIZE = 0
    block = (hpack_literal(b":method", b"GET") + hpack_literal(b":scheme", b"http") +
             hpack_literal(b":path", path.encode()) + hpack_literal(b":authority", b"%s:%d" % (HOST.encode(), port)))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + settings + frame(1, 0x5, 1, block))  # END_STREAM|END_HEADERS
    buf = b""
    end = time.time() + seconds
    s.settimeout(0.5)
    while time.time() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            length = struct.unpack(">I", b"\x00" + buf[:3])[0]
            if len(buf) < 9 + length:
                break
            ftype, flags, sid = buf[3], buf[4], struct.unpack(">I", buf[5:9])[0] & 0x7FFFFFFF
            payload = buf[9:9 + length]
            buf = buf[9 + length:]
            if ftype == 4 and not flags & 1:
                s.sendall(frame(4, 1, 0))  # ACK their SETTINGS; never a WINDOW_UPDATE
            if ftype == 3 and sid == 1:
                print("rst_stream 1 %d" % struct.unpack(">I", payload)[0], flush=True)
                return 0
            if ftype == 0 and sid == 1 and length:
                print("data on a window of 0: %d bytes" % length, flush=True)
                return 1
    print("no reset", flush=True)
    return 1


if __name__ == "__main__":
    mode, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "h1":
        h1(port, path, sys.argv[4:])
    else:
        sys.exit(h2(port, path, float(sys.argv[4])))
