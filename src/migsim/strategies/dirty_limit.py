"""QEMU's dirty limit: pre-copy that caps each vCPU's dirty page rate once it sees that the
migration will not converge (QEMU 8.1 and later, capability ``dirty-limit``).

What QEMU does (sources read: ``migration/ram.c``, ``migration_trigger_throttle`` and
``migration_dirty_limit_guest``; ``docs/devel/migration/dirty-limit.rst``;
``migration/dirtyrate.c``, ``do_calculate_dirtyrate``; ``qapi/migration.json``):

- at each dirty-bitmap sync after the first, a period whose dirtied bytes exceed
  ``throttle-trigger-threshold`` (50 %) of the bytes sent counts as high; at the second high
  one the migration sets every vCPU's dirty limit to ``vcpu-dirty-limit`` (default 1 MB/s,
  where dirtyrate.c counts a MB as 2^20 bytes). The same trigger starts auto-converge, and QEMU
  refuses both capabilities together;
- a throttle thread measures each vCPU's dirty page rate from the KVM dirty ring every
  ``x-vcpu-dirty-limit-period`` (default 1000 ms, at most 1000 ms) and sets a sleep per
  vCPU so that its rate comes down to the limit; a vCPU only sleeps on dirty-ring-full exits,
  so a guest is slowed only while it writes faster than the limit (readers are not).

How migsim models it (docs/semantics.md, *Dirty limit*): the trigger is pre-copy's
auto-converge trigger (``throttle_threshold``, ``throttle_trigger_rounds``). From then on, at
every ``dirty_limit_period`` the strategy measures the guest's dirty page rate over the last
period (first writes logged, per vCPU) and sets the guest's speed for the next period to
``speed x limit / rate`` (at most 1): the ratio step of QEMU's algorithm, which brings a steady
writer to the limit in one period and gives a guest below the limit its full speed back.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from migsim.config import ConfigError, VMSpec
from migsim.engine.primitives import RoundSender, Sent
from migsim.options import option
from migsim.registry import register_strategy
from migsim.strategies.pre_copy import PreCopy, PreCopyOptions

__all__ = ["DirtyLimit", "DirtyLimitOptions"]

_QAPI = "[QEMU] 8.1 `qapi/migration.json`"


@dataclass(frozen=True)
class DirtyLimitOptions(PreCopyOptions):
    """Pre-copy's options, and the dirty limit's."""

    vcpu_dirty_limit: float = option(
        8 * 2**20,
        kind="rate",
        lo=0,
        lo_open=True,
        shown="1MiB/s",
        help="the dirty page rate each vCPU is held to once the limit is on",
        source=f"{_QAPI} `vcpu-dirty-limit` (1 MB/s, MB = 2^20 B in `migration/dirtyrate.c`)",
    )
    dirty_limit_period: float = option(
        1.0,
        kind="duration",
        lo=0,
        hi=1,
        lo_open=True,
        help="how often the dirty rate is measured and the guest's speed set",
        source=f"{_QAPI} `x-vcpu-dirty-limit-period` (1000 ms, 1 to 1000 ms)",
    )

    def check(self, vm: VMSpec) -> None:
        super().check(vm)
        if self.auto_converge:
            raise ConfigError(
                "strategy.auto_converge: True is out of range for dirty_limit; allowed: false "
                "(QEMU refuses dirty-limit together with auto-converge)"
            )
        if self.stun_write_faults:
            raise ConfigError(
                f"strategy.stun_write_faults: {self.stun_write_faults} is out of range for "
                "dirty_limit; allowed: 0 (the dirty limit already slows the writer)"
            )


@register_strategy("dirty_limit")
class DirtyLimit(PreCopy):
    """Pre-copy that caps each vCPU's dirty page rate once it will not converge (QEMU)."""

    Options = DirtyLimitOptions

    def __init__(self, options: DirtyLimitOptions):
        super().__init__(options)
        self.limiting = False  # the limit is on
        self.speed = 1.0  # the guest's speed in the current period
        self.next_tick = 0.0  # wall time of the next measurement
        self.written = 0  # first writes logged in the current period
        self.round_end = 0.0  # wall time the last round ended

    def after_round(self, k: int, r: Sent, page: int) -> None:
        """QEMU's trigger (the one auto-converge uses) turns the limit on, once."""
        st = self.opts
        if self.limiting or k < 1:
            return
        if r.dirtied * page > st.throttle_threshold * r.bytes:
            self.high += 1
        if self.high >= st.throttle_trigger_rounds:
            self.limiting = True
            self.next_tick = self.round_end + st.dirty_limit_period

    def send_round(self, ctx, sender: RoundSender, limit: float) -> Generator:
        """The round in periods of ``dirty_limit_period`` once the limit is on: at each
        period's end the guest's speed is set from the dirty rate it had in the period."""
        if not self.limiting:
            mig = yield from super().send_round(ctx, sender, limit)
            self.round_end = ctx.t
            return mig
        st = self.opts
        cap = st.vcpu_dirty_limit / 8 / ctx.page_size * ctx.cfg.vm.vcpus  # pages/s, all vCPUs
        ctx.link.want(limit, self.demand * self.speed)
        mig, app = yield from ctx.link.rates()
        self.stretch = (ctx.t, self.speed, app)  # the stretch at one speed being accounted
        while True:
            before = sender.result().dirtied
            done = yield from sender.run(mig, self.speed, until=self.next_tick)
            self.written += sender.result().dirtied - before
            if done:
                self.account(ctx, ctx.t, sender.result())
                self.round_end = ctx.t
                return sender.mean_rate()
            t_stop, speed = sender.stopped_at, self.speed
            if t_stop >= self.next_tick:
                # a period ends: its dirty rate sets the next period's speed
                rate = self.written / st.dirty_limit_period
                self.written = 0
                self.next_tick += st.dirty_limit_period
                speed = min(1.0, self.speed * cap / rate) if rate > 0 else 1.0
                ctx.link.want(limit, self.demand * speed)
            # (else the link's rates changed: another migration started or ended)
            mig, app = yield from ctx.link.rates()
            if (speed, app) != self.stretch[1:]:
                self.account(ctx, t_stop, sender.result())
                self.speed = speed
                self.stretch = (t_stop, speed, app)
