"""``game_server``: a Quake 3 dedicated server (Clark et al. 2005, Figs. 3-6 and 10).

What it models (4 KiB pages):

- the guest OS (:func:`~migsim.workloads.generators._model.add_os`);
- the **frame state**: every server frame (``fps``, default 20 Hz, Quake 3's ``sv_fps``) rewrites
  the same 200 pages (800 KiB: entity states, snapshots, client frames) in one sweep, so
  d(w) ~ 260 already at 50-80 ms and barely grows to 320 ms;
- a **tail** of 1,040 pages (4 MiB: per-client message buffers, bot/AI state) written at 240
  writes/s (each page every ~4.3 s), so d(w) saturates near 1.25k by 8 s;
- map/BSP data (16 MiB, clamped to 1/8 of memory): read-mostly, 2,000 skewed reads/s;
- the rest of memory is free.

Sizes are absolute (a game server's state does not grow with the VM); on a VM too small for
them (below ~32 MiB) the tail and map shrink with their rates. ``players`` scales the tail's
write rate and the network demand (default 8 players; 1 = an idle map).

Service: progress/s, baseline ``fps`` (server frames/s); network demand 60 kbit/s per player.
"""

from __future__ import annotations

from migsim.workloads.base import ServiceModel, register
from migsim.workloads.generators._model import (
    Layout,
    MixWorkload,
    Sequential,
    Tier,
    add_os,
    check_positive,
    shrink,
)

FRAME_PAGES = 200
TAIL_PAGES, TAIL_RATE = 1_040, 240.0
MAP_BYTES, MAP_READ_RATE = 16 * 2**20, 2_000.0
PLAYER_BPS = 60e3


@register("game_server")
class GameServer(MixWorkload):
    """Quake 3 dedicated server (see the module docstring for the model)."""

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        players: int = 8,
        fps: float = 20.0,
    ):
        g = "game_server"
        if isinstance(players, bool) or int(players) != players or players < 1:
            raise ValueError(f"{g}: players must be a whole number >= 1, got {players!r}")
        players = int(players)
        fps = check_positive(g, "fps", fps, "frames/s")
        super().__init__(memory_pages, page_size, seed, players=players, fps=fps)
        lay = Layout(memory_pages)
        comps = add_os(lay, page_size, 1.0)
        left = memory_pages - lay.next_page
        f = shrink(FRAME_PAGES + TAIL_PAGES, left // 2)
        frame = lay.add("frame", max(1, int(FRAME_PAGES * f)))
        tail = lay.add("tail", max(1, int(TAIL_PAGES * f)))
        mp = lay.add("map", max(1, min(MAP_BYTES // page_size, memory_pages // 8)))
        comps += [
            Sequential(frame[0], frame[1], frame[1] * fps),
            Tier(tail[0], tail[1], TAIL_RATE * f * players / 8),
            Tier(mp[0], mp[1], 0.0, read_rate=MAP_READ_RATE, read_skew=2.0),
        ]
        self.service = ServiceModel(
            baseline=fps, unit="progress/s", network_demand_bps=PLAYER_BPS * players
        )
        self.shrink_factor = f
        self._setup(lay, comps)
