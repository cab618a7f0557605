"""Convert .docx to PDF with a LibreOffice that stays running between documents.

A cold ``soffice --convert-to pdf`` pays 1.3-2 s of start-up for every document. A
:class:`PdfConverter` starts one headless LibreOffice with its own profile, keeps it, and
converts documents through a small UNO bridge script (``_uno_bridge.py``) that runs under a
Python able to ``import uno`` (Debian's ``/usr/bin/python3`` with ``python3-uno``).

One LibreOffice converts one document at a time, so a converter serialises its callers;
:class:`PdfConverterPool` keeps several, each with its own profile (LibreOffice processes that
share a profile fail silently)::

    with PdfConverterPool(size=2) as pool:
        pool.convert(Path("policy.docx"), Path("out/policy.pdf"))

Every result is checked (present, non-empty, starts with ``%PDF-``) and written atomically: a
failed conversion raises :class:`PdfConversionError` and never leaves a partial PDF behind.

LibreOffice never outlives the process that owns the converter. The office (``soffice.bin``
itself, not the ``oosplash`` launcher, which would leave its child behind) and the bridge are
started with a parent-death signal (util-linux ``setpriv --pdeathsig KILL``) from one thread
that lives as long as the process, because the kernel sends that signal when the *thread* that
forked the child exits, and converters are often started from short-lived pool threads. For
the moment between fork and that signal being armed, and for a machine where ``setpriv`` is
missing, every converter works in a directory under :data:`DEFAULT_WORK_ROOT` that records its
owner's pid and start time; :func:`reap_stale_converters` (the worker calls it at start) stops
the processes and removes the profiles and pipes of converters whose owner has died.

Why not ``unoserver`` (PyPI): measured side by side in ``bench/render.py`` it took 1.3-1.9x
as long per document and about 6 s to start (it sleeps 5 s before it serves) where this takes
1.2-2 s; it exits when its office dies or a conversion times out, and starts ``soffice``
through the launcher without a parent-death signal, so it would need all the process handling
here around it, and a second virtualenv, while replacing only the bridge.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import secrets
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from core.files import publish_file

log = logging.getLogger(__name__)

DEFAULT_SOFFICE = "/usr/bin/soffice"
DEFAULT_UNO_PYTHON = "/usr/bin/python3"
BRIDGE_SCRIPT = Path(__file__).with_name("_uno_bridge.py")
DEFAULT_START_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 5.0
DEFAULT_CONVERT_TIMEOUT = 60.0
COLD_CONVERT_TIMEOUT = 120.0
PDF_MAGIC = b"%PDF-"
# LibreOffice puts its named pipes here whatever TMPDIR says (sal's PIPEDEFAULTPATH)
LIBREOFFICE_PIPE_DIR = Path("/tmp")  # noqa: S108
# import filters by suffix: naming the filter turns a damaged .docx into a load error instead
# of letting type detection import its bytes as plain text and "succeed"
IMPORT_FILTERS = {
    ".docx": "MS Word 2007 XML",
    ".doc": "MS Word 97",
    ".odt": "writer8",
    ".rtf": "Rich Text Format",
}
# options for a LibreOffice nobody looks at: no window, no start centre, no recovery
# dialogue, no lock file check (each process has its own profile anyway)
HEADLESS_OPTIONS = ["--headless", "--invisible", "--nodefault", "--nologo", "--nolockcheck", "--norestore"]
# util-linux's setpriv arms PR_SET_PDEATHSIG and execs the office: no preexec_fn in a threaded worker
SETPRIV = "/usr/bin/setpriv"
# every converter's directory lives here, so a new owner can find what a dead one left
DEFAULT_WORK_ROOT = Path(tempfile.gettempdir()) / f"isms-pdf-{os.getuid()}"
OWNER_FILE = "owner.json"
OFFICE_FILE = "office.json"
# soffice.bin exits with this code to ask its launcher to start it again (on a fresh profile, once)
OFFICE_RESTART_EXIT_CODE = 81
MAX_OFFICE_RESTARTS = 3
REAP_WAIT_SECONDS = 5.0


class PdfConverterError(Exception):
    """Base class of the errors raised here."""


class LibreOfficeStartError(PdfConverterError):
    """LibreOffice or the UNO bridge could not be started (not installed, or it did not answer)."""


class PdfConversionError(PdfConverterError):
    """A document could not be converted; ``source`` names it and ``reason`` says why."""

    def __init__(self, source: Path, reason: str) -> None:
        super().__init__(f"could not convert {source} to PDF: {reason}")
        self.source = source
        self.reason = reason


class _BridgeGoneError(Exception):
    """The bridge process closed its output (it exited, or its office took it down)."""


class _OfficeExitedError(_BridgeGoneError):
    """soffice.bin exited while the bridge was waiting to connect to it."""


def _check_pdf(source: Path, path: Path) -> None:
    """Raise :class:`PdfConversionError` unless ``path`` holds something that starts like a PDF."""
    try:
        with path.open("rb") as pdf:
            head = pdf.read(len(PDF_MAGIC))
    except FileNotFoundError:
        raise PdfConversionError(source, "LibreOffice reported success but wrote no file") from None
    if not head:
        raise PdfConversionError(source, "LibreOffice wrote an empty file")
    if head != PDF_MAGIC:
        raise PdfConversionError(source, f"the output does not start with {PDF_MAGIC!r} but {head!r}")


def _partial_name(target: Path) -> Path:
    """A hidden sibling of ``target``: same directory, so the final rename is atomic."""
    return target.with_name(f".{target.stem}.{secrets.token_hex(6)}.partial.pdf")


def _tail(path: Path, *, lines: int = 10) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _live_group_members(pgid: int, *, exclude: int | None = None) -> list[int]:
    """Pids of the processes in group ``pgid`` that are still running (zombies excluded)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) == exclude:
            continue
        try:
            proc_stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        fields = proc_stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _stop_process_group(leader: subprocess.Popen[bytes], *, grace: float) -> None:
    """Stop the process group ``leader`` leads: SIGTERM, then SIGKILL after ``grace`` seconds.

    ``soffice`` is a launcher (oosplash) whose child soffice.bin does the work. The office
    processes are signalled before the launcher, so the launcher is alive to reap them and no
    zombie is handed to init; the launcher exits by itself once they are gone.
    """
    pgid = leader.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        signalled: set[int] = set()
        deadline = time.monotonic() + wait
        while True:
            leader_running = leader.poll() is None
            others = _live_group_members(pgid, exclude=pgid)
            if not leader_running and not others:
                return
            if time.monotonic() >= deadline:
                break
            targets = others or [pgid]  # the launcher is signalled only once it is alone
            for pid in targets:
                if pid not in signalled and (pid != pgid or leader_running):
                    _signal(pid, sig)
                    signalled.add(pid)
            time.sleep(0.05)
        log.warning("LibreOffice (process group %d) did not stop on %s", pgid, sig.name)
    log.error("LibreOffice (process group %d) survived SIGKILL", pgid)


