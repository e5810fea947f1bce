"""Every config of a grid has its own name and `alibench.config` tag: MLflow's "Group by" on
the tag must never average two configs into one band."""

from benchmark.grid import expand_grid
from benchmark.run_config import config_key, run_key, run_name
from benchmark.runs import display_tags
from benchmark.tracking import TAG_CONFIG

AXES = {"model.dropout": [0, 0.2], "train.steps": [5, 10], "eval.recon_count": [100, 200],
        "seed": [0, 1]}


def _grid(axes: dict, base: dict | None = None) -> list:
    return expand_grid({"name": "t", "base": {"data": {"dataset": "digits"}, **(base or {})},
                        "axes": axes}).runs


def test_a_model_a_train_and_an_eval_field_varied_give_distinct_names_and_tags():
    runs = _grid(AXES)
    assert len(runs) == 16
    assert len({run_name(r) for r in runs}) == 16
    tag_of_config: dict[str, set[str]] = {}
    for r in runs:
        tag_of_config.setdefault(config_key(r), set()).add(display_tags(r)[TAG_CONFIG])
    assert len(tag_of_config) == 8
    assert all(len(tags) == 1 for tags in tag_of_config.values())  # seeds share their tag
    assert len(set().union(*tag_of_config.values())) == 8  # and no two configs share one
    name = run_name(next(r for r in runs if r.model.dropout == 0.2 and r.train.steps == 10
                         and r.eval.recon_count == 200 and r.seed == 1))
    assert name.endswith("-dropout=0.2-steps=10-recon_count=200-s1"), name


def test_fields_the_name_already_shows_add_nothing():
    runs = _grid({"optim.lr_g": [1e-4, 1e-3], "seed": [0, 1]})
    assert [r.label for r in runs] == ["", "", "", ""]
    assert run_name(runs[0]) == "digits-adam-alternating-none-lr0.0001_0.0001-s0"


def test_a_field_that_varies_with_a_shown_one_stays_out_of_the_name():
    """One explicit run per dataset, each with its own steps: the dataset tells them apart."""
    runs = expand_grid({"name": "t", "runs": [
        {"data.dataset": "digits", "train.steps": 5},
        {"data.dataset": "mixture25", "train.steps": 9, "eval.metrics": ["recon_mse"]}]}).runs
    assert [r.label for r in runs] == ["", ""]


def test_the_label_is_not_in_the_key():
    (plain,) = _grid({"seed": [0]})
    (labelled,) = _grid({"seed": [0]}, {"label": "mine"})
    assert run_key(plain) == run_key(labelled)
    assert run_name(labelled).endswith("-mine-s0")
