import re

_LINE = re.compile(r'(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) (\d+|-)(?:\s.*)?')


def parse_access_line(line: str) -> dict | None:
    """Parse one line of a web server access log (common log format)."""
    match = _LINE.fullmatch(line.rstrip("\n"))
    if not match:
        return None
    ip, time, method, path, status, size = match.groups()
    return {
        "ip": ip,
        "time": time,
        "method": method,
        "path": path,
        "status": int(status),
        "size": 0 if size == "-" else int(size),
    }
