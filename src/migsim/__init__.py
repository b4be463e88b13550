"""migsim: a page-exact, reproducible simulator of virtual-machine live migration."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("migsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "simulate", "simulate_many"]


def simulate(config, workload=None):
    """Run one migration; see :func:`migsim.engine.core.simulate`."""
    from migsim.engine.core import simulate as _simulate

    return _simulate(config, workload)


def simulate_many(configs, link=None, *, starts=None):
    """Run several migrations on one shared link; see :func:`migsim.engine.core.simulate_many`."""
    from migsim.engine.core import simulate_many as _simulate_many

    return _simulate_many(configs, link, starts=starts)
