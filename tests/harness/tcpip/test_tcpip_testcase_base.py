"""§19.1 statements 70-72 (and 19): BaseOneClientServerTestCase, used as users use it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging

from harness import tcpip

QUICK_TIMEOUT = 0.5  # for waits that are expected to time out


class OneClientServerSubclass(tcpip.OneClientServer):
    """Not OneClientServer exactly, so create_server gives it no default host."""


class TestWithoutCreateServer(tcpip.BaseOneClientServerTestCase):
    server_class = tcpip.OneClientServer

    async def test_assert_next_connected_needs_create_server(self) -> None:
        """§19.1-70: assert_next_connected(True/False) without create_server raises."""
        for connected in (True, False):
            with self.assertRaises(RuntimeError):
                await asyncio.wait_for(self.assert_next_connected(connected), 5)

    async def test_connect_callback_needs_create_server(self) -> None:
        """§19.1-70 (§14): connect_callback without a queue raises RuntimeError."""
        placeholder = tcpip.Client(host="", port=0, log=self.log)
        with contextlib.redirect_stdout(io.StringIO()), self.assertRaises(RuntimeError):
            await self.connect_callback(placeholder)
        await placeholder.close()


class TestWithoutServerClass(tcpip.BaseOneClientServerTestCase):
    async def test_create_server_needs_server_class(self) -> None:
        """§19.1-71: create_server with server_class = None raises RuntimeError."""
        self.assertIsNone(self.server_class)
        with self.assertRaises(RuntimeError):
            async with self.create_server():
                self.fail("create_server yielded without a server_class")


class TestCreateServer(tcpip.BaseOneClientServerTestCase):
    server_class = tcpip.OneClientServer

    async def test_host_defaults_to_localhost(self) -> None:
        """§19.1-71: with OneClientServer the host defaults to DEFAULT_LOCALHOST."""
        async with self.create_server() as server:
            self.assertIsInstance(server, tcpip.OneClientServer)
            self.assertEqual(server.host, tcpip.DEFAULT_LOCALHOST)
            self.assertNotEqual(server.port, 0)
            self.assertTrue(server.start_task.done())
            self.assertEqual(server.log.name, f"{self.log.name}.OneClientServer()")
        self.assertTrue(server.done_task.done())

    async def test_each_call_makes_a_new_queue(self) -> None:
        """§19.1-71: every create_server call makes a new connect_queue."""
        self.assertIsNone(self.connect_queue)
        async with self.create_server() as server:
            first_queue = self.connect_queue
            self.assertIsInstance(first_queue, asyncio.Queue)
        async with self.create_server() as server:
            self.assertIsInstance(self.connect_queue, asyncio.Queue)
            self.assertIsNot(self.connect_queue, first_queue)
        self.assertTrue(server.done_task.done())

    async def test_callback_is_wired_only_when_passed(self) -> None:
        """§19.1-71: without connect_callback nothing is queued."""
        async with self.create_server() as server, self.create_client(server) as client:
            self.assertTrue(client.connected)
            with self.assertRaises(TimeoutError):
                await self.assert_next_connected(True, timeout=QUICK_TIMEOUT)

    async def test_connect_callback_prints_and_queues(self) -> None:
        """§19.1-71: connect_callback prints `connect_callback: connected=<bool>` and queues."""
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            async with self.create_server(connect_callback=self.connect_callback) as server:
                async with self.create_client(server):
                    await self.assert_next_connected(True)
                await self.assert_next_connected(False)
        lines = stdout.getvalue().splitlines()
        self.assertEqual(
            lines, ["connect_callback: connected=True", "connect_callback: connected=False"]
        )

    async def test_assert_next_connected_checks_the_value(self) -> None:
        """§19.1-71 (§14): a queued value different from the expected one fails the assert."""
        with contextlib.redirect_stdout(io.StringIO()):
            async with self.create_server(connect_callback=self.connect_callback) as server:
                async with self.create_client(server):
                    with self.assertRaises(AssertionError):
                        await self.assert_next_connected(False)


class TestCreateServerForASubclass(tcpip.BaseOneClientServerTestCase):
    server_class = OneClientServerSubclass

    async def test_subclass_gets_no_default_host(self) -> None:
        """§19.1-71 (§14): only OneClientServer exactly gets the default host."""
        with self.assertRaises(TypeError):
            async with self.create_server():
                self.fail("a OneClientServer subclass got a default host")
        async with self.create_server(host=tcpip.LOCALHOST_IPV4) as server:
            self.assertIsInstance(server, OneClientServerSubclass)
            self.assertEqual(server.host, tcpip.LOCALHOST_IPV4)


class TestCreateClient(tcpip.BaseOneClientServerTestCase):
    server_class = tcpip.OneClientServer

    async def test_waits_for_connected_task_by_default(self) -> None:
        """§19.1-72: create_client returns once server.connected_task is done."""
        async with self.create_server() as server, self.create_client(server) as client:
            self.assertTrue(server.connected_task.done())
            self.assertTrue(server.connected)
            self.assertTrue(client.connected)
            self.assertEqual(client.log.name, f"{self.log.name}.Client()")

    async def test_wait_connected_false_does_not_wait(self) -> None:
        """§19.1-72: with a connected_task that never completes, only the default waits."""
        async with self.create_server() as server, self.create_client(server) as first:
            self.assertTrue(first.connected)
            # connected_task is a plain attribute (§5.3); a pending replacement with
            # a client already connected can only be completed by nobody.
            server.connected_task = asyncio.get_running_loop().create_future()
            async with self.create_client(server, wait_connected=False) as second:
                self.assertTrue(second.start_task.done())
                self.assertFalse(server.connected_task.done())
            with self.assertRaises(TimeoutError):
                async with self.create_client(server):
                    self.fail("create_client did not wait for connected_task")
            self.assertTrue(first.connected)


class TestRaisingCallback(tcpip.BaseOneClientServerTestCase):
    server_class = tcpip.OneClientServer

    async def connect_callback(self, server: tcpip.BaseClientOrServer) -> None:
        raise RuntimeError("callback failure")

    async def test_raising_callback_is_swallowed(self) -> None:
        """§19.1-19: a raising callback is logged; the link works; nothing is queued."""
        with self.assertLogs(self.log, level=logging.ERROR) as logs:
            async with self.create_server(connect_callback=self.connect_callback) as server:
                async with self.create_client(server) as client:
                    with self.assertRaises(TimeoutError):
                        await self.assert_next_connected(True, timeout=QUICK_TIMEOUT)
                    self.assertTrue(server.connected)
                    self.assertTrue(client.connected)
                    await client.write_str("to server")
                    self.assertEqual(await asyncio.wait_for(server.read_str(), 5), "to server")
                    await server.write_str("to client")
                    self.assertEqual(await asyncio.wait_for(client.read_str(), 5), "to client")
        failures = [
            record
            for record in logs.records
            if record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
        ]
        self.assertTrue(failures, [record.getMessage() for record in logs.records])
