"""A user store change counts at once in the running agent: new users get in, removed and rotated tokens
are refused at the next handshake or request, and open connections of removed users close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from websockets.exceptions import ConnectionClosed

from conftest import make_settings
from underpaint.client.agent_client import AgentClient, AgentRefused
from underpaint.config import Settings
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Error
from users_support import add_users, connect, store_of

# One agent for the module, started with no users: each test adds its own while it runs.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[RunningAgent, Settings]]:
    settings = make_settings(tmp_path_factory.mktemp("tokens"))
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    yield agent, settings
    await agent.stop()


async def refused_code(agent: RunningAgent, token: str) -> str:
    with pytest.raises(AgentRefused) as refused:
        await connect(agent, token)
    return refused.value.error.code


async def http_status(agent: RunningAgent, token: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(
            f"{agent.http_url}/v1/jobs/none/result.psd", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


async def closed_with(client: AgentClient) -> tuple[Error, int | None]:
    """The error the agent sent before it closed the connection, and the close code."""
    message, _ = await asyncio.wait_for(client.next_event(), 5)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(client.next_event(), 5)
    assert isinstance(message, Error)
    return message, client.ws.close_code


async def test_a_user_added_while_the_agent_runs_gets_in(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    token = add_users(settings, "new")["new"]
    async with await connect(agent, token) as client:
        assert client.welcome.protocol
    assert await http_status(agent, token) == 404  # known caller, no such job


async def test_a_removed_users_token_is_refused_at_once(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    token = add_users(settings, "gone")["gone"]
    store = store_of(settings)
    store.remove("gone")
    store.close()
    assert await refused_code(agent, token) == "unauthorized"
    assert await http_status(agent, token) == 401


async def test_a_rotated_users_old_token_is_refused_at_once(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    old = add_users(settings, "kim")["kim"]
    store = store_of(settings)
    new = store.rotate("kim")
    store.close()
    assert await refused_code(agent, old) == "unauthorized"
    assert await http_status(agent, old) == 401
    async with await connect(agent, new):
        pass


async def test_an_open_socket_of_a_removed_user_is_closed(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    token = add_users(settings, "leaver")["leaver"]
    async with await connect(agent, token) as client:
        store = store_of(settings)
        store.remove("leaver")
        store.close()
        error, code = await closed_with(client)
    assert (error.code, code) == ("unauthorized", 4401)


async def test_an_open_socket_of_a_rotated_token_is_closed(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    token = add_users(settings, "leaked")["leaked"]
    async with await connect(agent, token) as client:
        store = store_of(settings)
        store.rotate("leaked")
        store.close()
        error, code = await closed_with(client)
    assert (error.code, code) == ("unauthorized", 4401)


async def test_another_users_socket_stays_open_when_one_is_removed(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    tokens = add_users(settings, "stays", "goes")
    async with await connect(agent, tokens["stays"]) as stays, await connect(agent, tokens["goes"]) as goes:
        store = store_of(settings)
        store.remove("goes")
        store.close()
        await closed_with(goes)
        assert len(await stays.list_jobs()) == 0


async def test_a_wrong_token_is_refused_when_users_exist(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    add_users(settings, "someone")
    assert await refused_code(agent, "upu_not-a-token") == "unauthorized"


async def test_a_users_sign_in_is_recorded_as_last_seen(running: tuple[RunningAgent, Settings]) -> None:
    agent, settings = running
    token = add_users(settings, "seen")["seen"]
    async with await connect(agent, token):
        pass
    store = store_of(settings)
    seen = store.get("seen")
    store.close()
    assert seen is not None and seen.last_seen is not None
