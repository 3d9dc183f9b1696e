"""The checker of executed notebook outputs flags tracebacks, tqdm warnings, progress bars
that print an output per update and bare object reprs, and passes clean output."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests.notebooks.output_checks import notebook_problems


def executed(*outputs) -> nbformat.NotebookNode:
    cell = new_code_cell("pass")
    cell.outputs = list(outputs)
    return new_notebook(cells=[cell])


def stderr(text: str):
    return new_output("stream", name="stderr", text=text)


def result(text: str):
    return new_output("execute_result", data={"text/plain": text}, execution_count=1)


def widget_bar(desc: str):
    return new_output(
        "display_data",
        data={
            "application/vnd.jupyter.widget-view+json": {"model_id": desc, "version_major": 2},
            "text/plain": f"{desc}:   0%|          | 0/20 [00:00<?, ?batch/s]",
        },
    )


def test_clean_output_passes():
    nb = executed(
        new_output("stream", name="stdout", text="valid submission\n"),
        result("      SIC   SOD\n0%   0.2   NaN\n10%  1.0   0.5"),  # percent labels, no bar
        widget_bar("epoch 1/6"),
        widget_bar("epoch 2/6"),
        stderr("predict: 100%|██████████| 6/6 [00:03<00:00,  2.0scene/s]\n"),
    )
    assert notebook_problems(nb) == []


def test_a_traceback_is_flagged():
    error = new_output("error", ename="KeyError", evalue="'x'", traceback=["..."])
    assert notebook_problems(executed(error)) == ["cell 0: traceback (KeyError)"]
    logged = stderr("Traceback (most recent call last):\n  File ...\nValueError: no\n")
    assert notebook_problems(executed(logged))[0].startswith("cell 0: traceback")


def test_a_tqdm_warning_is_flagged():
    text = "TqdmWarning: IProgress not found. Please update jupyter and ipywidgets.\n"
    assert notebook_problems(executed(stderr(text))) == ["cell 0: TqdmWarning"]


def test_a_bar_printed_once_per_update_is_flagged():
    updates = [
        stderr(f"\repoch 1/6:  {p}%|██        | {p // 5}/20 [00:0{p // 50}<?]") for p in (5, 50, 95)
    ]
    problems = notebook_problems(executed(*updates))
    assert problems == ["cell 0: 3 outputs of the progress bar 'epoch 1/6'"]
    assert notebook_problems(executed(widget_bar("scoring"), widget_bar("scoring")))


def test_bare_object_reprs_are_flagged():
    for text in (
        "Text(0.5, 1.0, 'one training patch')",
        "PosixPath('/repo/outputs/01/results.json')",
        "<matplotlib.colorbar.Colorbar at 0x7f>",
        "[<matplotlib.lines.Line2D at 0x7f>]",
        "<Figure size 640x480 with 1 Axes>",
    ):
        assert notebook_problems(executed(result(text))), text
    # printed text and a figure's display fallback are not a cell's stray result
    figure = new_output("display_data", data={"image/png": "", "text/plain": "<Figure size 6x4>"})
    assert notebook_problems(executed(figure)) == []
