"""The contract every chart model keeps, checked over every registered model type.

A model maps inputs [B, C, H, W] to `{chart: [B, K, H, W]}` keyed like `model.kinds` (K: the
chart's classes, or 1 for a SIC regression), is trainable end to end (every weight gets a
gradient), is deterministic and batch-independent in eval mode, and takes the odd tile sizes the
Predictor pads. The cases are each registered type built from its registered `example`
(`kit.models.registry`), plus head and architecture variants; a newly registered type is
covered without editing this file, and `CONTRACT` lists the checks for one config (a test
registering a toy type runs them too). Which export paths work (TorchScript scripting and
tracing, `torch.compile`) is stated per case of the kit's own types below; the tests fail when
a statement stops being true.
"""

from __future__ import annotations

import multiprocessing
import warnings

import pytest
import torch

from kit.charts import CHARTS, N_CLASSES
from kit.data.config import DataConfig
from kit.experiment.predict import MODEL_STRIDE, Predictor, pad_to_multiple
from kit.models import MODEL_TYPES, ModelConfig, build_model, to_scores
from kit.models.heads import REGRESSION, head_kinds
from kit.models.registry import ModelType

IN_CHANNELS = 5
BATCH = 2
SIZE = (64, 64)


def example(entry: ModelType) -> ModelConfig:
    """The small instance a registered model type names for the contract tests."""
    return ModelConfig(type=entry.name, **entry.example)


#: Tiny configs of every registered model type (its example: unet, multitask_unet, smp, the
#: factory's default smp architecture with a small encoder) and of head and architecture
#: variants; smp encoders get no pretrained weights (`encoder_weights` None, as in the
#: factory's default), so nothing is downloaded.
CASES = {name: example(entry) for name, entry in MODEL_TYPES.items()}
VARIANTS = {
    "unet_sic_regression": ModelConfig(
        type="unet", levels=2, filters=[4, 4, 8], sic_head="regression"
    ),
    "multitask_unet_separate": ModelConfig(
        type="multitask_unet",
        filters=[4, 4, 8],
        decoder_filters=[4, 4],
        separate_decoders=True,
        sic_head="classification",
    ),  # fmt: skip
    # Another smp architecture, its encoder cut to 3 stages (`model.extra`) to stay fast.
    "smp_deeplabv3plus_resnet18_depth3": ModelConfig(
        type="smp",
        arch="DeepLabV3Plus",
        encoder="resnet18",
        extra={"encoder_depth": 3, "decoder_channels": 16},
    ),  # fmt: skip
}
CASES |= VARIANTS
#: The kit's own model types: the export statements below are made for their cases.
KIT_TYPES = ("unet", "multitask_unet", "smp")

#: Prefixes of the parameters that get no gradient (none elsewhere). smp builds the whole
#: ResNet encoder whatever `encoder_depth` is: with 3 stages, layer3 and layer4 are built, saved
#: and optimised but never used (DistributedDataParallel without `find_unused_parameters`
#: refuses such a model).
NO_GRADIENT: dict[str, tuple[str, ...]] = {
    "smp_deeplabv3plus_resnet18_depth3": ("net.encoder.layer3.", "net.encoder.layer4."),
}

#: `torch.jit.script`: no model scripts. The U-Net decoder zips its ModuleList with the encoder
#: features (TorchScript needs a statically known length: kit/models/unet.py), and the smp
#: wrapper's `scale_regression` is annotated with `Mapping` (no TorchScript type:
#: kit/models/heads.py). Value: the kit file the scripting error points at, or None if it scripts.
SCRIPTABLE: dict[str, str | None] = {
    "unet": "kit/models/unet.py",
    "unet_sic_regression": "kit/models/unet.py",
    "multitask_unet": "kit/models/unet.py",
    "multitask_unet_separate": "kit/models/unet.py",
    "smp": "kit/models/heads.py",
    "smp_deeplabv3plus_resnet18_depth3": "kit/models/heads.py",
}

#: `torch.jit.trace`: every model traces, but a trace records Python control flow as taken. The
#: U-Nets' graphs hold at any input size (the decoder resizes to its skip connections); the smp
#: wrapper's padding to the encoder stride is baked in, so its trace is right only for sizes that
#: need no padding (multiples of the stride, as `pad_to_multiple(x, MODEL_STRIDE)` makes them).
TRACE_ANY_SIZE: dict[str, bool] = {
    "unet": True,
    "unet_sic_regression": True,
    "multitask_unet": True,
    "multitask_unet_separate": True,
    "smp": False,
    "smp_deeplabv3plus_resnet18_depth3": False,
}

#: `torch.compile(fullgraph=True)`: dynamo captures each model whole, without a graph break
#: (checked with the `eager` backend, so no C++ toolchain is needed; inductor code generation
#: is the toolchain's business, not the model's). Checked on one case per network (a few
#: seconds each); the other cases differ from these only in their heads.
COMPILES_FULLGRAPH: dict[str, bool] = {
    "unet": True,
    "multitask_unet_separate": True,
    "smp": True,
    "smp_deeplabv3plus_resnet18_depth3": True,
}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make(case: str | ModelConfig, charts=CHARTS) -> torch.nn.Module:
    """The case's model (a case name or a config), seeded."""
    torch.manual_seed(0)
    return build_model(CASES[case] if isinstance(case, str) else case, IN_CHANNELS, charts)


