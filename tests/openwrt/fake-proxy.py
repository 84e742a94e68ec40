#!/usr/bin/env python3
"""A minimal stateless SIP forwarder, only to self-test sip-register.py (run.sh): requests
from 127.0.0.1:PORT get our Via and go to the Request-URI host:port from 127.0.0.2:PORT;
responses there lose our Via and go to the next Via's host:port. With "broken" it drops
every response instead, so the test must FAIL."""
import re
import select
import socket
import sys

port = int(sys.argv[1])
broken = len(sys.argv) > 2 and sys.argv[2] == "broken"
inb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
inb.bind(("127.0.0.1", port))
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out.bind(("127.0.0.2", port))
MYVIA = "Via: SIP/2.0/UDP 127.0.0.2:%d;branch=z9hG4bK-fakeproxy\r\n" % port
while True:
    ready, _, _ = select.select([inb, out], [], [])
    for s in ready:
        msg = s.recv(65535).decode("latin-1")
        if len(msg) < 16:
            continue
        if not msg.startswith("SIP/2.0 "):
            m = re.match(r"\S+ sip:(?:[^@]+@)?([\d.]+):(\d+)", msg)
            line, rest = msg.split("\r\n", 1)
            out.sendto((line + "\r\n" + MYVIA + rest).encode(), (m.group(1), int(m.group(2))))
        elif not broken:
            msg = msg.replace(MYVIA, "", 1)
            m = re.search(r"Via: SIP/2.0/UDP ([\d.]+):(\d+)", msg)
            inb.sendto(msg.encode(), (m.group(1), int(m.group(2))))
