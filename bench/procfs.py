"""What Linux accounts for a process: CPU time, resident memory, listening sockets (`/proc`)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
LISTEN = "0A"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime and stime, fields 14 and 15


def children_cpu_seconds() -> float:
    """CPU time of this process's children that have been waited for (wrk, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _status_kib(pid: int, field: str) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(f"{field} not in /proc/{pid}/status")


def rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The high-water mark of the resident set since the process started."""
    return _status_kib(pid, "VmHWM")


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        path = PROC / "net" / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(fields[9])
    return inodes


def listens_on(pid: int, port: int) -> bool:
    """True when this very process holds a socket listening on `port` (one of several workers, say)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    try:
        links = [os.readlink(fd) for fd in (PROC / str(pid) / "fd").iterdir()]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(link.startswith("socket:[") and link[8:-1] in inodes for link in links)


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all CPUs added up."""
    fields = [int(value) for value in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    total = sum(fields)
    return (total - idle) / TICKS, total / TICKS
