"""`keygate serve --workers N`: uvicorn's supervisor, with a listening socket per worker.

uvicorn's `Multiprocess` hands one socket to every worker, and whichever wakes first takes a
whole burst: 64 connections opened at once were split 60/4 between two workers, leaving one
core mostly idle (README, Performance). That measurement is the one reason this is not plain
uvicorn: here each worker accepts on a socket of its own, all bound to one address with
SO_REUSEPORT, so that the kernel spreads new connections over the workers evenly. Everything
else is uvicorn's: its health pings (a worker that does not answer within
`timeout_worker_healthcheck` is killed and replaced), SIGHUP (each worker replaced once its
successor is ready), SIGTTIN/SIGTTOU, and SIGINT/SIGTERM (every worker stops gracefully).

Each socket lives as long as the supervisor: a worker that dies is replaced on the same
socket, so the connections waiting in its queue are served by the replacement.

SO_REUSEPORT would also let a second server share the port unnoticed, so `port_in_use` is
asked first (docs/contract.md §6)."""

import errno
import logging
import socket

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger("uvicorn.error")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_in_use(host: str, port: int) -> bool:
    """Whether another socket already listens on host:port: a bind without SO_REUSEPORT fails
    then (SO_REUSEADDR only forgives connections of the past, in TIME_WAIT)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class SocketPerWorker(Multiprocess):
    """uvicorn's supervisor where the worker at index i always accepts on socket i; only the
    places where uvicorn starts a worker are overridden, to give it its own socket."""

    def __init__(self, config: Config, worker_sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=[])
        self.worker_sockets = worker_sockets
        self.startup_failed = False

    def _start(self, index: int) -> Process:
        process = Process(self.config, [self.worker_sockets[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        log.info(
            "Uvicorn running on http://%s:%d (Press CTRL+C to quit)",
            self.config.host,
            self.config.port,
        )
        self.processes = [self._start(index) for index in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung or dead: uvicorn's ping went unanswered
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # The next worker would fail alike (the app, settings or socket are wrong).
                log.error("Child process [%s] failed to start, stopping", process.pid)
                self.startup_failed = True
                self.should_exit.set()
                return
            log.info("Child process [%s] died; starting another on its socket", process.pid)
            self.processes[index] = self._start(index)

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced on its socket once its successor is ready."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error("Child process [%s] was not ready in time; restart stopped", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def handle_ttin(self) -> None:
        log.info("Received SIGTTIN, increasing the number of processes.")
        self.worker_sockets.append(reuse_port_socket(self.config.host, self.config.port))
        self.processes_num += 1
        self.processes.append(self._start(len(self.processes)))

    def handle_ttou(self) -> None:
        log.info("Received SIGTTOU, decreasing the number of processes.")
        if self.processes_num <= 1:
            return
        self.processes_num -= 1
        process = self.processes.pop()
        process.terminate()
        process.join()
        self.worker_sockets.pop().close()

    def close_sockets(self) -> None:
        for sock in self.worker_sockets:
            sock.close()


def serve_workers(config: Config, worker_sockets: list[socket.socket]) -> int:
    """Serves until SIGINT or SIGTERM; returns the exit status (STARTUP_FAILURE when a worker
    could not start: the next one would fail alike)."""
    supervisor = SocketPerWorker(config, worker_sockets)
    try:
        supervisor.run()
    finally:
        supervisor.close_sockets()
    return STARTUP_FAILURE if supervisor.startup_failed else 0