def inputs(*size: int, batch: int = BATCH, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, IN_CHANNELS, *size, generator=torch.Generator().manual_seed(seed))


def expected_channels(kinds: dict[str, str]) -> dict[str, int]:
    return {c: 1 if k == REGRESSION else N_CLASSES[c] for c, k in kinds.items()}


def assert_outputs_equal(a: dict, b: dict, exact: bool = True) -> None:
    assert list(a) == list(b)
    for chart in a:
        assert a[chart].shape == b[chart].shape
        if exact:
            torch.testing.assert_close(a[chart], b[chart], rtol=0, atol=0)
        else:
            torch.testing.assert_close(a[chart], b[chart], rtol=1e-4, atol=1e-5)


#: Cases of the kit's own types, for which the export statements are made.
STATED = sorted(case for case, config in CASES.items() if config.type in KIT_TYPES)


def test_cases_cover_every_model_type_and_statement():
    assert {config.type for config in CASES.values()} == set(MODEL_TYPES)
    assert set(KIT_TYPES) <= set(MODEL_TYPES)
    for statement in (SCRIPTABLE, TRACE_ANY_SIZE):
        assert set(statement) == set(STATED)
    assert set(NO_GRADIENT) <= set(CASES)
    compiled = {CASES[case].type for case in COMPILES_FULLGRAPH}
    assert set(COMPILES_FULLGRAPH) <= set(STATED) and compiled == set(KIT_TYPES)


@pytest.mark.parametrize("name", MODEL_TYPES.names())
def test_registration_is_complete(name):
    """What every model type registers: settings that are `ModelConfig` fields, a SIC head,
    poolings that a config of its example answers, and an example that builds."""
    check_registration(MODEL_TYPES[name])


def check_registration(entry: ModelType) -> None:
    fields = set(ModelConfig.__dataclass_fields__) - {"type", "sic_head", "sic_units"}
    assert set(entry.settings) <= fields, entry.settings
    assert entry.description and entry.sic_head in ("classification", "regression")
    config = example(entry)
    assert config.resolved_sic_head == entry.sic_head or config.sic_head is not None
    levels = entry.poolings(config)
    assert levels is None or (isinstance(levels, int) and levels >= 0)


# ------------------------------------------------------------------ outputs


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("charts", [CHARTS, ("FLOE", "SIC")], ids=["all", "floe_sic"])
def test_one_output_per_chart_keyed_like_kinds(case, charts):
    check_outputs(CASES[case], charts)


def check_outputs(config: ModelConfig, charts=CHARTS) -> None:
    model = make(config, charts).eval()
    kinds = head_kinds(list(charts), config.resolved_sic_head)
    assert model.kinds == kinds and list(model.kinds) == list(charts)
    with torch.no_grad():
        out = model(inputs(*SIZE))
    assert isinstance(out, dict) and list(out) == list(charts)
    for chart, channels in expected_channels(kinds).items():
        assert out[chart].shape == (BATCH, channels, *SIZE)
        assert out[chart].dtype == torch.float32 and torch.isfinite(out[chart]).all()


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_reach_every_trainable_parameter(case):
    check_gradients(CASES[case], NO_GRADIENT.get(case, ()))


def check_gradients(config: ModelConfig, unused: tuple[str, ...] = ()) -> None:
    """Every trainable weight gets a finite, non-zero gradient, but those starting `unused`."""
    model = make(config).train()
    out = model(inputs(*SIZE))
    weights = torch.Generator().manual_seed(2)
    loss = sum((o * torch.randn(o.shape, generator=weights)).sum() for o in out.values())
    loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and len(trainable) == len(list(model.parameters()))
    without = {n for n, p in trainable if p.grad is None or not bool(p.grad.abs().sum() > 0)}
    assert without == {n for n, _ in trainable if unused and n.startswith(unused)}
    assert all(torch.isfinite(p.grad).all() for n, p in trainable if n not in without)


@pytest.mark.parametrize("case", sorted(CASES))
def test_eval_mode_is_deterministic_and_batch_independent(case):
    check_eval_mode(CASES[case])


def check_eval_mode(config: ModelConfig) -> None:
    model = make(config)
    model.train()
    model(inputs(*SIZE, seed=3))  # move batch-norm statistics away from their initial values
    model.eval()
    x = inputs(*SIZE)
    with torch.no_grad():
        first, second = model(x), model(x)
        alone = model(x[1:])
    assert_outputs_equal(first, second)
    assert_outputs_equal({c: o[1:] for c, o in first.items()}, alone, exact=False)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("size", [(37, 50), (33, 32)])
def test_odd_sizes_at_least_a_stride_are_taken_directly(case, size):
    check_odd_size_direct(CASES[case], size)


