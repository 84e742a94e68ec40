#!/usr/bin/env python3
"""One REGISTER through a running siproxd-rs on loopback (used by smoke.sh).

A phone on 127.0.0.1 sends REGISTER for a registrar on 127.0.0.3 to the proxy's SIP port;
the fake registrar answers 200 OK to whoever forwarded it, and the phone must get that 200.
Prints one line and exits: PASS (0), FAIL (1), or SKIP (77) when the proxy does not
listen on its port or nothing at all came back within 2 s (proxy core not yet present).
"""
import os
import socket
import sys
import time

proxy_port = int(sys.argv[1])
reg_port = proxy_port + 1
phone_port = proxy_port + 2
PROXY = ("127.0.0.1", proxy_port)


def alive(pid):
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by the shell) counts as gone
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def listening(timeout, pid):
    """True once a datagram to the proxy port no longer draws ICMP port-unreachable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(PROXY)
        s.settimeout(0.2)
        try:
            s.send(b"\r\n\r\n")  # keepalive: shorter than any SIP message, ignored
            s.recv(100)
        except ConnectionRefusedError:
            time.sleep(0.1)
            continue
        except socket.timeout:
            return True
        finally:
            s.close()
        return True
    return False


def header(msg, name):
    for line in msg.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


# argv: PORT [STARTUP_TIMEOUT [PID of the proxy]]
startup = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
proxy_pid = int(sys.argv[3]) if len(sys.argv) > 3 else None
if not listening(startup, proxy_pid):
    why = "it exited" if not alive(proxy_pid) else "nothing listens on udp/%d" % proxy_port
    print("SKIP: proxy core not yet present (%s)" % why)
    sys.exit(77)

registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
registrar.bind(("127.0.0.3", reg_port))
registrar.setblocking(False)
phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
phone.bind(("127.0.0.1", phone_port))
phone.setblocking(False)

call_id = "smoke-%d@127.0.0.1" % proxy_port
register = (
    "REGISTER sip:127.0.0.3:%d SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-smoke-%d;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.3:%d>;tag=smoke1\r\n"
    "To: <sip:alice@127.0.0.3:%d>\r\n"
    "Call-ID: %s\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:alice@127.0.0.1:%d>\r\n"
    "Expires: 600\r\n"
    "Content-Length: 0\r\n\r\n"
) % (reg_port, phone_port, proxy_port, reg_port, reg_port, call_id, phone_port)

got_register = None
response = None
deadline = time.monotonic() + 2.0
next_send = 0.0
while time.monotonic() < deadline and response is None:
    now = time.monotonic()
    if now >= next_send:  # SIP T1-style retransmission while nothing came back
        phone.sendto(register.encode(), PROXY)
        next_send = now + 0.5
    try:
        data, src = registrar.recvfrom(65535)
        msg = data.decode("latin-1")
        if msg.startswith("REGISTER ") and header(msg, "Call-ID") == call_id:
            got_register = msg
            head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
            vias = "".join("%s\r\n" % l for l in head if l.lower().startswith(("via:", "v:")))
            ok = (
                "SIP/2.0 200 OK\r\n%s"
                "From: %s\r\nTo: %s;tag=reg1\r\nCall-ID: %s\r\nCSeq: 1 REGISTER\r\n"
                "Contact: %s;expires=600\r\nContent-Length: 0\r\n\r\n"
            ) % (vias, header(msg, "From"), header(msg, "To"), call_id, header(msg, "Contact"))
            registrar.sendto(ok.encode(), src)
    except BlockingIOError:
        pass
    try:
        data, src = phone.recvfrom(65535)
        msg = data.decode("latin-1")
        if header(msg, "Call-ID") == call_id:
            response = msg
    except BlockingIOError:
        time.sleep(0.01)

if got_register is None and response is None:
    print("SKIP: proxy core not yet present (no response within 2 s)")
    sys.exit(77)
if got_register is None:
    print("FAIL: REGISTER not forwarded to the registrar; phone got: %r" % response.split("\r\n")[0])
    sys.exit(1)
if response is None:
    print("FAIL: registrar saw the REGISTER but its 200 OK never reached the phone")
    sys.exit(1)
if not response.startswith("SIP/2.0 200 "):
    print("FAIL: phone got %r instead of 200 OK" % response.split("\r\n")[0])
    sys.exit(1)
vias = [l for l in response.split("\r\n") if l.lower().startswith(("via:", "v:"))]
if len(vias) != 1 or "z9hG4bK-smoke-%d" % proxy_port not in vias[0]:
    print("FAIL: 200 OK reached the phone with Via headers %r (proxy Via not removed?)" % vias)
    sys.exit(1)
print("PASS: REGISTER forwarded and 200 OK returned through the proxy")
