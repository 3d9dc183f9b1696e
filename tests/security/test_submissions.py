"""Hostile and careless submissions: scored only on the data they hold, within bounded memory,
and refused with one line naming the variable and the reason, never hanging.

Each case goes through `autoice score`; the data-outside-the-file cases also through
`autoice leaderboard submit` (the failure recorded) and the Codabench scoring program. Cases that
could hang or take a lot of memory on a regression run in a subprocess with a timeout, killed
with its whole process group when it runs out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from kit.charts import REFERENCE_SUFFIX
from kit.cli import main
from scoring import Leaderboard, score_submission
from scoring.codabench import main as codabench_main
from scoring.files import raw_chunks
from tests.scoring.builders import make_dataset, submission_arrays, write_submission
from tests.security.payloads import zlib_bomb

ROOT = Path(__file__).resolve().parents[2]
SHAPE = (6, 5)
#: A regression that hangs is killed after this many seconds (the checks take about one).
TIMEOUT_S = 60
#: Peak resident memory allowed to a process scoring the bomb (an honest run takes ~100 MB).
PEAK_LIMIT_MB = 500
#: What the bomb's one chunk inflates to (its stream is about 1 MB).
BOMB_BYTES = 1 << 30


@pytest.fixture
def case(tmp_path):
    """Two reference scenes (TorchGeo layout) and the arrays of a noisy prediction."""
    refs, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=2, shape=SHAPE)
    return tmp_path, refs, submission_arrays(preds)


def reference_file(tmp: Path, name: str) -> Path:
    """The reference scene file holding the charts of submission variable `name`."""
    scene = name.rsplit("_", 1)[0]
    return tmp / "data" / "test" / f"{scene}{REFERENCE_SUFFIX}"


# ------------------------------------------------------------------ hostile files


def write_virtual(path: Path, sources: dict[str, tuple[Path, str]], relative: bool) -> Path:
    """Each variable a virtual dataset reading (file, variable) of `sources`, by an absolute or
    a relative (to `path`'s folder) file name: a 7 KB file that scored 100 before."""
    with h5py.File(path, "w") as f:
        for name, (file, variable) in sources.items():
            source = os.path.relpath(file, path.parent) if relative else str(file)
            layout = h5py.VirtualLayout(shape=SHAPE, dtype="u1")
            layout[:] = h5py.VirtualSource(source, variable, shape=SHAPE)
            f.create_virtual_dataset(name, layout)
    return path


def reference_sources(tmp: Path, arrays: dict) -> dict[str, tuple[Path, str]]:
    return {name: (reference_file(tmp, name), name.rsplit("_", 1)[1]) for name in arrays}


def write_hdf5(path: Path, arrays: dict, special: dict | None = None, **options) -> Path:
    """A submission written with h5py (each variable with `options`), then `special`:
    name -> function(file, name, values) writing that variable its own way."""
    special = special or {}
    with h5py.File(path, "w") as f:
        for name, values in arrays.items():
            if name in special:
                special[name](f, name, values)
            else:
                f.create_dataset(name, data=values, **options)
    return path


# ------------------------------------------------------------------ running the commands


def score_exit(capsys, submission: Path, reference: Path, *extra: str) -> tuple[int, str]:
    """`autoice score` in this process: (exit status, stderr)."""
    code = main(["score", str(submission), "--reference", str(reference), *extra])
    return code, capsys.readouterr().err


def run_bounded(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `args` in a new process group; a run past `TIMEOUT_S` (a hang) is killed with all
    its processes, and the test fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{' '.join(args)} still running after {TIMEOUT_S} s (hangs)")
    return subprocess.CompletedProcess(args, process.returncode, out, err)


#: Runs the command given as arguments and prints its exit status, stderr and the peak
#: resident memory of the largest of its processes (workers included) as JSON.
MEASURE = textwrap.dedent(
    """
    import json, resource, subprocess, sys
    run = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": run.returncode, "err": run.stderr, "peak_mb": peak_kb / 1024}))
    """
)


def autoice(*args: str) -> list[str]:
    return [sys.executable, "-m", "kit.cli", *args]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ data outside the file


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_virtual_dataset_is_refused_by_score(case, capsys, relative):
    tmp, _, arrays = case
    sub = write_virtual(tmp / "upload_package.nc", reference_sources(tmp, arrays), relative)
    code, err = score_exit(capsys, sub, tmp / "data")
    line = one_line(err)
    assert code == 2 and line.startswith(f"autoice score: error: submission {sub} is invalid")
    name = sorted(arrays)[0]
    assert f"{name} is a virtual dataset reading " in line
    assert str(reference_file(tmp, name).name) in line


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_virtual_dataset_is_refused_and_recorded_by_leaderboard_submit(case, capsys, relative):
    tmp, _, arrays = case
    sub = write_virtual(tmp / "upload_package.nc", reference_sources(tmp, arrays), relative)
    db = tmp / "lb.sqlite"
    args = ["leaderboard", "submit", str(sub), "--team", "free points"]
    assert main([*args, "--reference", str(tmp / "data"), "--db", str(db)]) == 2
    assert "is a virtual dataset reading" in one_line(capsys.readouterr().err)
    [row] = Leaderboard(db).submissions()
    assert row["status"] == "failed" and row["team"] == "free points"
    assert f"{sorted(arrays)[0]} is a virtual dataset reading" in row["reason"]
    assert "\n" not in row["reason"] and Leaderboard(db).standings() == []


def codabench_input(tmp: Path, refs: dict) -> Path:
    """`input/ref` as a Codabench reference bundle (one netCDF, a split file); `input/res`."""
    ref = tmp / "input" / "ref"
    ref.mkdir(parents=True)
    write_submission(ref / "reference_charts.nc", submission_arrays(refs))
    scenes = sorted(refs)
    (ref / "split.csv").write_text(f"scene_id,split\n{scenes[0]},public\n{scenes[1]},private\n")
    (tmp / "input" / "res").mkdir()
    return tmp / "input"


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_virtual_dataset_is_refused_by_codabench(case, capsys, relative):
    tmp, refs, arrays = case
    inputs = codabench_input(tmp, refs)
    charts = inputs / "ref" / "reference_charts.nc"
    sources = {name: (charts, name) for name in arrays}
    write_virtual(inputs / "res" / "upload_package.nc", sources, relative)
    assert codabench_main([str(inputs), str(tmp / "output")]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("scoring failed: submission ") and "is a virtual dataset" in line
    assert not (tmp / "output" / "scores.json").exists()


def test_codabench_upload_linking_out_of_res_is_refused(case, capsys):
    tmp, refs, _ = case
    inputs = codabench_input(tmp, refs)
    (inputs / "res" / "upload_package.nc").symlink_to(inputs / "ref" / "reference_charts.nc")
    assert codabench_main([str(inputs), str(tmp / "output")]) == 2
    assert "outside the upload; refused" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("kind", ["external", "soft"])
def test_links_where_variables_are_expected_are_refused(case, capsys, kind):
    tmp, _, arrays = case
    name = sorted(arrays)[0]

    def link(f, name, values):
        if kind == "external":
            f[name] = h5py.ExternalLink(str(reference_file(tmp, name)), name.rsplit("_", 1)[1])
        else:
            f["hidden"] = values
            f[name] = h5py.SoftLink("/hidden")

    sub = write_hdf5(tmp / "upload_package.nc", arrays, {name: link})
    code, err = score_exit(capsys, sub, tmp / "data")
    line = one_line(err)
    assert (
        code == 2 and f"{name} is {'an external' if kind == 'external' else 'a soft'} link" in line
    )


def test_group_linked_twice_is_refused(case):
    """A group holding a hard link back to the root: netCDF's reader loops for ever opening
    the file (run in a subprocess: it hung before)."""
    tmp, _, arrays = case
    sub = write_hdf5(tmp / "upload_package.nc", arrays)
    with h5py.File(sub, "a") as f:
        f.create_group("loop")["up"] = f["/"]
    result = run_bounded(autoice("score", str(sub), "--reference", str(tmp / "data")))
    assert result.returncode == 2
    assert "loop/up links a group linked elsewhere too" in one_line(result.stderr)


def test_external_storage_is_refused(case, capsys):
    tmp, _, arrays = case
    name = sorted(arrays)[0]
    raw = tmp / "values.bin"
    raw.write_bytes(arrays[name].tobytes())

    def external(f, name, values):
        f.create_dataset(name, shape=SHAPE, dtype="u1", external=[(str(raw), 0, values.nbytes)])

    sub = write_hdf5(tmp / "upload_package.nc", arrays, {name: external})
    code, err = score_exit(capsys, sub, tmp / "data")
    assert code == 2 and f"{name} keeps its values in external files" in one_line(err)


# ------------------------------------------------------------------ every netCDF is scored


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"])
def test_netcdf3_submissions_score_as_the_netcdf4_one(case, fmt):
    tmp, _, arrays = case
    expected = score_submission(write_submission(tmp / "nc4.nc", arrays), tmp / "data")
    classic = {name: values.astype(np.int16) for name, values in arrays.items()}  # no uint8
    sub = write_submission(tmp / "nc3.nc", classic, format=fmt)
    for workers in (1, 2):
        report = score_submission(sub, tmp / "data", workers=workers)
        assert report.charts == expected.charts and report.combined == expected.combined
    board = Leaderboard(tmp / "lb.sqlite")
    assert board.submit(sub, "classic", tmp / "data").status == "scored"


# ------------------------------------------------------------------ bounded resources


@pytest.mark.parametrize(
    "options",
    [{"compression": "gzip", "fletcher32": True}, {"compression": "gzip", "dtype": ">i2"},
     {"compression": "gzip", "shuffle": True, "dtype": "<i4", "maxshape": (None, None),
      "chunks": (2, 5)}, {}],
    ids=["fletcher32", "big-endian", "unlimited", "contiguous"],
)  # fmt: skip
def test_honest_layouts_still_score(case, options):
    """Layouts HDF5 reads itself (after the bounded inflation check) or the raw reader takes."""
    tmp, _, arrays = case
    expected = score_submission(write_submission(tmp / "nc4.nc", arrays), tmp / "data")
    options = dict(options)
    dtype = options.pop("dtype", "u1")
    converted = {name: values.astype(dtype) for name, values in arrays.items()}
    sub = write_hdf5(tmp / "upload_package.nc", converted, **options)
    for workers in (1, 2):
        assert score_submission(sub, tmp / "data", workers=workers).charts == expected.charts


def test_partly_written_variable_still_scores(case):
    """Chunks never written hold the fill value; HDF5 reads them after the stored ones pass
    the bounded inflation check."""
    tmp, _, arrays = case
    name = sorted(arrays)[0]
    filled = {**arrays, name: arrays[name].copy()}
    filled[name][3:] = 0  # h5py's default fill value

    def partial(f, name, values):
        f.create_dataset(name, shape=SHAPE, dtype="u1", chunks=(3, 5), compression="gzip")
        f[name][:3] = values[:3]

    sub = write_hdf5(tmp / "upload_package.nc", arrays, {name: partial}, compression="gzip")
    expected = score_submission(write_submission(tmp / "nc4.nc", filled), tmp / "data")
    assert score_submission(sub, tmp / "data").charts == expected.charts


def test_chunks_larger_than_the_variable_are_refused(case, capsys):
    """Unlimited dimensions let HDF5 store chunks larger than the variable: one declared
    chunk of 16384 x 16384 int16 inflates to 512 MB of fill for a 6 x 5 variable."""
    tmp, _, arrays = case
    name = sorted(arrays)[1]

    def huge_chunks(f, name, values):
        f.create_dataset(name, data=values.astype(np.int16), maxshape=(None, None),
                         chunks=(16384, 16384), compression="gzip", shuffle=True)  # fmt: skip

    sub = write_hdf5(tmp / "upload_package.nc", arrays, {name: huge_chunks})
    code, err = score_exit(capsys, sub, tmp / "data")
    expected = f"{name} has chunks of shape (16384, 16384), larger than its shape (6, 5)"
    assert code == 2 and expected in one_line(err)


def test_unknown_filter_is_refused_by_name(case, capsys):
    tmp, _, arrays = case
    name = sorted(arrays)[2]

    def lzf(f, name, values):
        f.create_dataset(name, data=values, chunks=SHAPE, compression="lzf")

    sub = write_hdf5(tmp / "upload_package.nc", arrays, {name: lzf})
    code, err = score_exit(capsys, sub, tmp / "data")
    assert code == 2 and f"{name} uses HDF5 filter 32000 (lzf)" in one_line(err)


@pytest.mark.parametrize("dtype", ["<i2", ">i2"], ids=["raw-chunks", "hdf5-reads"])
def test_deflate_bomb_is_refused_before_inflating(case, dtype):
    """One 6 x 5 variable's only chunk is a 1 MB zlib stream of 1 GiB. Native int16 is read
    as raw chunks; big-endian int16 is left to HDF5, whose zlib filter has no bound, so its
    chunks are inflated within bounds first. Rejected without inflating more than 60 bytes."""
    tmp, _, arrays = case
    name = sorted(arrays)[0]

    def bomb(f, name, values):
        dataset = f.create_dataset(name, shape=SHAPE, dtype=dtype, chunks=SHAPE, compression="gzip")
        dataset.id.write_direct_chunk((0, 0), zlib_bomb(BOMB_BYTES))

    sub = write_hdf5(tmp / "upload_package.nc", arrays, {name: bomb}, compression="gzip")
    assert sub.stat().st_size < 2 << 20
    command = autoice("score", str(sub), "--reference", str(tmp / "data"))
    result = json.loads(run_bounded([sys.executable, "-c", MEASURE, *command]).stdout)
    line = one_line(result["err"])
    assert result["rc"] == 2, line
    assert f"{name}: the chunk at rows 0, columns 0 inflates to more than its 60 bytes" in line
    assert result["peak_mb"] < PEAK_LIMIT_MB


def test_inflating_without_libdeflate_stops_at_the_chunk_size(monkeypatch):
    monkeypatch.setattr(raw_chunks, "deflate", None)
    with pytest.raises(raw_chunks.InflateLimit, match="more than its 60 bytes"):
        raw_chunks.inflate(zlib_bomb(64 << 20), 60)
    assert raw_chunks.inflate(zlib.compress(bytes(60)), 60) == bytes(60)


# ------------------------------------------------------------------ special files


@pytest.mark.parametrize(
    ("command", "special"),
    [("score", "fifo"), ("submit", "fifo"), ("codabench", "fifo"), ("score", "/dev/zero"),
     ("submit", "/dev/zero")],
)  # fmt: skip
def test_special_files_are_refused_at_once(tmp_path, command, special):
    """A FIFO blocked `score` (its workers) and `leaderboard submit` (hashing) for ever; a
    device never ends. Refused before anything opens them."""
    refs, _ = make_dataset(tmp_path / "data", "torchgeo", n_scenes=2, shape=SHAPE)
    inputs = codabench_input(tmp_path, refs)
    path = inputs / "res" / "upload_package.nc"
    if special == "fifo":
        os.mkfifo(path)
    else:
        path = Path(special)
    reference = ["--reference", str(tmp_path / "data")]
    args = {
        "score": autoice("score", str(path), *reference, "--workers", "2"),
        "submit": autoice(
            "leaderboard",
            "submit",
            str(path),
            "--team",
            "t",
            *reference,
            "--db",
            str(tmp_path / "lb.sqlite"),
        ),  # fmt: skip
        "codabench": [sys.executable, "-m", "scoring.codabench", str(inputs), str(tmp_path / "o")],
    }[command]
    result = run_bounded(args)
    kind = "a FIFO" if special == "fifo" else "a character device"
    assert result.returncode == 2
    assert f"submission {path}: not a regular file ({kind}); refused" in one_line(result.stderr)


def test_a_folder_is_refused_as_a_submission(case, capsys):
    tmp, _, _ = case
    for command in (["score", str(tmp)], ["leaderboard", "submit", str(tmp), "--team", "t"]):
        db = ["--db", str(tmp / "lb.sqlite")] if command[0] == "leaderboard" else []
        assert main([*command, "--reference", str(tmp / "data"), *db]) == 2
        assert "not a regular file (a folder); refused" in one_line(capsys.readouterr().err)


# ------------------------------------------------------------------ references


def test_reference_symlinked_out_of_its_folder_is_refused(case, capsys):
    tmp, _, arrays = case
    sub = write_submission(tmp / "upload_package.nc", arrays)
    linked = tmp / "linked" / "test"
    linked.mkdir(parents=True)
    for file in sorted((tmp / "data" / "test").glob(f"*{REFERENCE_SUFFIX}")):
        (linked / file.name).symlink_to(file)
    code, err = score_exit(capsys, sub, tmp / "linked")
    assert code == 2 and "outside the reference folder" in one_line(err)
    inside = tmp / "inside"  # links that stay inside the folder are fine: test/ -> pool/
    (inside / "pool").mkdir(parents=True)
    (inside / "test").mkdir()
    for file in sorted((tmp / "data" / "test").glob(f"*{REFERENCE_SUFFIX}")):
        (inside / "pool" / file.name).write_bytes(file.read_bytes())
        (inside / "test" / file.name).symlink_to(Path("..") / "pool" / file.name)
    assert score_submission(sub, inside).charts == score_submission(sub, tmp / "data").charts


def test_reference_reading_files_outside_its_folder_is_refused(case, capsys):
    """A one-file reference whose charts are virtual datasets or external links to files
    elsewhere: refused before anything follows them."""
    tmp, _, arrays = case
    sub = write_submission(tmp / "upload_package.nc", arrays)
    (tmp / "ref_virtual").mkdir()
    (tmp / "ref_linked").mkdir()
    virtual = write_virtual(tmp / "ref_virtual" / "charts.nc", reference_sources(tmp, arrays), True)
    with h5py.File(tmp / "ref_linked" / "charts.nc", "w") as f:
        for name, (file, variable) in reference_sources(tmp, arrays).items():
            f[name] = h5py.ExternalLink(str(file), variable)
    for reference, reason in ((virtual.parent, "is a virtual dataset reading"),
                              (tmp / "ref_linked", "is an external link to")):  # fmt: skip
        code, err = score_exit(capsys, sub, reference)
        line = one_line(err)
        assert code == 2 and "holds data in other files" in line and reason in line


# ------------------------------------------------------------------ failures are recorded


def test_leaderboard_records_a_scorer_crash_with_its_reason(case, monkeypatch):
    from scoring.leaderboard import board as leaderboard

    tmp, _, arrays = case
    sub = write_submission(tmp / "upload_package.nc", arrays)

    def crash(*args, **kwargs):
        raise RuntimeError("NetCDF: HDF error\nsecond line")

    monkeypatch.setattr(leaderboard, "score_all_scenes", crash)
    board = Leaderboard(tmp / "lb.sqlite")
    with pytest.raises(RuntimeError):
        board.submit(sub, "team", tmp / "data")
    [row] = board.submissions()
    assert row["status"] == "failed"
    assert row["reason"] == "scorer error (RuntimeError): NetCDF: HDF error"
