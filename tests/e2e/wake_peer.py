#!/usr/bin/env python3
"""A hostile local peer of a running ringcast-bridge's wake socket (<ring.dir>/bridge.sock).

    wake_peer.py SOCKET CASE [HOLD_SECONDS]

Connects the way an edge worker does, but passes what an edge never would, and prints one line
"CASE<TAB>what the bridge did". Cases:

  pipe       the write end of a full pipe, made blocking again: a write to it would never return
  many       65 eventfds on one connection, one message each (an edge passes 1; the bridge keeps 64)
  burst      20 descriptors in one message (the bridge reads at most 8 at once)
  saturate   an eventfd, then its counter filled and O_NONBLOCK cleared on it: a write would block
  flood      300 connections at once (the bridge keeps 256)

"closed" means the bridge ended the connection (EOF), "open" that it is still open after the
bridge had time to answer. With HOLD_SECONDS the peer then keeps its connections (and its full
pipe, its saturated eventfd) open that long, so a test can check the bridge still streams.
"""
import fcntl
import os
import socket
import sys
import time

PATH, CASE = sys.argv[1], sys.argv[2]
HOLD = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(PATH)
    return s


def state(s, wait=2.0):
    """closed if the bridge ended the connection within wait seconds, else open."""
    s.settimeout(wait)
    try:
        return "closed" if s.recv(1) == b"" else "data"
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "closed"


def eventfd(nonblock=True):
    return os.eventfd(0, os.EFD_NONBLOCK if nonblock else 0)


keep = []
if CASE == "pipe":
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    s = connect()
    socket.send_fds(s, [b"w"], [w])
    print("pipe\t" + state(s))
    keep += [s, r, w]
elif CASE == "many":
    s = connect()
    fds = [eventfd() for _ in range(65)]
    for fd in fds:
        socket.send_fds(s, [b"w"], [fd])
    time.sleep(1.5)  # the bridge services its socket at least every tick
    print("many\t" + state(s, 0.5))
    keep += [s] + fds
elif CASE == "burst":
    s = connect()
    fds = [eventfd() for _ in range(20)]
    socket.send_fds(s, [b"w"], fds)
    print("burst\t" + state(s))
    keep += [s] + fds
elif CASE == "saturate":
    s = connect()
    fd = eventfd()
    socket.send_fds(s, [b"w"], [fd])
    time.sleep(1.5)
    os.eventfd_write(fd, 0xFFFFFFFFFFFFFFFE)  # the counter's maximum: adding 1 would block
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    print("saturate\t" + state(s, 0.5))
    keep += [s, fd]
elif CASE == "flood":
    conns = [connect() for _ in range(300)]
    time.sleep(1.5)
    closed = 0
    for c in conns:  # without waiting: the bridge answered each one during the sleep
        c.setblocking(False)
        try:
            closed += c.recv(1) == b""
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    print("flood\t%d closed" % closed)
    keep += conns
else:
    sys.exit("unknown case " + CASE)
sys.stdout.flush()
time.sleep(HOLD)
