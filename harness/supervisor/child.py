"""The device process: one event loop running a device endpoint and its control server.

Forked by the fork server with a launch request and two pipe ends: ``status``
(the child writes its readiness line there) and ``lifeline`` (its write end
stays in the supervisor; EOF means the supervisor is gone, so the child stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from harness.recording.servers import emulator_header
from harness.recording.tap import RecordingTap
from harness.supervisor.control import ControlServer
from harness.supervisor.faults import FaultInjectingServer
from harness.supervisor.logs import pty_link_path
from harness.supervisor.pipes import read_available
from harness.supervisor.spec import BRIDGE_DEVICE, TERMINATORS

if TYPE_CHECKING:
    from harness.serial.pty_endpoint import PtyEndpoint
    from harness.supervisor.bridge import SupervisedBridge

    DeviceServer = FaultInjectingServer | SupervisedBridge

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CRASHED = 1
EXIT_START_FAILED = 3
PR_SET_PDEATHSIG = 1
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def run_device(request: dict[str, Any], status_fd: int, lifeline_fd: int,
               parent_pid: int) -> int:
    """Body of a forked device process; returns its exit code."""
    os.setpgid(0, 0)
    set_parent_death_signal(parent_pid)
    redirect_output(request["log"])
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr, force=True)
    logger.info("Device process %d starting %s (%s)", os.getpid(), request["name"],
                request["device"])
    try:
        return asyncio.run(serve(request, status_fd, lifeline_fd))
    finally:
        logging.shutdown()


def set_parent_death_signal(parent_pid: int) -> None:
    """Backup for the lifeline: SIGKILL when the parent (the fork server) dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != parent_pid:
        # The parent died before prctl took effect.
        os._exit(EXIT_CRASHED)


