#!/usr/bin/env python3
"""A Python ssl peer for tlsengine's interop tests (tests/test_interop_matrix.cpp).

  peer.py server [--cert F --key F] [--ca F] [--request-cert] [--alpn a,b]
                 [--min-version V] [--max-version V]
    Listens on 127.0.0.1 (a free port), prints {"event":"listening","port":N}, then one
    {"event":"secure",...} line per connection, and echoes what it receives until the
    client's close_notify, which it answers with its own.

  peer.py client --port N [--host H] [--servername S] [--ca F] [--cert F --key F]
                 [--alpn a,b] [--min-version V] [--max-version V]
                 [--message TEXT | --http PATH] [--resume] [--timeout SECONDS]
    Sends the message and waits for it to come back (an echo server may greet first),
    or sends an HTTP/1.1 GET and reads to the end; with --resume connects again offering
    the first connection's session. Prints one {"event":"result",...} line per
    connection; exits 0 when every exchange worked.
"""
import argparse
import json
import socket
import ssl
import sys
import threading

VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def configure(ctx, a):
    if a.min_version:
        ctx.minimum_version = VERSIONS[a.min_version]
    if a.max_version:
        ctx.maximum_version = VERSIONS[a.max_version]
    if a.alpn:
        ctx.set_alpn_protocols(a.alpn.split(","))


def serve_one(conn):
    try:
        cert = conn.getpeercert() or {}
        cn = ""
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    cn = value
        emit({"event": "secure", "protocol": conn.version(),
              "alpn": conn.selected_alpn_protocol() or "", "reused": conn.session_reused,
              "client": cn})
        while True:
            data = conn.recv(16384)
            if not data:  # the client's close_notify (SSLEOFError otherwise)
                break
            conn.sendall(data)
        conn.unwrap()  # our close_notify in answer
    except (OSError, ssl.SSLError) as e:
        emit({"event": "socket-error", "message": str(e)})
    finally:
        conn.close()


def server(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.request_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(a.ca)
    configure(ctx, a)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    emit({"event": "listening", "port": listener.getsockname()[1]})
    while True:
        raw, _ = listener.accept()
        raw.settimeout(20)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            emit({"event": "tls-client-error", "message": str(e)})
            raw.close()
            continue
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def client_context(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(a.ca)
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    configure(ctx, a)
    return ctx


def connect_once(a, ctx, index, session):
    message = a.message.encode()
    result = {"event": "result", "connection": index, "ok": False, "why": ""}
    received = b""
    try:
        with socket.create_connection((a.host, a.port), timeout=a.timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=a.servername, session=session) as conn:
                result.update(protocol=conn.version(), alpn=conn.selected_alpn_protocol() or "")
                if a.http:
                    conn.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                                  % a.http).encode())
                    while True:
                        data = conn.recv(16384)
                        if not data:
                            break
                        received += data
                    ok = received.startswith(b"HTTP/1.1 200")
                else:
                    conn.sendall(message)
                    while message not in received:
                        data = conn.recv(16384)
                        if not data:
                            break
                        received += data
                    ok = message in received
                result.update(reused=conn.session_reused, ok=ok)
                session = conn.session  # TLS 1.3 tickets arrived with the data
                if not a.http:
                    conn.unwrap()  # close_notify both ways
    except (OSError, ssl.SSLError) as e:
        result["why"] = str(e)
        session = None
    result["received"] = received.decode("utf-8", "replace")
    emit(result)
    return result["ok"], session


def client(a):
    ctx = client_context(a)  # a session resumes only with the context that made it
    ok, session = connect_once(a, ctx, 0, None)
    if ok and a.resume:
        if session is None:
            emit({"event": "result", "connection": 1, "ok": False, "why": "no session"})
            ok = False
        else:
            ok, _ = connect_once(a, ctx, 1, session)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["server", "client"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--servername", default="localhost")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--request-cert", action="store_true")
    p.add_argument("--alpn")
    p.add_argument("--min-version")
    p.add_argument("--max-version")
    p.add_argument("--message", default="hello from python\n")
    p.add_argument("--http")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()
    if a.mode == "server":
        server(a)
        return 0
    return client(a)


if __name__ == "__main__":
    sys.exit(main())
