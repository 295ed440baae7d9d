#!/usr/bin/env python3
"""An Engine API server that runs nothing and answers at once: what the docker CLI's
`run --rm IMAGE CMD` costs by itself, the floor under any engine's time (bench/api.sh).

It answers exactly the requests that command makes, in the order it makes them: `_ping`
(HEAD, then GET), `containers/create`, `attach` (hijacked, closed when the container
"starts"), `wait?condition=removed` (its headers at once, its body, exit code 0, when the
container "starts") and `start`.
Anything else gets a 404. Usage: instant_engine.py SOCKET_PATH (serves until killed).
"""

import asyncio
import json
import os
import sys
import uuid

VERSION = "1.49"
started = {}  # container id -> asyncio.Event set by its start


def event_for(cid):
    return started.setdefault(cid, asyncio.Event())


def response(status, reason, body=b"", ctype="application/json", head=False):
    headers = [
        f"HTTP/1.1 {status} {reason}",
        f"Api-Version: {VERSION}",
        "Ostype: linux",
        "Server: instant-engine",
        f"Content-Type: {ctype}",
        f"Content-Length: {len(body)}",
    ]
    out = ("\r\n".join(headers) + "\r\n\r\n").encode()
    return out if head else out + body


async def handle(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, target, _ = line.decode().split(" ", 2)
            length = 0
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b""):
                    break
                name, _, value = h.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            path = target.split("?")[0].rstrip("/")
            parts = path.split("/")
            if path.endswith("/_ping"):
                writer.write(response(200, "OK", b"OK", "text/plain", head=method == "HEAD"))
            elif path.endswith("/containers/create"):
                cid = uuid.uuid4().hex + uuid.uuid4().hex
                event_for(cid)
                body = json.dumps({"Id": cid, "Warnings": []}).encode()
                writer.write(response(201, "Created", body))
            elif len(parts) >= 2 and parts[-1] == "attach":
                writer.write(
                    b"HTTP/1.1 101 UPGRADED\r\n"
                    b"Content-Type: application/vnd.docker.raw-stream\r\n"
                    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                )
                await writer.drain()
                await event_for(parts[-2]).wait()
                return
            elif len(parts) >= 2 and parts[-1] == "wait":
                # The CLI sends its start once this answer's headers are in, as dockerd
                # sends them at once; the body follows when the container has gone.
                writer.write(
                    f"HTTP/1.1 200 OK\r\nApi-Version: {VERSION}\r\n"
                    "Content-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n".encode()
                )
                await writer.drain()
                await event_for(parts[-2]).wait()
                started.pop(parts[-2], None)
                body = b'{"StatusCode":0}\n'
                writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            elif len(parts) >= 2 and parts[-1] == "start":
                event_for(parts[-2]).set()
                writer.write(response(204, "No Content"))
            else:
                body = json.dumps({"message": f"instant engine: no {method} {path}"}).encode()
                writer.write(response(404, "Not Found", body))
            await writer.drain()
    except (ConnectionError, ValueError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(sock):
    if os.path.exists(sock):
        os.unlink(sock)
    server = await asyncio.start_unix_server(handle, sock)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
