"""Classes of bad configuration values refused at validation (and so at `snakemake -n`), each naming the
file and the field: a key given twice, a number that is not finite, two rows with one label."""

import copy
import re

import pytest
import yaml

from conftest import ROOT, snakemake
from declipbench.pipeline.config import ConfigError, load_config, validate_config
from declipbench.foundation.schema import DuplicateKeyError, load_yaml

TINY = ROOT / "tests" / "configs" / "tiny.yaml"


def test_a_key_given_twice_is_refused_naming_the_file_the_key_and_both_lines(tmp_path):
    text = TINY.read_text().replace("    tau: 0.1\n", "    tau: 0.1\n    tau: 0.5\n", 1)
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    with pytest.raises(DuplicateKeyError, match=r"twice.yaml: line \d+: key 'tau' is given twice .*first on line \d+"):
        load_config(path)
    with pytest.raises(DuplicateKeyError, match="'b' is given twice"):
        (tmp_path / "m.yaml").write_text("a: 1\nb: {x: 1}\nb: 2\n")
        load_yaml(tmp_path / "m.yaml")
    proc = snakemake("-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0 and "key 'tau' is given twice" in proc.stdout + proc.stderr


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("where", [("experiments", "table1", "tau"),
                                   ("experiments", "table1", "method_defaults", "training", "lr"),
                                   ("figures", "input_sdr", "input_sdrs", 0)])
def test_a_number_that_is_not_finite_is_refused_anywhere(value, where):
    cfg = yaml.safe_load(TINY.read_text())
    node = cfg
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    dotted = ".".join(str(k) for k in where[:-1]) + (f"[{where[-1]}]" if isinstance(where[-1], int) else f".{where[-1]}")
    with pytest.raises(ConfigError, match=re.escape(f"c.yaml: {dotted} = {value!r} is not a finite number")):
        validate_config(cfg, "c.yaml")


def test_two_rows_with_one_label_are_refused(monkeypatch):
    """Two rows of one experiment with the same label would be two identical-looking table rows: refused,
    naming both rows and where to change a label."""
    import declipbench.pipeline.config as config_module
    from declipbench.pipeline.plugins import discover_methods

    cfg = yaml.safe_load(TINY.read_text())
    validate_config(copy.deepcopy(cfg), "c.yaml")
    methods = copy.deepcopy(discover_methods())
    methods["identity"].data["variants"]["default"]["label"] = "Supervised"
    monkeypatch.setattr(config_module, "discover_methods", lambda *a, **k: methods)
    with pytest.raises(ConfigError, match=r"experiments.table1.methods: supervised/full and identity/default have the "
                                          r"same label 'Supervised'"):
        validate_config(cfg, "c.yaml")


@pytest.mark.parametrize("module", ["/tmp/declipbench_evil/evil", "../../x", "datasets/../sqam", "sqam.py"])
def test_a_dataset_module_name_that_is_a_path_is_refused_and_never_imported(tmp_path, module):
    """A config name that selects code (here a survey's dataset module) is checked against the discovered
    modules before any import: a file elsewhere is never run, even at dry run."""
    evil = tmp_path / "evil.py"
    marker = tmp_path / "ran"
    evil.write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    name = str(tmp_path / "evil") if module.startswith("/tmp/declipbench_evil") else module
    cfg["datasets"]["sqam"]["module"] = name
    with pytest.raises(ConfigError, match="unknown dataset module"):
        validate_config(cfg, "c.yaml")
    cfg2 = yaml.safe_load(TINY.read_text())
    cfg2["datasets"]["synth_music"]["module"] = name
    with pytest.raises(ConfigError, match="unknown dataset module"):
        validate_config(cfg2, "c.yaml")
    assert not marker.exists()
