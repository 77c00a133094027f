#!/usr/bin/env python3
"""Listens like systemd on a NOTIFY_SOCKET (AF_UNIX datagrams) for ringcast's ops tests.

    notify_listen.py SOCKET_PATH OUT_FILE

Appends one line per assignment received, "PID KEY=VALUE", PID being the sender's (from its
SCM_CREDENTIALS, as systemd checks NotifyAccess=), flushed at once so a test can poll the file.
"""
import os
import socket
import struct
import sys

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
if os.path.exists(path):
    os.unlink(path)
sock.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        data, anc, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                f.write("%d %s\n" % (pid, line))
