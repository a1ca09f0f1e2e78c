"""Named users see, resume, cancel and download only their own jobs; an admin sees every job."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio

from conftest import TOKEN, make_settings
from dashboard_support import API, get_json, page_session
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Error, Jobs, ListJobs
from users_support import add_users, connect, run_job

# One agent for the module: every test only reads, or is refused.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Studio:
    agent: RunningAgent
    tokens: dict[str, str]
    ann_job: str = "ann-job"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def studio(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Studio]:
    """Ann and Ben, users; Ida, an admin; and one finished job of Ann's."""
    settings = make_settings(tmp_path_factory.mktemp("studio"))
    tokens = add_users(settings, "ann", "ben", "ida", admin=("ida",))
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    async with await connect(agent, tokens["ann"]) as ann:
        assert (await run_job(ann, "ann-job")).state == "done"
    yield Studio(agent, tokens)
    await agent.stop()


async def status_of(studio: Studio, token: str, name: str) -> tuple[int, str | None]:
    async with aiohttp.ClientSession() as http, http.get(
            f"{studio.agent.http_url}/v1/jobs/{studio.ann_job}/{name}",
            headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.json() if response.content_type == "application/json" else {}
        return response.status, body.get("error")


async def reply(studio: Studio, token: str, message: object) -> object:
    async with await connect(studio.agent, token) as client:
        await client.ws.send(message.model_dump_json())  # type: ignore[attr-defined]
        event, _ = await client.next_event()
        return event


@pytest.mark.parametrize("name", ["result.psd", "variant-1.png"])
async def test_another_user_gets_404_for_a_users_files(studio: Studio, name: str) -> None:
    assert await status_of(studio, studio.tokens["ben"], name) == (404, "unknown_job")
    assert (await status_of(studio, studio.tokens["ann"], name))[0] == 200


async def test_another_user_cannot_resume_a_users_job(studio: Studio) -> None:
    async with await connect(studio.agent, studio.tokens["ben"]) as ben:
        await ben.resume(studio.ann_job, 0)
        refused, _ = await ben.next_event()
    assert isinstance(refused, Error) and refused.code == "unknown_job"


async def test_another_user_cannot_cancel_a_users_job(studio: Studio) -> None:
    async with await connect(studio.agent, studio.tokens["ben"]) as ben:
        await ben.cancel(studio.ann_job)
        refused, _ = await ben.next_event()
    assert isinstance(refused, Error) and refused.code == "unknown_job"
    async with aiohttp.ClientSession() as http, http.post(
            f"{studio.agent.http_url}/v1/jobs/{studio.ann_job}/cancel", json={"client": "photoshop"},
            headers={"Authorization": f"Bearer {studio.tokens['ben']}"}) as response:
        assert (response.status, (await response.json())["error"]) == (404, "unknown_job")


async def test_another_user_cannot_take_over_a_users_job_id(studio: Studio) -> None:
    async with await connect(studio.agent, studio.tokens["ben"]) as ben:
        outcome = await run_job(ben, studio.ann_job)
    assert outcome.error is not None and outcome.error.code == "job_id_conflict"


async def test_a_users_job_follows_them_to_another_plugin(studio: Studio) -> None:
    async with await connect(studio.agent, studio.tokens["ann"], name="figma") as ann_in_figma:
        listed = await ann_in_figma.list_jobs()
    assert [job.job_id for job in listed] == [studio.ann_job]


async def test_a_user_lists_only_their_own_jobs(studio: Studio) -> None:
    listed = await reply(studio, studio.tokens["ben"], ListJobs(limit=10))
    assert isinstance(listed, Jobs) and listed.jobs == []


@pytest.mark.parametrize("who", ["ida", "pairing token"])
async def test_an_admin_sees_downloads_and_lists_every_users_jobs(studio: Studio, who: str) -> None:
    token = studio.tokens.get(who, TOKEN)
    assert (await status_of(studio, token, "result.psd"))[0] == 200
    listed = await reply(studio, token, ListJobs(limit=10))
    assert isinstance(listed, Jobs) and [job.job_id for job in listed.jobs] == [studio.ann_job]


async def test_a_users_token_does_not_open_the_agents_page(studio: Studio) -> None:
    async with page_session(studio.agent) as page:
        async with page.post(f"{API}/session", json={"token": studio.tokens["ben"]}) as response:
            assert response.status == 403
        async with page.get(f"{API}/jobs", headers={"Authorization": f"Bearer {studio.tokens['ben']}"}) as response:
            assert response.status == 401


async def test_an_admin_signs_in_to_the_agents_page_and_sees_every_users_jobs(studio: Studio) -> None:
    async with page_session(studio.agent) as page:
        async with page.post(f"{API}/session", json={"token": studio.tokens["ida"]}) as response:
            assert response.status == 200
        assert studio.ann_job in json.dumps(await get_json(page, "/jobs"))


async def test_a_token_in_the_query_identifies_the_user_too(studio: Studio) -> None:
    async with aiohttp.ClientSession() as http:
        for who, status in (("ben", 404), ("ann", 200)):
            async with http.get(f"{studio.agent.http_url}/v1/jobs/{studio.ann_job}/result.psd",
                                params={"token": studio.tokens[who]}) as response:
                assert response.status == status, who
