"""Preemption: a signal asks the run to stop after the current step, with a checkpoint.

SIGTERM (a scheduler, `kill`), SIGINT (Ctrl-C) and SIGUSR2 (the signal SLURM sends
submitit jobs before preemption or the time limit) only set a flag; the loop finishes
the step it is in, writes `checkpoints/last.pt` and raises `Preempted`. The command
then finishes the W&B run and calls `hand_over()`: under submitit the job is requeued
by submitit's own handler (and resumes with `trainer.resume=auto`); otherwise the
process exits with 128 + the signal number, as a process killed by that signal would.
A second signal acts at once, with the signal's usual effect.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)


class Preempted(Exception):  # noqa: N818 - not an error: the run stopped on request
    def __init__(self, signum: int, step: int, previous: Any) -> None:
        self.signum, self.step, self.previous = signum, step, previous
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} after step {step}")

    def __reduce__(self) -> tuple[type, tuple[int, int, None]]:
        """Pickled (a pool's or a sweep's worker hands it to its parent) without the
        previous handler, which belongs to the process that received the signal."""
        return type(self), (self.signum, self.step, None)

    def hand_over(self) -> None:
        """Let whoever handled the signal before us act on it (submitit requeues the job),
        then exit with 128 + the signal number."""
        if callable(self.previous) and self.previous is not signal.default_int_handler:
            self.previous(self.signum, None)
        sys.exit(128 + self.signum)


class PreemptionHandler:
    """Within `with PreemptionHandler() as p:`, `p.signum` is the first signal received."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> PreemptionHandler:
        if threading.current_thread() is threading.main_thread():  # signals need the main thread
            for sig in SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. SIGINT under nohup
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        signal.signal(signum, self._previous[signum])  # a second one is not deferred

    def stop(self, step: int) -> Preempted:
        """The exception to raise once the checkpoint of `step` is written (on a rank of a
        distributed run that got no signal itself, as if it got SIGTERM)."""
        signum = self.signum if self.signum is not None else signal.SIGTERM
        return Preempted(signum, step, self._previous.get(signum))
