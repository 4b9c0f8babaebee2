"""`keygate serve --workers N`: N uvicorn workers, each accepting connections on a listening
socket of its own, all bound to one address with SO_REUSEPORT, so that the kernel spreads new
connections over the workers evenly. uvicorn's own supervisor shares one socket between its
workers, and whichever wakes first takes a whole burst: 64 connections opened at once were
split 60/4 between two workers, leaving one core mostly idle (README, Performance).

Each socket lives as long as the supervisor: a worker that dies is replaced on the same socket,
so the connections waiting in its queue are served by the replacement. On SIGINT or SIGTERM
every worker gets SIGTERM (uvicorn's graceful shutdown) and is waited for."""

import logging
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Final

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("uvicorn.error")

CHECK_INTERVAL_SECONDS: Final = 0.5


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _worker(config: uvicorn.Config, sock: socket.socket) -> None:
    config.configure_logging()
    uvicorn.Server(config).run(sockets=[sock])


def _start(config: uvicorn.Config, sock: socket.socket) -> BaseProcess:
    process = multiprocessing.get_context("spawn").Process(target=_worker, args=(config, sock))
    process.start()
    return process


def serve_workers(config: uvicorn.Config, workers: int) -> int:
    """Serves until SIGINT or SIGTERM; returns the exit status (STARTUP_FAILURE when a worker
    could not start: the next one would fail alike)."""
    try:
        sockets = [reuse_port_socket(config.host, config.port) for _ in range(workers)]
    except OSError as exc:
        # One line, as uvicorn says it: a traceback adds nothing to "address in use".
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc)  # noqa: TRY400
        return STARTUP_FAILURE
    stop = threading.Event()
    status = 0

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", config.host, config.port)
    log.info("Started parent process [%d]", os.getpid())
    processes = [_start(config, sock) for sock in sockets]
    while not stop.wait(CHECK_INTERVAL_SECONDS):
        for index, process in enumerate(processes):
            if process.is_alive():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("Child process [%s] failed to start, stopping", process.pid)
                status = STARTUP_FAILURE
                stop.set()
                break
            log.info("Child process [%s] died; starting another on its socket", process.pid)
            processes[index] = _start(config, sockets[index])
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()
    for sock in sockets:
        sock.close()
    log.info("Stopping parent process [%d]", os.getpid())
    return status
