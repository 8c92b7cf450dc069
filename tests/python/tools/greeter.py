"""A synchronous tool in the seed's legacy shape: name and description set in __init__, a sync
_initialize(), a sync execute(**kwargs) and cleanup(). It prints while it is imported: inside
toolhost that is a log line, never a byte on stdout (which carries the MCP stdio protocol)."""
import logging

from _greeting import salutation  # a helper module of the same folder (not a tool file)

print("greeter.py imported")
logger = logging.getLogger("greeter")


class GreeterTool:
    def __init__(self):
        self.name = "py_greeter"
        self.description = "Greets people (a synchronous tool in the seed's style)."
        self.initialized = False

    def _initialize(self):
        self.initialized = True

    def execute(self, name: str, excited: bool = False) -> dict:
        """Greets `name`.

        Args:
            name: Who to greet.
            excited: End with an exclamation mark.
        """
        logger.warning("greeting %s", name)
        return {"greeting": f"{salutation()}, {name}{'!' if excited else ''}", "initialized": self.initialized}

    def cleanup(self):
        self.initialized = False
