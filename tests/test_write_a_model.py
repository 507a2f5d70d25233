"""docs/write-a-model.md's promises: its Python blocks run as pasted, in order, in one session, and print what the
page shows; the model fits in 40 lines of code; its two modes agree and its gradient is a finite difference; the
generic fit recovers the confidence bound; the generic runner's policy runs are the baseline until their day."""

import ast
import io
import json
import re
import tokenize
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
import torch

from populace.analysis import PolicyError
from populace.core import rng
from populace.core.runner import run

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "write-a-model.md"
NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")


def python_blocks() -> list[tuple[str, str | None]]:
    """Each ```python block with the ```text block printed right after it (None when there is none)."""
    pairs = re.findall(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```)?", GUIDE.read_text(), flags=re.DOTALL)
    return [(code, shown or None) for code, shown in pairs]


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a module, class or function docstring."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    layout = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in layout:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    """The guide's blocks run in order in one namespace (in a fresh folder, on one thread); returns the namespace,
    each block's printed output and the folder."""
    folder = tmp_path_factory.mktemp("write-a-model")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the guide advises for simulations this small
    namespace: dict[str, object] = {"__name__": "write_a_model"}
    printed = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for k, (code, _) in enumerate(python_blocks()):
            out = io.StringIO()
            with redirect_stdout(out):
                exec(compile(code, f"{GUIDE.name}, block {k}", "exec"), namespace)
            printed.append(out.getvalue())
    yield namespace, printed, folder
    torch.set_num_threads(threads)


def test_the_guide_has_its_five_blocks_and_the_model_fits_in_40_lines():
    blocks = python_blocks()
    assert len(blocks) == 5
    model_block = blocks[0][0]
    assert code_lines(model_block) <= 40
    claimed = re.search(r"## The model \((\d+) lines of code\)", GUIDE.read_text())
    assert claimed, "the model's heading gives its line count"
    assert int(claimed.group(1)) == code_lines(model_block)
    sir = Path(__file__).resolve().parents[1] / "src" / "populace" / "models" / "sir" / "model.py"
    assert code_lines(sir.read_text()) == 68  # the counter agrees with SIR's stated count


def test_each_block_prints_what_the_guide_shows(guide):
    _, printed, _ = guide
    for k, ((_, shown), got) in enumerate(zip(python_blocks(), printed, strict=True)):
        if shown is None:
            assert got == "", k
            continue
        assert NUMBER.sub("#", got).split() == NUMBER.sub("#", shown).split(), k  # the same words and layout
        # the same numbers, to the last digit shown (a platform's last float bits may move a rounded digit by one)
        for a, b in zip(NUMBER.findall(got), NUMBER.findall(shown), strict=True):
            digits = len(b.partition(".")[2])
            assert float(a) == pytest.approx(float(b), abs=1.01 * 10**-digits), (k, a, b)


def test_bad_settings_and_values_name_the_parameter(guide):
    namespace, _, _ = guide
    opinions, contacts = namespace["Opinions"], namespace["contacts"]
    with pytest.raises(ValueError, match=r"BoundedConfidence.confidence must be a number in \(0, 1\), got 1.5"):
        opinions(contacts, confidence=1.5)
    with pytest.raises(ValueError, match=r"need 0 < convergence <= 1, softness > 0 and 0 <= p_fresh < 1, got 1.5"):
        opinions(contacts, convergence=1.5)
    model = namespace["model"]
    assert "bounded_confidence.contacts.col" in dict(model.named_buffers())  # moves with model.to(device)
    assert "convergence=0.5, softness=0.02, p_fresh=0.01" in repr(model)


def test_both_modes_give_one_trajectory_and_the_gradient_is_a_finite_difference(guide):
    namespace, _, _ = guide
    fast, graded, model = namespace["traj"], namespace["graded"], namespace["model"]
    for name in ("mean", "spread", "extreme_fraction"):
        torch.testing.assert_close(graded[name].detach(), fast[name], rtol=1e-5, atol=1e-6)
    gradient = float(namespace["natural_gradients"](model)["bounded_confidence.confidence"])
    opinions, contacts = namespace["Opinions"], model.bounded_confidence.contacts

    def final_spread(confidence: float) -> float:
        with torch.no_grad():
            return float(run(opinions(contacts, confidence=confidence), 20, seed=1, progress=False)["spread"][-1])

    # After 20 days the derivative itself varies on a small scale (autograd gives -0.84 at eps 0.1495 and -0.76 at
    # 0.1505), so the difference is taken over +-1e-4, where it is within 0.2% of autograd; float32 rounding of the
    # spread (~1e-8) is under 1e-4 of the difference. Tolerance 1%.
    h = 1e-4
    difference = (final_spread(0.15 + h) - final_spread(0.15 - h)) / (2 * h)
    assert gradient < 0
    assert gradient == pytest.approx(difference, rel=0.01)


def test_the_generic_fit_recovers_the_confidence_bound(guide):
    namespace, _, _ = guide
    fitted, truth = float(namespace["fitted"]), namespace["TRUE_CONFIDENCE"]
    # measured 0.1475 from 0.3; fits from 0.3 and 0.08 with fit seeds 0-2 ended in [0.146, 0.157] (data: seeds
    # 100-103, 2,000 agents): 5% covers the data's seed noise; the error must also shrink to under a tenth
    assert fitted == pytest.approx(truth, rel=0.05)
    assert abs(fitted - truth) < 0.1 * abs(0.3 - truth)
    history = namespace["history"]
    assert list(history.columns[:3]) == ["iteration", "loss", "spread"]  # a column per loss term
    assert history["loss"].iloc[-5:].mean() < 0.01 * history["loss"].iloc[0]


@pytest.mark.slow
def test_the_fit_from_below_ends_near_the_truth_and_the_default_clipping_stalls(guide):
    namespace, _, _ = guide
    problem_class, opinions, contacts = namespace["OpinionFit"], namespace["Opinions"], namespace["contacts"]
    fit, settings = namespace["fit"], namespace["FitSettings"]
    observed, truth = namespace["observed"], namespace["TRUE_CONFIDENCE"]

    def fitted(start: float, clip_norm: float) -> float:
        problem = problem_class(opinions(contacts, confidence=start), observed)
        fit(problem, settings(iterations=30, learning_rate=0.1, learning_rate_decay=0.93, clip_norm=clip_norm,
                              seeds_per_step=2), progress=False)
        return float(problem.model.bounded_confidence.confidence.detach())

    assert fitted(0.08, 1.0) == pytest.approx(truth, rel=0.05)  # the guide: 0.154 from below
    assert fitted(0.3, 5.0) < 0.142  # the guide: with the default clipping the fit from 0.3 stalls at 0.139


def test_policy_runs_are_the_baseline_until_day_10_and_act_after(guide):
    namespace, _, folder = guide
    study = namespace["study"]
    out = folder / "populace-out" / "opinions"
    natural = namespace["natural_parameters"](namespace["problem"].model)  # the fitted values, natural units
    draw = {name: value.double().reshape(-1).tolist() for name, value in natural.items()}
    for member in study.members:
        runs = out / "members" / member.name
        base = pd.read_parquet(runs / "baseline.records.parquet")
        wide = pd.read_parquet(runs / "open-minds.records.parquet")
        zealots = pd.read_parquet(runs / "zealots.records.parquet")
        for frame in (wide, zealots):
            pd.testing.assert_frame_equal(frame.iloc[:11], base.iloc[:11])  # days 0-10: the baseline, exactly
            assert not frame.iloc[11:].equals(base.iloc[11:])
        last = base.iloc[-1]
        assert wide.iloc[-1]["spread"] < 0.5 * last["spread"]  # consensus under the wider bound
        ids = torch.arange(2000, dtype=torch.int32)
        zealot_share = float((rng.uniform(member.seed, 0, "zealot", ids) < 0.05).float().mean())
        assert zealots.iloc[-1]["extreme_fraction"] > zealot_share  # every zealot, and some it drew to the end
        assert zealots.iloc[-1]["mean"] > last["mean"]
        stored = json.loads((runs / "parameters.json").read_text())
        assert stored["values"] == pytest.approx(draw)  # each member ran at the fitted value


def test_a_bad_policy_gets_the_message_the_guide_quotes(guide):
    namespace, _, _ = guide
    quoted = "policy 'p': confidence must be a number > 0 and < 1, got 1.5"
    assert quoted in GUIDE.read_text()
    with pytest.raises(PolicyError, match=re.escape(quoted)):
        namespace["spec"].policy({"name": "p", "from": 10, "confidence": 1.5})
    with pytest.raises(PolicyError, match="Opinions accepts: confidence, zealots"):
        namespace["spec"].policy({"name": "p", "from": 10, "zealot": 0.1})


def test_the_changes_of_one_policy_compose_in_either_order(guide):
    namespace, _, _ = guide
    spec = namespace["spec"]
    both = [spec.apply(spec.build(None), spec.policy({"name": "both", "from": 10, **dict(changes)}))
            for changes in ((("zealots", 0.05), ("confidence", 0.3)), (("confidence", 0.3), ("zealots", 0.05)))]
    for model in both:
        assert float(model.bounded_confidence.before.confidence.detach()) == pytest.approx(0.2)  # until day 10
        assert float(model.bounded_confidence.after.inner.confidence.detach()) == pytest.approx(0.3)
        assert model.bounded_confidence.after.fraction == 0.05
    runs = [run(model, 15, seed=3, progress=False).to_pandas() for model in both]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    alone = run(spec.build(None), 15, seed=3, progress=False).to_pandas()
    pd.testing.assert_frame_equal(runs[0].iloc[:11], alone.iloc[:11])
    assert runs[0]["extreme_fraction"].iloc[-1] > 0.05  # the zealots act with the wider bound
