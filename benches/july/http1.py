"""What the July replay's generator and report share: the nearest-rank percentile and a minimal
HTTP/1.x response reader for asyncio streams (used by load.py's open and capacity modes).
Standard library only.
"""

import asyncio


def pct(values, q):
    """Nearest-rank percentile of a list (q in 0..1); None for an empty list."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q * len(s) + 0.5)) - 1))
    return s[k]


class ProtocolError(Exception):
    pass


async def read_response(reader: asyncio.StreamReader, method: str = "GET"):
    """Reads one HTTP/1.x response; returns (status, headers, body_len)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ProtocolError(lines[0])
    status = int(parts[1])
    headers = {}
    for ln in lines[1:]:
        if ln:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, headers, 0
    if "chunked" in headers.get("transfer-encoding", "").lower():
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                # trailers until an empty line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return status, headers, total
            await reader.readexactly(size + 2)
            total += size
    if "content-length" in headers:
        n = int(headers["content-length"])
        await reader.readexactly(n)
        return status, headers, n
    body = await reader.read()  # until the server closes
    return status, headers, len(body)
