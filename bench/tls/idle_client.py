#!/usr/bin/env python3
"""bench/tls/idle_client.py HOST PORT CONNS [MAX_HOLD_S]

bench/compare's tls_idle client.  Opens CONNS TLS connections to
HOST:PORT (TLS 1.2 or 1.3, the certificate not verified, no session
offered: each one a full handshake), 64 handshakes at a time; on each,
one HTTP/1.1 keep-alive request, its answer read whole, so that every
connection has reached the target through the balancer; then holds them
all open and idle.  Prints "ready HELD FAILED VERSION CIPHER" (those of
the first connection up) once every connection is up or has failed,
then waits until it is killed (SIGTERM) or MAX_HOLD_S (default 120) have
passed; the connections close when it exits.
"""
import asyncio
import resource
import ssl
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
TIMEOUT_S = 15
negotiated = []


async def open_one(host, port, ctx, sem, held):
    async with sem:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx, server_hostname=None), TIMEOUT_S)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            return
        try:
            writer.write(REQUEST)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await asyncio.wait_for(reader.readexactly(length), TIMEOUT_S)
            if head.startswith(b"HTTP/1.1 200 "):
                if not held:
                    tls = writer.get_extra_info("ssl_object")
                    negotiated.extend([tls.version(), tls.cipher()[0]])
                held.append(writer)
                return
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ssl.SSLError, ValueError):
            pass
        writer.close()


async def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.strip().splitlines()[0])
    host, port, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    hold = float(sys.argv[4]) if len(sys.argv) == 5 else 120.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = conns + 64
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    sem = asyncio.Semaphore(64)
    held = []
    await asyncio.gather(*(open_one(host, port, ctx, sem, held) for _ in range(conns)))
    version, cipher = negotiated if negotiated else ("none", "none")
    print(f"ready {len(held)} {conns - len(held)} {version} {cipher}", flush=True)
    await asyncio.sleep(hold)


if __name__ == "__main__":
    asyncio.run(main())
