"""An example Python tool for toolhost's python plugin, written the way the original Python
back end wrote its tools: a class with `name`, `description`, an async `initialize()`, an async
`execute(**kwargs)` and `cleanup()`. The input schema comes from execute()'s type hints.

    toolhost --plugin-dir build/release/lib/toolhost/python call text_stats execute '{"text": "a b a"}'
"""
import asyncio
import collections
import logging
import re
from typing import Optional

import toolhost

logger = logging.getLogger(__name__)

WORD = re.compile(r"\w+", re.UNICODE)


class TextStatsTool:
    """Word counts of a text."""

    def __init__(self):
        self.name = "text_stats"
        self.description = "Counts the words of a text and names the most frequent ones."
        self.initialized = False
        self.stopwords = set()

    async def initialize(self, config: dict) -> None:
        # The tool's "config" object from the host configuration, validated as an object.
        self.stopwords = {w.lower() for w in config.get("stopwords", [])}
        self.initialized = True
        logger.info("text_stats ready with %d stopwords", len(self.stopwords))

    async def execute(self, text: str, top: int = 3, language: Optional[str] = None) -> dict:
        """Counts the words of `text`.

        Args:
            text: The text to count.
            top: How many of the most frequent words to name.
            language: Only echoed back: a hint for the caller's own bookkeeping.
        """
        if top < 0:
            raise toolhost.ToolError("top: must not be negative", status="INVALID_ARGUMENT")
        words = [w.lower() for w in WORD.findall(text)]
        counts = collections.Counter(w for w in words if w not in self.stopwords)
        await asyncio.sleep(0)  # a real tool would await its backend here
        return {
            "words": len(words),
            "distinct": len(set(words)),
            "top": [{"word": w, "count": c} for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:top]],
            "language": language,
        }

    async def cleanup(self) -> None:
        self.initialized = False
