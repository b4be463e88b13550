"""A migration's use of the network: its migration stream and its guest's own traffic.

Every run's link is a :class:`~migsim.engine.network.Network` (flow-level max-min sharing,
re-allocated whenever a flow starts, ends or changes its cap). A migration holds one
:class:`Channel` on it: two flows over the same path, the migration stream (capped by the
strategy's rate limit) and, while the VM runs on the source, the workload's own traffic
(capped by its demand times the guest's speed). Alone on a link of capacity ``C`` the two
get :func:`alloc`'s shares; beside other migrations (:func:`migsim.engine.core.simulate_many`)
every flow on the link gets its max-min share. Rules: docs/semantics.md, *Rates and link
sharing*.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

from simpy.events import Event, EventPriority

from migsim.engine.network import LATE, EndOfInstant, Network, two_flow_shares

__all__ = ["QUIET", "Channel", "alloc"]

#: SimPy event priority after a re-allocation (``LATE``) and its notifications: a migration
#: that waits for it reads the rates every process has settled on at this instant.
QUIET = EventPriority(LATE + 1)


def alloc(mig_demand: float, app_demand: float, capacity: float) -> tuple[float, float]:
    """Max-min fair shares (bit/s) of two flows with the given demands on one link (what
    :class:`Channel` gets when it is alone on its link; docs/semantics.md)."""
    return two_flow_shares(capacity, mig_demand, app_demand)


class Channel:
    """One migration's two flows on ``net``: the migration stream over ``path`` and the
    guest's traffic on the source over ``app_path`` (default: ``path``).

    ``shared``: other migrations use the network too, so this migration's rates may change
    while its kernels run (they then keep checkpoints to go back to; see
    :class:`migsim.engine.primitives.RoundSender`)."""

    def __init__(
        self,
        net: Network,
        path: Sequence[str] | str,
        name: str,
        *,
        shared: bool,
        app_path: Sequence[str] | str | None = None,
    ):
        self.net = net
        self.path = path
        self.app_path = path if app_path is None else app_path
        self.name = name
        self.shared = shared
        self.mig = None
        self.app = None

    def want(self, cap: float, app: float = 0.0) -> None:
        """Ask for the migration stream to be capped at ``cap`` and the guest's traffic at
        ``app`` (bit/s; 0 when the guest is paused or runs at the destination). The new
        shares apply at the end of the current instant (:meth:`rates`)."""
        if self.mig is None:
            self.mig = self.net.add_flow(self.path, cap=cap, name=f"{self.name}/migration")
            self.app = self.net.add_flow(self.app_path, cap=app, name=f"{self.name}/guest")
        else:
            self.mig.set_cap(cap)
            self.app.set_cap(app)

    def rates(self) -> Generator:
        """Wait until every process has acted at this instant and the link is re-allocated
        (an event of priority :data:`QUIET`); returns (migration, guest) rates in bit/s.
        Alone on its network (made with ``deferred=False``), a migration re-allocates and reads
        them at once, with no event."""
        if self.net.deferred:
            yield EndOfInstant(self.net.env, priority=QUIET)
        else:  # alone on its network (deferred=False): nothing else acts on it
            self.net.flush()
        return self.mig.rate, self.app.rate

    def changed(self) -> Event:
        """An event that succeeds when either flow's rate changes (a fresh one each call)."""
        return self.mig.changed | self.app.changed

    def close(self) -> None:
        """The migration ends: both flows leave the link."""
        if self.mig is not None:
            self.mig.remove()
            self.app.remove()
