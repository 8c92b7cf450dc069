"""One tool with explicit operations (no inference): each fails in its own way."""
import toolhost


class FailingTool:
    name = "py_fail"
    description = "Fails: an exception, a ToolError naming its status, a result that is not JSON."
    operations = {
        "boom": {"description": "Raises ValueError.", "input_schema": {"type": "object"}},
        "not_found": {"description": "Raises ToolError(NOT_FOUND).",
                      "input_schema": {"type": "object", "properties": {"id": {"type": "integer"}},
                                       "required": ["id"]},
                      "flags": ["read_only", "idempotent"]},
        "not_json": {"description": "Returns an object JSON cannot carry.", "input_schema": {"type": "object"}},
        "exits": {"description": "Calls sys.exit().", "input_schema": {"type": "object"}},
    }

    def boom(self):
        raise ValueError("boom: the backend said no")

    def not_found(self, id: int):
        raise toolhost.ToolError(f"customer {id} does not exist", status="NOT_FOUND")

    async def not_json(self):
        return {"value": object()}

    def exits(self):
        import sys
        sys.exit(3)
