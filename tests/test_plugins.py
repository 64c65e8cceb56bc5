import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from declipbench.pipeline.config import deep_merge, expand_variants, grid_points, method_entries
from declipbench.foundation.contracts import PluginError
from declipbench.pipeline.plugins import (discover_methods, import_method_module, load_method, method_class,
                                          method_params, validate_declaration)

ROOT = Path(__file__).resolve().parent.parent


def test_discovers_shipped_methods_and_skips_template():
    methods = discover_methods()
    assert {"identity", "supervised", "self_supervised"} <= set(methods)
    assert "_template" not in methods and "template" not in methods


def test_declared_variants_of_table1_methods():
    m = discover_methods()
    assert set(m["supervised"].variants) >= {"full", "subset5", "ei"}
    assert set(m["self_supervised"].variants) >= {"proposed", "mc_only", "with_bias"}
    assert m["self_supervised"].supervision == "measurements"
    assert m["supervised"].supervision == "pairs"
    assert m["identity"].trains is False


def _write_method(tmp_path, decl: dict, name="mymethod"):
    d = tmp_path / "methods" / name
    shutil.copytree(ROOT / "methods" / "_template", d, ignore=shutil.ignore_patterns("__pycache__"))
    (d / "method.yaml").write_text(yaml.safe_dump(decl))
    return d / "method.yaml"


def _good(name="mymethod"):
    return {"name": name, "summary": "x", "supervision": "none", "trains": False, "modalities": ["audio"],
            "variants": {"default": {}}}


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("supervision"), "supervision"),
    (lambda d: d.update(supervision="some"), "supervision"),
    (lambda d: d.update(modalities=["video"]), "modalities.0"),
    (lambda d: d.update(trains="yes"), "trains"),
    (lambda d: d.update(variants={}), "variants"),
    (lambda d: d.update(colour="blue"), "(top level)"),
    (lambda d: d.update(resources={"gpu": "maybe"}), "resources.gpu"),
])
def test_malformed_declaration_names_file_and_field(tmp_path, mutate, field):
    decl = _good()
    mutate(decl)
    path = _write_method(tmp_path, decl)
    with pytest.raises(PluginError) as info:
        validate_declaration(path)
    msg = str(info.value)
    assert str(path) in msg and repr(field) in msg


def test_name_must_match_folder(tmp_path):
    path = _write_method(tmp_path, _good("other"), name="mymethod")
    with pytest.raises(PluginError, match="field 'name'.*folder"):
        validate_declaration(path)


def test_invalid_yaml_names_file(tmp_path):
    path = _write_method(tmp_path, _good())
    path.write_text("name: [unclosed\n")
    with pytest.raises(PluginError, match=str(path)):
        validate_declaration(path)


def test_declaration_reread_when_the_file_changes_and_never_shared(tmp_path):
    """Declarations are parsed once per file content (start-up cost); an edit is seen, a caller's change
    to a returned declaration is not."""
    import os

    path = _write_method(tmp_path, _good())
    first = validate_declaration(path)
    first.data["resources"]["threads"] = 99
    assert validate_declaration(path).data["resources"]["threads"] != 99
    edited = _good()
    edited["resources"] = {"threads": 3}
    path.write_text(yaml.safe_dump(edited))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # even within one clock tick
    assert validate_declaration(path).data["resources"]["threads"] == 3


def test_defaults_filled():
    d = validate_declaration(ROOT / "methods" / "identity" / "method.yaml")
    assert d.env == "torch" and d.resources["gpu"] == "none"


def test_grid_expansion_names_and_params():
    pts = grid_points({"ei.g_max": [1.5, 2], "ei.weight": [1]})
    assert [p[0] for p in pts] == ["g_max=1.5,weight=1", "g_max=2,weight=1"]
    assert pts[1][1] == {"ei": {"g_max": 2, "weight": 1}}


def test_expand_variants_merges_declaration_config_and_grid():
    decl = discover_methods()["self_supervised"]
    out = dict(expand_variants(decl, {"variants": ["proposed_detached_use_mask"], "params": {"training": {"lr": 0.1}},
                                      "grid": {"ei.g_max": [3]}}, "x"))
    assert out == {"proposed_detached_use_mask@g_max=3": {
        "losses": ["mc", "ei"], "training": {"lr": 0.1},
        "ei": {"stop_gradient": True, "target_on_clipped": "measurement", "g_max": 3}}}
    assert decl.variant_label("proposed_detached_use_mask@g_max=3") == "SSL, re-clipped measurements as EI targets (g_max=3)"


def test_unknown_variant_and_method_are_clear():
    methods = discover_methods()
    with pytest.raises(PluginError, match="no variant 'nope'"):
        expand_variants(methods["supervised"], {"variants": ["nope"]}, "experiments.t")
    with pytest.raises(PluginError, match="unknown method 'nope'"):
        method_entries({"methods": ["nope"]}, methods, "experiments.t")


def test_methods_all_takes_every_method_of_the_modality():
    names = [n for n, _ in method_entries({"methods": "all", "modality": "audio"}, discover_methods(), "e")]
    assert {"identity", "supervised", "self_supervised"} <= set(names)


