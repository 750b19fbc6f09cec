"""Processes and listening sockets, read from /proc (no ss or psutil needed on a fresh machine)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path


def _stat_field(pid: int, index: int) -> int | None:
    """Field ``index`` after the command name in /proc/<pid>/stat (the name may hold spaces)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[index])
    except (OSError, IndexError, ValueError):
        return None


def pgrp(pid: int) -> int | None:
    """The process group of ``pid``; None if it is gone."""
    return _stat_field(pid, 2)


def ppid(pid: int) -> int | None:
    """The parent of ``pid``; None if it is gone."""
    return _stat_field(pid, 1)


def all_pids() -> list[int]:
    """Every process running now."""
    return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()]


def listening() -> dict[int, tuple[str, int]]:
    """Socket inode -> (address, port) of every TCP socket in LISTEN state."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A":
                continue
            addr_hex, port_hex = f[1].split(":")
            if len(addr_hex) == 8:
                addr = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr_hex)[::-1])
            else:
                raw = bytes.fromhex(addr_hex)
                addr = socket.inet_ntop(
                    socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                )
            out[int(f[9])] = (addr, int(port_hex, 16))
    return out


def sockets_of(pids: set[int]) -> set[tuple[str, int]]:
    """The (address, port) pairs the given processes listen on."""
    table = listening()
    found = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if inode in table:
                    found.add(table[inode])
    return found


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """TERM a process started with ``start_new_session=True`` and everything in its group, then KILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def rss_mib(pids: list[int]) -> float:
    """Resident memory of these processes together, in MiB (a process that is gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (its main thread's list)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