def _pipe_files(pipe_name: str, profile_url: str) -> list[Path]:
    """The socket files LibreOffice creates for ``--accept=pipe`` and for its single-instance check.

    It removes them when it quits normally, not when it is killed. The single-instance pipe
    is named after an MD5 of the profile URL (UTF-16, each byte in hex without padding, as
    desktop/source/app/officeipcthread.cxx computes it); the profile is ours alone.
    """
    uid = os.getuid()
    digest = hashlib.md5(profile_url.encode("utf-16-le"), usedforsecurity=False).digest()
    single_instance = "SingleOfficeIPC_" + "".join(format(byte, "x") for byte in digest)
    return [LIBREOFFICE_PIPE_DIR / f"OSL_PIPE_{uid}_{name}" for name in (pipe_name, single_instance)]


def _bridge_environment() -> dict[str, str]:
    # the worker's interpreter settings must not leak into Debian's Python
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")}


def _office_environment() -> dict[str, str]:
    # what the soffice shell script sets on Linux before it execs the launcher
    return {**os.environ, "SAL_ENABLE_FILE_LOCKING": "1"}


def _office_binary(soffice: str) -> str:
    """``soffice.bin`` beside the script ``soffice`` resolves to, or ``soffice`` itself if there is none.

    ``/usr/bin/soffice`` is a shell script that execs ``oosplash``, which forks ``soffice.bin``:
    a parent-death signal on the launcher would not reach the office. Started directly, the
    office is the process that gets the signal (its first-start restart is handled here).
    """
    office = Path(soffice).resolve().with_name("soffice.bin")
    return str(office) if office.is_file() else soffice


