"""Synchronous tools: they run on the host's threads, so several run at once (the GIL is let go
while they wait); a sync tool cannot be interrupted but can poll toolhost.cancelled()."""
import threading
import time

import toolhost

_barriers = {}
_lock = threading.Lock()


class SyncRendezvousTool:
    name = "py_sync_rendezvous"
    description = "Returns once `parties` calls of it run at the same time, on different threads."

    def execute(self, parties: int) -> dict:
        with _lock:
            barrier = _barriers.setdefault(parties, threading.Barrier(parties, timeout=20))
        try:
            barrier.wait()
            return {"met": True, "thread": threading.current_thread().name != "toolhost-asyncio"}
        except threading.BrokenBarrierError:
            return {"met": False, "thread": True}


class SpinTool:
    name = "py_spin"
    description = "Works in small steps until cancelled, checking toolhost.cancelled()."

    def execute(self, seconds: float = 30.0) -> dict:
        started = time.monotonic()
        steps = 0
        while time.monotonic() - started < seconds:
            if toolhost.cancelled():
                toolhost.log(f"py_spin: stopped after {steps} steps", level="warning")
                toolhost.check_cancelled()
            time.sleep(0.005)
            steps += 1
        return {"steps": steps}
