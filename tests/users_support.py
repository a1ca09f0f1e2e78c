"""What the users tests share: a live classic agent at 64x64 whose user store the test fills, and clients
signed in as those users."""

from __future__ import annotations

from conftest import soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient, JobOutcome
from underpaint.cluster.users import UserStore
from underpaint.config import Settings
from underpaint.core import Mode, Params, Rect, Size
from underpaint.server.serve import RunningAgent

SIDE = 64
IMAGE, MASK = textured_rgba(SIDE, SIDE), soft_ellipse(SIDE, SIDE, (16, 16, 32, 32))


def add_users(settings: Settings, *names: str, admin: tuple[str, ...] = (), **limits: int) -> dict[str, str]:
    """Each name's token, written to the agent's store from a connection of its own, as the CLI does."""
    store = UserStore(settings.users_path)
    try:
        return {name: store.add(name, admin=name in admin, **limits) for name in names}
    finally:
        store.close()


def store_of(settings: Settings) -> UserStore:
    return UserStore(settings.users_path)


async def connect(agent: RunningAgent, token: str, name: str = "photoshop") -> AgentClient:
    return await AgentClient.connect(agent.ws_url, token, client_name=name)


async def submit(client: AgentClient, job_id: str) -> None:
    await client.submit(job_id, Mode.FILL, Size(width=SIDE, height=SIDE), Rect(x=0, y=0, width=SIDE, height=SIDE),
                        Params(), IMAGE, MASK)


async def run_job(client: AgentClient, job_id: str) -> JobOutcome:
    await submit(client, job_id)
    return await client.follow(job_id)