def _die_with_owner() -> list[str]:
    """The argv prefix that makes a child get SIGKILL when its parent thread dies (empty without setpriv)."""
    if Path(SETPRIV).is_file():
        return [SETPRIV, "--pdeathsig", "KILL", "--"]
    log.warning("%s is missing (util-linux): LibreOffice may outlive a killed worker until reaped", SETPRIV)
    return []


class _Spawner:
    """Starts child processes from one daemon thread that lives as long as the process.

    PR_SET_PDEATHSIG fires when the thread that forked the child exits, not the process: a
    converter started from a pool thread (``PdfConverterPool.start``, an activity thread)
    would lose its office when that thread ended. Children forked here lose theirs only when
    the whole process goes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._requests: queue.SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]], Future[Any]]] = (
            queue.SimpleQueue()
        )

    def spawn(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # none yet, or gone in a fork
                self._requests = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._serve, name="pdf-office-spawner", daemon=True)
                self._thread.start()
            future: Future[subprocess.Popen[bytes]] = Future()
            self._requests.put((start, future))
        return future.result()

    def _serve(self) -> None:
        requests = self._requests
        while True:
            start, future = requests.get()
            try:
                future.set_result(start())
            except BaseException as error:
                future.set_exception(error)


_spawner = _Spawner()


def _process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (tells a pid from its reuse), or None if gone."""
    try:
        fields = Path("/proc", str(pid), "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _claim_directory(work_root: Path) -> Path:
    """A new converter directory under ``work_root`` that names this process as its owner."""
    work_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    found = work_root.lstat()
    # in a shared /tmp, someone else could have made it first (or made it a link)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        raise LibreOfficeStartError(f"{work_root} is not a directory of this user's: remove it")
    root = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=work_root))
    owner = {"pid": os.getpid(), "start_ticks": _process_start_ticks(os.getpid())}
    (root / OWNER_FILE).write_text(json.dumps(owner))
    return root


def _owner_of(directory: Path) -> tuple[int, int | None] | None:
    """The (pid, start ticks) that own a converter directory; None if it does not look like one."""
    try:
        owner = json.loads((directory / OWNER_FILE).read_text())
        return int(owner["pid"]), (int(owner["start_ticks"]) if owner.get("start_ticks") else None)
    except FileNotFoundError:
        pass  # made by mkdtemp a moment ago, or its owner died before writing: the name says who
    except (OSError, ValueError, KeyError, TypeError):
        return None
    pid, _, _ = directory.name.partition("-")
    return (int(pid), None) if pid.isdigit() else None


def _owner_alive(pid: int, start_ticks: int | None) -> bool:
    ticks = _process_start_ticks(pid)
    return ticks is not None and (start_ticks is None or ticks == start_ticks)


