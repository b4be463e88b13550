"""Strategy plug-ins: what the registry declares reaches the config validation, the command
line, the schema and the docs; the engine knows no strategy; bad input names the key."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from migsim.cli import main, strategy_help
from migsim.config import ConfigError, StrategyOptions, from_mapping, strategy_options
from migsim.options import OptionInfo, convert, describe, option_infos
from migsim.registry import registered, strategy_names

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "src/migsim/engine"
STRATEGIES = ROOT / "src/migsim/strategies"


def test_generated_schema_and_docs_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools/sync_options.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_option_declares_unit_default_source_and_meaning():
    for name, cls in registered().items():
        assert issubclass(cls.Options, StrategyOptions), name
        for o in describe(cls.Options):
            assert o["help"] and o["source"], (name, o["name"])
            assert o["unit"], (name, o["name"])
            # the default passes its own validation
            assert convert(o["name"], o["info"], o["default"]) == o["default"]
            # and its text form (docs, schema, help) parses back to it
            if o["kind"] not in ("choice", "bool"):
                back = convert(o["name"], o["info"], o["default_text"])
                assert back == pytest.approx(o["default"]), (name, o["name"])


def test_help_lists_every_strategy_and_option_with_its_default():
    text = strategy_help()
    for name in strategy_names():
        assert re.search(rf"^  {name}: ", text, re.M), name
        for o in describe(registered()[name].Options):
            assert f"{o['name']} = {o['default_text']} [" in text, (name, o["name"])


def test_run_choices_come_from_the_registry(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--strategy", "teleport", "--workload", "idle"])
    err = capsys.readouterr().err
    for name in strategy_names():
        assert name in err


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        # an option of another strategy: the key, whose it is, what this strategy allows
        (["strategy.push=false"], ["strategy.push", "post_copy", "not of pre_copy", "max_rounds"]),
        # a number without a unit
        (["strategy.downtime_limit=300"], ["strategy.downtime_limit", "no unit", "300ms"]),
        (["strategy.max_rate=125000000"], ["strategy.max_rate", "no unit", "Mbit/s"]),
        # an unknown option
        (["strategy.warp=9"], ["strategy.warp", "unknown", "max_rounds"]),
    ],
)
def test_bad_strategy_option_names_the_key_and_writes_nothing(tmp_path, capsys, sets, words):
    out = tmp_path / "out"
    args = ["run", "--strategy", "pre_copy", "--workload", "idle", "--memory", "1MiB"]
    for item in sets:
        args += ["--set", item]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    for word in words:
        assert word in err, (word, err)
    assert not out.exists()


def test_unknown_strategy_lists_the_registered_ones():
    with pytest.raises(ConfigError) as info:
        from_mapping({"strategy": {"name": "teleport"}})
    for name in strategy_names():
        assert name in str(info.value)


def test_options_are_per_strategy():
    assert "max_rounds" not in strategy_options("stop_and_copy")
    assert "push" not in strategy_options("pre_copy")
    assert "max_rounds" not in strategy_options("post_copy")
    assert set(strategy_options("pre_copy")) | set(strategy_options("post_copy")) < set(
        strategy_options("hybrid")
    )
    common = set(option_infos(StrategyOptions))
    for name in strategy_names():
        assert common <= set(strategy_options(name)), name


def test_text_quantities_need_units_and_numbers_are_base_units():
    info = OptionInfo(kind="duration", help="h", source="s")
    assert convert("k", info, "300ms") == pytest.approx(0.3)
    assert convert("k", info, 0.3) == 0.3  # a Python number: seconds
    with pytest.raises(ConfigError, match="no unit"):
        convert("k", info, "0.3")
    bare = OptionInfo(kind="size", help="h", source="s", bare=True)
    assert convert("k", bare, "16") == 16  # a *_bytes option: bytes


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_engine_imports_no_strategy_and_names_none():
    names = strategy_names()
    for path in ENGINE.glob("*.py"):
        assert not any(m.startswith("migsim.strategies") for m in _imports(path)), path
        text = path.read_text()
        assert "migsim.strategies" not in text, path
        for name in names:
            assert not re.search(rf"[\"']{name}[\"']", text), (path, name)


def test_strategy_modules_are_small():
    for path in STRATEGIES.glob("*.py"):
        assert len(path.read_text().splitlines()) < 400, path


def test_the_registry_refuses_a_name_twice_and_a_class_without_options():
    from migsim.registry import register_strategy, strategy_class
    from migsim.strategies.base import Strategy

    class Again(Strategy):
        def process(self, ctx):  # pragma: no cover - never run
            yield ctx.env.timeout(0)

    with pytest.raises(ValueError, match="registered twice"):
        register_strategy("pre_copy")(Again)
    assert strategy_class("pre_copy").__name__ == "PreCopy"

    class NoProcess:
        Options = StrategyOptions

    with pytest.raises(TypeError, match="needs Options and process"):
        register_strategy("no_process")(NoProcess)
    assert "no_process" not in strategy_names()


@pytest.mark.parametrize(
    ("strategy", "item", "hint"),
    [
        ("pre_copy", "switchover=qemu", "did you mean strategy.switchover?"),
        ("post_copy", "switchover=qemu", "strategy.switchover (an option of pre_copy, hybrid"),
        ("pre_copy", "rtt=5ms", "did you mean link.rtt?"),
        ("pre_copy", "memory=1GiB", "did you mean vm.memory?"),
    ],
)
def test_set_without_a_section_suggests_where_the_key_belongs(capsys, strategy, item, hint):
    args = ["run", "--strategy", strategy, "--workload", "idle", "--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "expected SECTION.KEY=VALUE" in err and hint in err, err
