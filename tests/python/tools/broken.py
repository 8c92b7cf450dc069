"""A tool file that does not even parse: it is reported, the others are served."""
class Broken:
    name = "py_broken"
    def execute(self) -> dict
        return {}