def _processes_using(directory: Path) -> list[int]:
    """Live processes whose command line names ``directory`` (the office's profile) or whose cwd is in it."""
    marks = (str(directory) + "/", directory.as_uri() + "/")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path("/proc", entry, "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        uses = any(mark in arg for arg in argv for mark in marks) or (cwd + "/").startswith(marks[0])
        if uses and _process_start_ticks(int(entry)) is not None:
            found.append(int(entry))
    return found


@dataclass(frozen=True)
class ReapedConverter:
    """A converter directory whose owner had died: the processes stopped and the directory removed."""

    directory: Path
    owner_pid: int
    killed: list[int]


def reap_stale_converters(work_root: Path = DEFAULT_WORK_ROOT) -> list[ReapedConverter]:
    """Stop what converters left behind by a dead owner, and remove their profiles and pipes.

    A converter directory under ``work_root`` records its owner (pid and start time). For each
    one whose owner no longer runs, every process still using it (its LibreOffice, its bridge)
    is killed, its LibreOffice pipes in /tmp are removed, and so is the directory. Converters
    of live processes, this one's included, are left alone, so any number of workers and test
    runs can share ``work_root``. Returns what was reaped.
    """
    reaped: list[ReapedConverter] = []
    try:
        entries = sorted(work_root.iterdir())
    except FileNotFoundError:
        return reaped
    for directory in entries:
        owner = _owner_of(directory) if directory.is_dir() and not directory.is_symlink() else None
        if owner is None or _owner_alive(*owner):
            continue
        killed = _processes_using(directory)
        for pid in killed:
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + REAP_WAIT_SECONDS
        while any(_process_start_ticks(pid) is not None for pid in killed) and time.monotonic() < deadline:
            time.sleep(0.05)
        for office_file in directory.glob(f"office-*/{OFFICE_FILE}"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                office = json.loads(office_file.read_text())
                _remove_sockets(_pipe_files(str(office["pipe"]), str(office["profile_url"])))
        shutil.rmtree(directory, ignore_errors=True)
        log.warning(
            "removed the PDF converter %s left by process %d, which has died (stopped %s)",
            directory,
            owner[0],
            ", ".join(map(str, killed)) or "nothing still running",
        )
        reaped.append(ReapedConverter(directory=directory, owner_pid=owner[0], killed=killed))
    return reaped


def _remove_sockets(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()


class _Office:
    """One running soffice and the bridge connected to it."""

    def __init__(
        self,
        *,
        workdir: Path,
        soffice: str,
        python: str,
        start_timeout: float,
        stop_timeout: float,
    ) -> None:
        self.workdir = workdir
        self.profile = workdir / "profile"
        self.profile_url = self.profile.as_uri()
        self.pipe_name = f"isms-pdf-{secrets.token_hex(8)}"
        self.soffice_log = workdir / "soffice.log"
        self.bridge_log = workdir / "bridge.log"
        self.stop_timeout = stop_timeout
        self._buffer = b""
        # what the reaper needs to remove this office's pipes if its owner dies without closing it
        (workdir / OFFICE_FILE).write_text(
            json.dumps({"pipe": self.pipe_name, "profile_url": self.profile_url})
        )
        self._soffice_binary = _office_binary(soffice)
        self.soffice = self._spawn_soffice(self._soffice_binary)
        try:
            self.bridge = self._spawn_bridge(python, start_timeout=start_timeout)
        except BaseException:
            _stop_process_group(self.soffice, grace=self.stop_timeout)
            self._remove_pipes()
            raise
        try:
            self._wait_until_ready(start_timeout=start_timeout)
        except BaseException:
            self.stop(graceful=False)
            raise

    def _spawn_soffice(self, soffice: str) -> subprocess.Popen[bytes]:
        argv = [
            soffice,
            f"-env:UserInstallation={self.profile_url}",
            *HEADLESS_OPTIONS,
            f"--accept=pipe,name={self.pipe_name};urp;StarOffice.ComponentContext",
        ]
        with self.soffice_log.open("ab") as output:
            try:
                return _spawner.spawn(
                    lambda: subprocess.Popen(
                        [*_die_with_owner(), *argv],
                        stdin=subprocess.DEVNULL,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        cwd=self.workdir,
                        env=_office_environment(),
                        start_new_session=True,  # its own process group, which close() stops as a whole
                    )
                )
            except OSError as error:
                raise LibreOfficeStartError(
                    f"cannot run {soffice} ({error}): install LibreOffice (Debian: libreoffice-writer-nogui)"
                ) from error

    def _spawn_bridge(self, python: str, *, start_timeout: float) -> subprocess.Popen[bytes]:
        argv = [
            python,
            str(BRIDGE_SCRIPT),
            "--connect",
            f"uno:pipe,name={self.pipe_name};urp;StarOffice.ComponentContext",
            "--timeout",
            str(start_timeout),
        ]
        with self.bridge_log.open("ab") as errors:
            try:
                return _spawner.spawn(
                    lambda: subprocess.Popen(
                        [*_die_with_owner(), *argv],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=errors,
                        bufsize=0,
                        cwd=self.workdir,
                        env=_bridge_environment(),
                    )
                )
            except OSError as error:
                raise LibreOfficeStartError(
                    f"cannot run {python} ({error}): the UNO bridge needs a Python with python3-uno"
                ) from error

    @property
    def pid(self) -> int:
        return self.soffice.pid

    def alive(self) -> bool:
        return self.soffice.poll() is None and self.bridge.poll() is None

    def responds(self) -> bool:
        """True if the office still answers a trivial call through the bridge."""
        try:
            return bool(self.request({"op": "ping"}, timeout=self.stop_timeout).get("ok"))
        except (TimeoutError, _BridgeGoneError):
            return False

    def _wait_until_ready(self, *, start_timeout: float) -> None:
        # the bridge retries its connection for start_timeout: allow it to say so itself
        deadline = time.monotonic() + start_timeout + 5
        restarts = 0
        try:
            while True:
                try:
                    message = self._read_message(deadline, watch_soffice=True)
                    break
                except _OfficeExitedError:
                    # what oosplash does: soffice.bin asks to be started again after it has set
                    # up a fresh profile; the bridge is still retrying its connection meanwhile
                    if self.soffice.returncode != OFFICE_RESTART_EXIT_CODE or restarts >= MAX_OFFICE_RESTARTS:
                        raise
                    restarts += 1
                    self.soffice = self._spawn_soffice(self._soffice_binary)
        except TimeoutError:
            raise LibreOfficeStartError(
                f"LibreOffice did not accept a UNO connection within {start_timeout:g} s\n"
                f"{_tail(self.soffice_log)}"
            ) from None
        except _BridgeGoneError as gone:
            raise LibreOfficeStartError(f"LibreOffice did not start: {gone}") from None
        if not message.get("ready"):
            raise LibreOfficeStartError(
                f"the UNO bridge could not connect: {message.get('error')}\n{_tail(self.bridge_log)}"
            )

    def _read_message(self, deadline: float, *, watch_soffice: bool = False) -> dict[str, Any]:
        """The next JSON line from the bridge, waiting until ``deadline`` (``time.monotonic``)."""
        assert self.bridge.stdout is not None
        fd = self.bridge.stdout.fileno()
        poller = select.poll()  # not select.select: a busy worker's descriptors can pass 1024
        poller.register(fd, select.POLLIN)
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if poller.poll(min(remaining, 0.1) * 1000):
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise _BridgeGoneError(
                        f"the UNO bridge exited with code {self.bridge.wait()}\n{_tail(self.bridge_log)}"
                    )
                self._buffer += chunk
            elif watch_soffice and self.soffice.poll() is not None:
                raise _OfficeExitedError(
                    f"soffice exited with code {self.soffice.returncode}\n{_tail(self.soffice_log)}"
                )
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise _BridgeGoneError(f"the UNO bridge sent {line!r}")
        return message

    def request(self, message: dict[str, str], *, timeout: float) -> dict[str, Any]:
        """Send one request and wait for its answer; raises TimeoutError or _BridgeGoneError."""
        stdin: IO[bytes] | None = self.bridge.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(message).encode() + b"\n")
            stdin.flush()
        except OSError as error:  # BrokenPipeError: the bridge has exited
            raise _BridgeGoneError(f"the UNO bridge is gone ({error})\n{_tail(self.bridge_log)}") from None
        return self._read_message(time.monotonic() + timeout)

    def stop(self, *, graceful: bool) -> None:
        """Stop the office and the bridge; ``graceful`` first asks LibreOffice to quit by itself.

        A LibreOffice that quits by itself removes its pipes; one that is signalled does not,
        so those are removed here.
        """
        try:
            if graceful and self.alive():
                try:
                    self.request({"op": "terminate"}, timeout=self.stop_timeout)
                    self.soffice.wait(timeout=self.stop_timeout)
                except (TimeoutError, subprocess.TimeoutExpired, _BridgeGoneError, ValueError) as error:
                    log.warning("LibreOffice (pid %d) did not quit when asked: %r", self.pid, error)
            self._stop_bridge(graceful=graceful)
            _stop_process_group(self.soffice, grace=self.stop_timeout)
        finally:
            self._remove_pipes()

    def _remove_pipes(self) -> None:
        _remove_sockets(_pipe_files(self.pipe_name, self.profile_url))

    def _stop_bridge(self, *, graceful: bool) -> None:
        if self.bridge.stdin is not None:
            with contextlib.suppress(OSError):
                self.bridge.stdin.close()
        if graceful:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.bridge.wait(timeout=self.stop_timeout)
        if self.bridge.poll() is None:
            self.bridge.kill()  # it may be stuck in a call into an office that hangs
            self.bridge.wait()
        if self.bridge.stdout is not None:
            self.bridge.stdout.close()


class PdfConverter:
    """One warm LibreOffice, with its own profile, converting one document at a time.

    ``convert`` is thread-safe: callers take turns. LibreOffice starts on ``start()`` (or on
    the first ``convert``) and stays up until ``close()``. If it has died, the next conversion
    starts a new one; if it dies during a conversion, the conversion is retried once on a new
    one. Use it as a context manager so its processes never outlive it::

        with PdfConverter() as converter:
            converter.convert(Path("policy.docx"), Path("policy.pdf"))

    ``soffice`` is the LibreOffice launcher (the office binary beside it is started directly),
    ``python`` an interpreter that can ``import uno``, ``work_root`` the directory shared with
    :func:`reap_stale_converters` where each converter keeps its profile and names its owner.
    """

    def __init__(
        self,
        *,
        soffice: str | Path = DEFAULT_SOFFICE,
        python: str | Path = DEFAULT_UNO_PYTHON,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        work_root: Path = DEFAULT_WORK_ROOT,
    ) -> None:
        self._work_root = work_root
        self._soffice = str(soffice)
        self._python = str(python)
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._lock = threading.Lock()
        self._office: _Office | None = None
        self._root: Path | None = None
        self._launches = 0
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The pid of the running soffice launcher, which leads the office's process group."""
        office = self._office
        return office.pid if office is not None else None

    @property
    def profile_dir(self) -> Path | None:
        """The running office's own LibreOffice profile (removed on close), for diagnostics."""
        office = self._office
        return office.profile if office is not None else None

    def start(self) -> Self:
        """Start LibreOffice now (instead of on the first conversion); waits until it answers."""
        with self._lock:
            self._ensure_office()
        return self

    def close(self) -> None:
        """Stop LibreOffice and the bridge and remove the profile. Idempotent."""
        with self._lock:
            self._closed = True
            try:
                self._discard_office(graceful=True)
            finally:
                if self._root is not None:
                    shutil.rmtree(self._root, ignore_errors=True)
                    self._root = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()  # __exit__ does not run when __enter__ fails
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def convert(self, source: Path, target: Path, *, timeout: float = DEFAULT_CONVERT_TIMEOUT) -> Path:
        """Convert ``source`` to the PDF ``target`` (replaced if present) and return ``target``.

        ``timeout`` bounds LibreOffice's work on this document; one that takes longer is given
        up and its LibreOffice restarted. Raises :class:`PdfConversionError` naming ``source``
        if it is missing or LibreOffice cannot turn it into a PDF, and
        :class:`LibreOfficeStartError` if LibreOffice cannot be started.
        """
        source = source.absolute()
        target = target.absolute()
        if not source.is_file():
            raise PdfConversionError(source, "the file does not exist")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = _partial_name(target)
        started = time.monotonic()
        with self._lock:
            if self._closed:
                raise PdfConverterError("this PdfConverter is closed")
            try:
                self._convert_with_one_restart(source, partial, timeout=timeout)
                _check_pdf(source, partial)
                publish_file(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        log.debug("converted %s in %.0f ms", source, (time.monotonic() - started) * 1000)
        return target

    def _convert_with_one_restart(self, source: Path, partial: Path, *, timeout: float) -> None:
        request = {"source": str(source), "target": str(partial)}
        import_filter = IMPORT_FILTERS.get(source.suffix.lower())
        if import_filter is not None:
            request["import_filter"] = import_filter
        for attempt in (1, 2):
            office = self._ensure_office()
            try:
                reply = office.request(request, timeout=timeout)
            except TimeoutError:
                self._discard_office(graceful=False)
                raise PdfConversionError(source, f"LibreOffice did not finish within {timeout:g} s") from None
            except _BridgeGoneError as gone:
                reply = {"ok": False, "error": str(gone), "office_lost": True}
            if reply.get("ok"):
                return
            # a crash can surface as any UNO error, before soffice has even exited: only an office
            # that still answers makes the failure the document's
            if not reply.get("office_lost") and office.alive() and office.responds():
                raise PdfConversionError(source, str(reply.get("error")))
            self._discard_office(graceful=False)
            if attempt == 2:
                raise PdfConversionError(source, f"LibreOffice died twice: {reply.get('error')}")
            log.warning(
                "LibreOffice died converting %s (%s); retrying on a new one", source, reply.get("error")
            )

    def _ensure_office(self) -> _Office:
        """The running office, starting one if there is none or the last one died. Holds the lock."""
        if self._closed:
            raise PdfConverterError("this PdfConverter is closed")
        if self._office is not None and not self._office.alive():
            log.warning("LibreOffice (pid %d) has died; starting a new one", self._office.pid)
            self._discard_office(graceful=False)
        if self._office is None:
            if self._root is None:
                self._root = _claim_directory(self._work_root)
            self._launches += 1
            # a fresh profile for every launch: one left by a killed office may be inconsistent
            workdir = self._root / f"office-{self._launches}"
            workdir.mkdir()
            started = time.monotonic()
            try:
                self._office = _Office(
                    workdir=workdir,
                    soffice=self._soffice,
                    python=self._python,
                    start_timeout=self._start_timeout,
                    stop_timeout=self._stop_timeout,
                )
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            log.info(
                "LibreOffice started (pid %d) in %.0f ms",
                self._office.pid,
                (time.monotonic() - started) * 1000,
            )
        return self._office

    def _discard_office(self, *, graceful: bool) -> None:
        office, self._office = self._office, None
        if office is None:
            return
        try:
            office.stop(graceful=graceful)
        finally:
            shutil.rmtree(office.workdir, ignore_errors=True)


class PdfConverterPool:
    """``size`` :class:`PdfConverter` s for parallel conversions; ``convert`` uses a free one.

    A caller that finds every converter busy waits for one. Options are passed to each
    converter. Start it, or use it as a context manager, to pay LibreOffice's start-up
    before the first document.
    """

    def __init__(
        self,
        size: int = 1,
        *,
        soffice: str | Path = DEFAULT_SOFFICE,
        python: str | Path = DEFAULT_UNO_PYTHON,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        work_root: Path = DEFAULT_WORK_ROOT,
    ) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one converter, not {size}")
        self.converters = [
            PdfConverter(
                soffice=soffice,
                python=python,
                start_timeout=start_timeout,
                stop_timeout=stop_timeout,
                work_root=work_root,
            )
            for _ in range(size)
        ]
        self._idle: queue.SimpleQueue[PdfConverter] = queue.SimpleQueue()
        for converter in self.converters:
            self._idle.put(converter)

    def start(self) -> Self:
        """Start every converter's LibreOffice, in parallel; on a failure, stop them all."""
        with ThreadPoolExecutor(max_workers=len(self.converters), thread_name_prefix="pdf-start") as starter:
            futures = [starter.submit(converter.start) for converter in self.converters]
        try:
            for future in futures:
                future.result()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close every converter (each waits for its conversion in progress)."""
        errors: list[BaseException] = []
        for converter in self.converters:
            try:
                converter.close()
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def convert(self, source: Path, target: Path, *, timeout: float = DEFAULT_CONVERT_TIMEOUT) -> Path:
        """Convert on the next free converter; see :meth:`PdfConverter.convert`."""
        converter = self._idle.get()
        try:
            return converter.convert(source, target, timeout=timeout)
        finally:
            self._idle.put(converter)


def convert_cold(
    source: Path,
    out_dir: Path,
    *,
    soffice: str | Path = DEFAULT_SOFFICE,
    timeout: float = COLD_CONVERT_TIMEOUT,
) -> Path:
    """Convert ``source`` with one ``soffice --convert-to pdf`` run; returns ``out_dir/<stem>.pdf``.

    The baseline the warm converter is measured against, and a fallback that needs no UNO
    Python. Each run gets a fresh profile, and its office dies with the calling process.
    ``soffice`` exits 0 even when it cannot load the document, so the result is checked like
    the warm converter's.
    """
    source = source.absolute()
    out_dir = out_dir.absolute()
    if not source.is_file():
        raise PdfConversionError(source, "the file does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.stem}.pdf"
    import_filter = IMPORT_FILTERS.get(source.suffix.lower())
    with (
        tempfile.TemporaryDirectory(prefix="isms-pdf-cold-") as scratch,
        tempfile.TemporaryDirectory(prefix=".pdf-cold-", dir=out_dir) as staging,
    ):
        argv = [
            _office_binary(str(soffice)),  # not the launcher: see _office_binary
            f"-env:UserInstallation={Path(scratch, 'profile').as_uri()}",
            *HEADLESS_OPTIONS,
            *([f"--infilter={import_filter}"] if import_filter else []),
            "--convert-to",
            "pdf",
            "--outdir",
            staging,
            str(source),
        ]
        deadline = time.monotonic() + timeout
        output = b""
        for _ in range(1 + MAX_OFFICE_RESTARTS):  # the launcher's job: again after exit code 81
            try:
                process = _spawner.spawn(
                    lambda: subprocess.Popen(
                        [*_die_with_owner(), *argv],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        cwd=scratch,
                        env=_office_environment(),
                        start_new_session=True,
                    )
                )
            except OSError as error:
                raise LibreOfficeStartError(
                    f"cannot run {soffice} ({error}): install LibreOffice (Debian: libreoffice-writer-nogui)"
                ) from error
            try:
                printed, _ = process.communicate(timeout=max(deadline - time.monotonic(), 0.001))
                output += printed
            except subprocess.TimeoutExpired:
                _stop_process_group(process, grace=DEFAULT_STOP_TIMEOUT)
                process.communicate()
                raise PdfConversionError(source, f"soffice did not finish within {timeout:g} s") from None
            finally:
                if process.poll() is None:  # interrupted: do not leave it running
                    _stop_process_group(process, grace=DEFAULT_STOP_TIMEOUT)
            if process.returncode != OFFICE_RESTART_EXIT_CODE:
                break
        produced = Path(staging, target.name)
        try:
            _check_pdf(source, produced)
        except PdfConversionError as error:
            said = "; ".join(line for line in output.decode(errors="replace").splitlines() if line.strip())
            raise PdfConversionError(
                source, f"{error.reason} (soffice exit code {process.returncode}: {said})"
            ) from None
        publish_file(produced, target)
    return target
