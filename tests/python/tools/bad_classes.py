"""Classes that cannot be served, next to one that can: each is reported by file and class."""


class Nameless:
    description = "has no name"

    def execute(self) -> dict:
        return {}


class InitFails:
    name = "py_init_fails"

    async def initialize(self):
        raise RuntimeError("the database is not there")

    async def execute(self) -> dict:
        return {}


class ConstructorFails:
    def __init__(self):
        raise OSError("cannot read the model file")

    def execute(self) -> dict:
        return {}


class Survivor:
    name = "py_survivor"

    def __call__(self, word: str = "still here") -> dict:
        return {"word": word}