def redirect_output(log_path: str) -> None:
    """stdout and stderr to the device's log file; stdin from /dev/null."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.close(null_fd)


def report(status_fd: int, message: dict[str, Any]) -> None:
    """One JSON line to the supervisor; a gone supervisor is noticed by the lifeline."""
    with contextlib.suppress(OSError):
        os.write(status_fd, json.dumps(message).encode() + b"\n")


async def serve(request: dict[str, Any], status_fd: int, lifeline_fd: int) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watch_lifeline(loop, lifeline_fd, stop.set)
    server: DeviceServer | None = None
    control: ControlServer | None = None
    pty: PtyEndpoint | None = None
    try:
        try:
            server, control = await start_endpoints(request)
            pty = await start_pty(request, server)
        except Exception as e:
            logger.exception("The device could not start")
            report(status_fd, {"event": "error", "message": f"{type(e).__name__}: {e}"})
            return EXIT_START_FAILED
        report(status_fd, ready_message(request, server, control, pty))
        logger.info("Ready: device on %s:%s, control on 127.0.0.1:%d",
                    server.host, server.port, control.port)
        await stop.wait()
        logger.info("Stopping")
        return EXIT_OK
    finally:
        loop.remove_reader(lifeline_fd)
        if pty is not None:
            await pty.close()
        if control is not None:
            await control.close()
        if server is not None:
            await server.close()


def watch_lifeline(loop: asyncio.AbstractEventLoop, lifeline_fd: int,
                   on_eof: Callable[[], None]) -> None:
    def readable() -> None:
        if read_available(lifeline_fd) == b"":
            logger.info("The supervisor is gone (lifeline closed)")
            loop.remove_reader(lifeline_fd)
            on_eof()

    os.set_blocking(lifeline_fd, False)
    loop.add_reader(lifeline_fd, readable)


async def start_endpoints(request: dict[str, Any]) -> tuple[DeviceServer, ControlServer]:
    server = build_server(request)
    try:
        await server.start_task
        if not server.port:
            raise OSError(f"host {request['host']!r} has several addresses, so the device "
                          "has no single port; give an IP address such as 127.0.0.1")
        control = build_control(request, server)
        await control.start()
    except BaseException:
        await server.close()
        raise
    return server, control


def build_control(request: dict[str, Any], server: DeviceServer) -> ControlServer:
    if isinstance(server, FaultInjectingServer):
        return ControlServer(server, name=request["name"], port=request["control_port"])
    from harness.supervisor.bridge import BridgeOperations

    # The bridge's operations use only the transport and recording tap the two servers share.
    return ControlServer(cast(FaultInjectingServer, server), name=request["name"],
                         port=request["control_port"], operations=BridgeOperations)


async def start_pty(request: dict[str, Any], server: DeviceServer) -> PtyEndpoint | None:
    """With ``pty`` in the request, the same device also on a pseudo-terminal."""
    if not request.get("pty") or not isinstance(server, FaultInjectingServer):
        return None
    from harness.serial.pty_endpoint import PtyEndpoint

    pty = PtyEndpoint.for_keithley(server.config, device=server.device, name=request["name"],
                                   link=pty_link_path(Path(request["log"])), log=logger,
                                   recording_tap=pty_recording_tap(request, server))
    await pty.start()

    def follow_model() -> None:
        # Control operations wake the transports; "renew" may have replaced the model.
        pty.device = server.device
        pty.wakeup()

    server.add_wakeup_listener(follow_model)
    return pty


def pty_recording_tap(request: dict[str, Any],
                      server: FaultInjectingServer) -> RecordingTap | None:
    """With ``record_dir``, a tap recording the pty session into its own cassette there.

    Named ``<name>-pty-...``. The control channel's ``record_start`` records TCP only.
    """
    if not request.get("record_dir"):
        return None
    terminator = server.config.terminator
    tap = RecordingTap(
        terminator.encode("latin-1"), redact_serial=bool(request.get("redact_serial")),
        # The pty accepts CR or LF (§1.1); the configured terminator is what clients send.
        header=lambda: emulator_header(server, transport="pty", input_terminator=terminator))
    tap.record_sessions(request["record_dir"], prefix=f"{request['name']}-pty")
    logger.info("Recording the pty session into %s", request["record_dir"])
    return tap


def build_server(request: dict[str, Any]) -> DeviceServer:
    """The device endpoint for a launch request; raises for a bad configuration."""
    server = build_device_server(request)
    if request.get("record_dir"):
        record_sessions(request, server)
    return server


def record_sessions(request: dict[str, Any], server: DeviceServer) -> None:
    """One cassette per client connection in ``record_dir`` (``hil serve --record``)."""
    if request.get("redact_serial") and isinstance(server, FaultInjectingServer):
        emulator = server
        server.recording_tap = RecordingTap(server.terminator, redact_serial=True,
                                            header=lambda: emulator_header(emulator))
    server.recording_tap.record_sessions(request["record_dir"], prefix=request["name"])
    logger.info("Recording each client connection into %s", request["record_dir"])


def build_device_server(request: dict[str, Any]) -> DeviceServer:
    if request["device"] == BRIDGE_DEVICE:
        from harness.supervisor.bridge import build_bridge

        return build_bridge(request, TERMINATORS[request["terminator"]], logger,
                            redact_serial=bool(request.get("redact_serial")))
    factory = import_factory(request["factory"]["module"], request["factory"]["qualname"])
    config = dict(request["config"])
    model = config.pop("model", None) or getattr(factory, "MODEL", None)
    options = {} if model is None else {"model": model}
    server = FaultInjectingServer(
        host=request["host"], port=request["port"], log=logger, name=request["name"],
        terminator=TERMINATORS[request["terminator"]], speed=request["speed"],
        strict=request["strict"], seed=request["seed"], **options, **config)
    if type(server.device) is not factory:
        # A registered factory that is not the built-in model class (a subclass, a
        # function) builds the device from the same validated configuration.
        server.device = factory(config=server.config, now=asyncio.get_running_loop().time())
    return server


def import_factory(module_name: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def ready_message(request: dict[str, Any], server: DeviceServer, control: ControlServer,
                  pty: PtyEndpoint | None = None) -> dict[str, Any]:
    return {"event": "ready", "pid": os.getpid(), "host": request["host"], "port": server.port,
            "control_port": control.port, "model": server.config.model,
            "pty": pty.path if pty is not None else None,
            "pty_link": str(pty.link) if pty is not None else None}


def warm_up() -> None:
    """Fill the models' caches in the fork server, so every forked child starts warm."""
    from devices.keithley import MockKeithley, devices

    for model in ("6517B", "6514"):
        MockKeithley(model, speed=0)
    len(devices)  # loads the entry points once
