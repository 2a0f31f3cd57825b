"""A one-node Slurm cluster of real daemons in a temporary folder, for tests.

munged (as user munge, with its own key), slurmctld and `slurmd -N localhost` start by
hand as in ../shared/reference/platform.md, on free ports (two test sessions on one
machine do not meet), with the daemons in a zone other than UTC (gridwait must not depend
on the controller's zone). `stop` cancels what still runs and ends the daemons by PID.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SBIN = "/usr/sbin:/sbin"
DAEMON_TZ = "<+0530>-5:30"
"""The daemons' zone (UTC+05:30, written POSIX-style: no tzdata needed)."""
BINARIES = ("sbatch", "squeue", "scontrol", "scancel", "sacct", "sinfo")
DAEMONS = ("munged", "slurmctld", "slurmd")


def missing() -> str | None:
    """Why a cluster cannot be started here, or None."""
    path = f"{os.environ.get('PATH', '')}:{SBIN}"
    absent = [name for name in (*BINARIES, *DAEMONS) if shutil.which(name, path=path) is None]
    if absent:
        return (
            f"Slurm is not installed ({', '.join(absent)} missing; `make test` installs it as root)"
        )
    if os.geteuid() != 0:
        return "the Slurm daemons are started as root (SlurmUser=root, munged as user munge)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no user munge (the munge package creates it)"
    return None


def _free_ports() -> tuple[int, int]:
    """Two distinct ports free on 127.0.0.1 now (both held while choosing)."""
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        return int(first.getsockname()[1]), int(second.getsockname()[1])


def _config(folder: Path) -> str:
    cpus = max(1, min(2, os.cpu_count() or 1))
    controller, node = _free_ports()
    return f"""\
ClusterName=gwtest
SlurmctldHost=localhost
SlurmctldPort={controller}
SlurmdPort={node}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge/munge.socket.2
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool/%n
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={folder}/jobcomp.txt
ReturnToService=2
MinJobAge=300
MpiDefault=none
DefMemPerCPU=100
NodeName=localhost CPUs={cpus} RealMemory={100 * cpus} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def start_cluster(attempts: int = 2) -> SlurmCluster:
    """A started cluster; one more try on a fresh folder and ports if the first fails (a
    port chosen free can be taken before the daemon binds it). RuntimeError with the
    daemons' logs if every try fails."""
    for attempt in range(1, attempts + 1):
        cluster = SlurmCluster()
        try:
            cluster.start()
        except RuntimeError:
            cluster.stop()
            if attempt == attempts:
                raise
        else:
            return cluster
    raise AssertionError("unreachable")


class SlurmCluster:
    def __init__(self) -> None:
        # in /tmp, not TMPDIR or pytest's 0700 folders: user munge must reach its socket,
        # and a socket's path has at most 107 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="gw-slurm-", dir="/tmp"))
        self.folder.chmod(0o755)
        self.conf = self.folder / "slurm.conf"
        self.env = {
            **os.environ,
            "PATH": f"{os.environ.get('PATH', '')}:{SBIN}",
            "SLURM_CONF": str(self.conf),
            "TZ": DAEMON_TZ,
        }

    def start(self, timeout: float = 30.0) -> None:
        """Start the three daemons and wait until the node is idle; RuntimeError with
        the daemons' log tails if it is not within `timeout` seconds."""
        munge = self.folder / "munge"
        for sub in (munge, self.folder / "state", self.folder / "spool" / "localhost"):
            sub.mkdir(parents=True)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(128))
        key.chmod(0o400)
        user = pwd.getpwnam("munge")
        for path in (munge, key):
            os.chown(path, user.pw_uid, user.pw_gid)
        self.conf.write_text(_config(self.folder))
        self._daemon(
            "runuser",
            "-u",
            "munge",
            "--",
            "munged",
            f"--socket={munge}/munge.socket.2",
            f"--key-file={key}",
            f"--pid-file={munge}/munged.pid",
            f"--log-file={munge}/munged.log",
            f"--seed-file={munge}/munged.seed",
        )
        self._daemon("slurmctld", "-f", str(self.conf))
        self._daemon("slurmd", "-f", str(self.conf), "-N", "localhost")
        self._wait_idle(timeout)

    def stop(self) -> None:
        """Cancel every job, end the daemons by PID (TERM, then KILL), remove the folder."""
        if self.conf.exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._command("scancel", "--user=root")
                self._wait(lambda: not self._command("squeue", "-h", "-t", "R,CG"), 10)
        for name in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid"):
            with contextlib.suppress(OSError, ValueError):
                _end(int((self.folder / name).read_text().split()[0]))
        shutil.rmtree(self.folder, ignore_errors=True)

    def logs(self, lines: int = 15) -> str:
        parts = []
        for name in ("munge/munged.log", "slurmctld.log", "slurmd.log"):
            path = self.folder / name
            text = path.read_text(errors="replace") if path.exists() else "(no log)\n"
            parts.append(f"--- {name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    def _daemon(self, *args: str) -> None:
        """Run a daemon that forks itself away; it must say it started."""
        done = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=30, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:5])} exited {done.returncode}: {done.stderr.strip()}\n"
                + self.logs()
            )

    def _command(self, *args: str) -> str:
        done = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    def _wait_idle(self, timeout: float) -> None:
        if not self._wait(
            lambda: self._command("sinfo", "-h", "-N", "-o", "%T") == "idle", timeout
        ):
            state = self._command("sinfo", "-h", "-N", "-o", "%T %E") or "(no answer)"
            raise RuntimeError(
                f"the Slurm node is not idle after {timeout:g} s (sinfo: {state})\n" + self.logs()
            )

    @staticmethod
    def _wait(condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.2)
        return False


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z"


def _end(pid: int, grace: float = 5.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if SlurmCluster._wait(lambda: not _alive(pid), grace):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    SlurmCluster._wait(lambda: not _alive(pid), grace)