def check_odd_size_direct(config: ModelConfig, size: tuple[int, int] = (37, 50)) -> None:
    model = make(config).eval()
    with torch.no_grad():
        out = model(inputs(*size, batch=1))
    for chart, channels in expected_channels(model.kinds).items():
        assert out[chart].shape == (1, channels, *size)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("size", [(37, 50), (1, 3), (30, 7)])
def test_odd_sizes_padded_as_the_predictor_does(case, size):
    """Scenes and tile edges smaller than the network's poolings (1 x 3) work once padded."""
    check_odd_size_padded(CASES[case], size)


def check_odd_size_padded(config: ModelConfig, size: tuple[int, int] = (1, 3)) -> None:
    model = make(config).eval()
    x = inputs(*size, batch=1)
    with torch.no_grad():
        padded = model(pad_to_multiple(x, MODEL_STRIDE))
    for chart in model.kinds:
        assert padded[chart].shape[-2:] == tuple(-(-s // MODEL_STRIDE) * MODEL_STRIDE for s in size)
    # The Predictor tiles, pads each tile to MODEL_STRIDE and crops back: scores at input size.
    predictor = Predictor([model], DataConfig(), [f"c{i}" for i in range(IN_CHANNELS)],
                          device="cpu", tile_size=32, tile_overlap=4)  # fmt: skip
    scores = predictor.scores(x[0].numpy())
    assert list(scores) == list(model.kinds)
    for chart, channels in expected_channels(model.kinds).items():
        assert scores[chart].shape == (channels, *size) and torch.isfinite(scores[chart]).all()
        if model.kinds[chart] != REGRESSION:
            torch.testing.assert_close(scores[chart].sum(0), torch.ones(size))
    if max(size) <= 32:  # one tile: exactly the padded model output, cropped
        expected = to_scores(padded, model.kinds)
        for chart in scores:
            crop = expected[chart][0, :, : size[0], : size[1]]
            torch.testing.assert_close(scores[chart], crop, rtol=1e-5, atol=1e-6)


#: The shared checks of one config, each with its default arguments: a test that registers a
#: model type of its own runs them all on the type's example.
CONTRACT = (
    check_outputs,
    check_gradients,
    check_eval_mode,
    check_odd_size_direct,
    check_odd_size_padded,
)


# ------------------------------------------------------------------ export


def _script_in_child(case: str, results) -> None:
    """Script one case and send (scripted, error text); outputs are compared when it scripts."""
    warnings.simplefilter("ignore")  # TorchScript's deprecation notices
    model = make(case).eval()
    try:
        scripted = torch.jit.script(model)
    except Exception as exc:
        results.send((False, f"{type(exc).__name__}: {exc}"[:8000]))
        return
    with torch.no_grad():
        assert_outputs_equal(scripted(inputs(*SIZE)), model(inputs(*SIZE)), exact=False)
    results.send((True, None))


@pytest.mark.parametrize("case", STATED)
def test_torchscript_scripting_is_as_stated(case):
    """Each attempt runs in a forked child: a failed `torch.jit.script` leaves half-compiled
    classes in its process, and the next model sharing them would fail on those instead."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_script_in_child, args=(case, send))
    child.start()
    child.join(300)
    assert child.exitcode == 0 and receive.poll(), f"scripting {case} failed ({child.exitcode})"
    scripted, error = receive.recv()
    if SCRIPTABLE[case] is None:
        assert scripted, error
    else:
        assert not scripted and error.startswith("RuntimeError") and SCRIPTABLE[case] in error


@pytest.mark.parametrize("case", STATED)
def test_torchscript_tracing_is_as_stated(case):
    model = make(case).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about the padding branch
        traced = torch.jit.trace(model, inputs(*SIZE), strict=False)
        # Sizes that need no padding: the trace holds for every model.
        for size in (SIZE, (96, 64)):
            assert_outputs_equal(traced(inputs(*size)), model(inputs(*size)), exact=False)
        odd = inputs(50, 45)
        try:
            traced_out = traced(odd)
            same = all(
                traced_out[c].shape == o.shape and torch.allclose(traced_out[c], o, atol=1e-5)
                for c, o in model(odd).items()
            )
        except RuntimeError:  # e.g. DeepLabV3+: the baked-in sizes no longer concatenate
            same = False
    assert same == TRACE_ANY_SIZE[case]


@pytest.mark.parametrize("case", sorted(COMPILES_FULLGRAPH))
def test_torch_compile_fullgraph_is_as_stated(case):
    model = make(case).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="eager", fullgraph=True, dynamic=False)
    x = inputs(37, 50, batch=1)
    try:
        with torch.no_grad():
            out = compiled(x)
    except Exception:  # a graph break is an error with fullgraph=True
        assert not COMPILES_FULLGRAPH[case]
        return
    finally:
        torch._dynamo.reset()
    assert COMPILES_FULLGRAPH[case]
    with torch.no_grad():
        assert_outputs_equal(out, model(x), exact=False)
