"""An ASA simulator: a real SSH server on 127.0.0.1 (asyncssh) with the ASA's CLI behaviour.

Password login, an interactive shell with the `host/pri/act#` style prompt (or `>` with `enable`),
`terminal pager 0`, the `show failover*` commands answered from `outputs` (tests change them as
the simulated unit changes state), `% Invalid input` for anything else, `exit`. Every command
received is recorded in `commands`.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import asyncssh

FIXTURES = Path(__file__).parent / "fixtures" / "cli"


class AsaSimulator:
    def __init__(
        self,
        outputs: dict[str, str],
        username: str = "hamon",
        password: str = "s3cret-Pass",
        prompt: str = "fw-lab/pri/act",
        enable_password: str | None = None,
    ) -> None:
        self.outputs = dict(outputs)
        self.username, self.password = username, password
        self.prompt = prompt
        self.enable_password = enable_password
        self.commands: list[str] = []
        self.logins = 0
        self.failed_logins = 0
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def known_hosts(self, path: Path) -> Path:
        path.write_text(f"[127.0.0.1]:{self.port} {self.key.export_public_key().decode().strip()}\n")
        return path

    def __enter__(self) -> AsaSimulator:
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(self._listen())
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        assert ready.wait(10), "simulator did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)

    async def _listen(self) -> Any:
        sim = self

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                ok = username == sim.username and password == sim.password
                if ok:
                    sim.logins += 1
                else:
                    sim.failed_logins += 1
                return ok

        return await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[self.key], server_factory=Server, process_factory=self._session
        )

    async def _session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        privileged = self.enable_password is None
        process.stdout.write("Type help or '?' for a list of available commands.\r\n")
        process.stdout.write(f"{self.prompt}{'#' if privileged else '>'} ")
        try:
            while True:
                line = await asyncio.wait_for(process.stdin.readline(), 30)
                if not line:
                    break
                cmd = line.strip()
                self.commands.append(cmd)
                if cmd == "exit":
                    break
                if cmd == "enable" and not privileged:
                    process.stdout.write("Password: ")
                    given = (await process.stdin.readline()).strip()
                    privileged = given == self.enable_password
                    if not privileged:
                        process.stdout.write("Invalid password\r\n")
                elif cmd == "terminal pager 0":
                    pass
                elif cmd in self.outputs and privileged:
                    process.stdout.write(self.outputs[cmd].replace("\n", "\r\n"))
                elif cmd:
                    process.stdout.write(
                        f"{' ' * len(self.prompt)}^\r\nERROR: % Invalid input detected at '^' marker.\r\n"
                    )
                process.stdout.write(f"{self.prompt}{'#' if privileged else '>'} ")
        except (TimeoutError, asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
            pass
        process.exit(0)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()