def test_deep_merge_does_not_mutate():
    a = {"t": {"x": 1}}
    b = deep_merge(a, {"t": {"y": 2}})
    assert a == {"t": {"x": 1}} and b == {"t": {"x": 1, "y": 2}}


def test_identity_returns_input():
    from declipbench.foundation.contracts import Context

    _, m = load_method("identity")
    y = np.random.default_rng(0).standard_normal((2, 50)).astype(np.float32)
    np.testing.assert_array_equal(m.reconstruct(y, Context({}, -1, 1)), y)


# ------------------------------------------------------------------------- method folders as packages
def test_a_method_folder_is_a_package_with_private_modules(tmp_path):
    """The template's method.py imports its private helpers.py relatively; an edit to a helper is seen."""
    import os

    from declipbench.foundation.contracts import Context

    path = _write_method(tmp_path, {**_good(), "variants": {"default": {"params": {"gain": 2.0}}}})
    decl = validate_declaration(path)
    cls = method_class(decl)
    assert cls.__module__.startswith("declipbench_methods.mymethod_") and cls.supervision == "none"
    params = method_params(cls, {"gain": 2.0}, "w")
    y = np.array([[0.5, 1.0, -1.0, 0.2]], np.float32)
    np.testing.assert_array_equal(cls().reconstruct(y, Context(params, -1, 1)), np.array([[0.5, 2.0, -2.0, 0.2]], np.float32))
    helpers = path.parent / "helpers.py"
    helpers.write_text(helpers.read_text().replace("gain * y", "(gain + 1) * y"))
    st = helpers.stat()
    os.utime(helpers, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    np.testing.assert_array_equal(method_class(decl)().reconstruct(y, Context(params, -1, 1)),
                                  np.array([[0.5, 3.0, -3.0, 0.2]], np.float32))
    assert import_method_module(path.parent, "helpers").scale_clipped is not None


def test_a_broken_method_py_names_the_file(tmp_path):
    path = _write_method(tmp_path, _good())
    (path.parent / "method.py").write_text("def broken(:\n")
    with pytest.raises(PluginError, match=r"method.py: syntax error at line 1"):
        method_class(validate_declaration(path))
    (path.parent / "method.py").write_text("import numpy\n")
    with pytest.raises(PluginError, match="exactly one subclass of declipbench.Method"):
        method_class(validate_declaration(path))


def test_a_folder_without_method_yaml_is_named(tmp_path):
    from declipbench.pipeline.plugins import unknown_method

    (tmp_path / "methods" / "half").mkdir(parents=True)
    err = unknown_method("half", discover_methods(tmp_path), tmp_path)
    assert "exists but has no method.yaml" in str(err)
    assert "exists" not in str(unknown_method("absent", {}, tmp_path))


@pytest.mark.parametrize("name", sorted(discover_methods(include_private=True)))
def test_every_variant_of_every_method_resolves(name):
    """Each variant's params in method.yaml (and its test_params) are known to the method's declaration."""
    decl = discover_methods(include_private=True)[name]
    cls = method_class(decl)
    for v, body in decl.variants.items():
        method_params(cls, deep_merge(body.get("params") or {}, decl.test_params), f"{decl.path}: variants.{v}")


def test_a_misspelt_variant_parameter_names_method_yaml(tmp_path):
    path = _write_method(tmp_path, {**_good(), "variants": {"default": {"params": {"gian": 2.0}}}})
    cls = method_class(validate_declaration(path))
    with pytest.raises(PluginError, match=r"variants.default.params.gian: unknown parameter; known: \['gain'\]"):
        method_params(cls, {"gian": 2.0}, f"{path}: variants.default.params")


def test_describe_lists_the_declared_parameters(capsys):
    from declipbench.cli import main

    assert main(["describe", "method", "social_sparsity"]) == 0
    out = capsys.readouterr().out
    assert "method social_sparsity, Social sparsity (methods/social_sparsity)" in out
    assert "| `lambdas.num` | `20` | int, >= 1 |" in out and "| `shrinkage` | `'pew'` | str, one of ['pew', 'ew'] |" in out
    assert main(["describe", "dataset", "synthetic_music"]) == 0
    assert "| `splits.train` | `2000` | int, >= 0 |" in capsys.readouterr().out
    assert main(["describe", "method", "magic"]) == 2


def test_a_copy_of_the_package_without_its_checkout_is_refused_with_what_to_do(tmp_path):
    """A non-editable install puts the package in site-packages without methods/, datasets/, workflow/:
    the suite refuses it, naming what is missing and the editable install."""
    from declipbench.foundation.contracts import ROOT, require_checkout

    assert require_checkout() == ROOT
    (tmp_path / "declipbench").mkdir()
    with pytest.raises(RuntimeError, match=r"no methods, datasets, workflow/ beside the package.*pip install -e"):
        require_checkout(tmp_path)
    with pytest.raises(RuntimeError, match="no methods/"):
        discover_methods(tmp_path)
