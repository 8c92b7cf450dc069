"""Asynchronous tools in the seed's shape: async initialize(config), async execute(**kwargs) with
type hints the input schema is inferred from, a dataclass result like the seed's ToolResult;
one that is slow (and cancelled), one that only returns when N calls run at once."""
import asyncio
import dataclasses
from typing import Any, Dict, List, Optional

import toolhost


@dataclasses.dataclass
class ToolResult:
    success: bool
    data: Any = None
    error: Optional[str] = None
    metadata: Dict[str, Any] = dataclasses.field(default_factory=dict)


class SearchTool:
    name = "py_search"
    description = "Searches a tiny index (an async tool in the seed's style)."

    def __init__(self):
        self.index = None

    async def initialize(self, config):
        await asyncio.sleep(0.01)
        self.index = config.get("index", "default")

    async def execute(self, query: str, limit: int = 3, tags: Optional[List[str]] = None) -> ToolResult:
        """Searches for `query`.

        Args:
            query: What to look for.
            limit: At most this many hits.
            tags: Only hits with one of these tags.
        """
        toolhost.progress(1, 2, "searching")
        toolhost.log(f"searching {self.index} for {query}", level="warning")
        await asyncio.sleep(0.01)
        hits = [f"{query}-{i}" for i in range(limit)]
        return ToolResult(success=True, data={"hits": hits, "tags": tags or []}, metadata={"index": self.index})

    async def cleanup(self):
        self.index = None


class SlowTool:
    name = "py_slow"
    description = "Sleeps for `seconds`; cancellation reaches it as asyncio.CancelledError."

    async def execute(self, seconds: float) -> dict:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            toolhost.log(f"py_slow: cancelled after {loop.time() - started:.2f} s", level="warning")
            raise
        return {"slept": seconds}


class RendezvousTool:
    """Returns once `parties` calls of it run at the same time (or after `timeout` seconds)."""
    name = "py_rendezvous"
    waiting = 0
    arrived = None

    async def execute(self, parties: int, timeout: float = 20.0) -> dict:
        cls = type(self)
        if cls.arrived is None:
            cls.arrived = asyncio.Event()
        cls.waiting += 1
        peak = cls.waiting
        if cls.waiting >= parties:
            cls.arrived.set()
        try:
            await asyncio.wait_for(cls.arrived.wait(), timeout)
            met = True
        except asyncio.TimeoutError:
            met = False
        return {"met": met, "peak": max(peak, cls.waiting)}
