"""Chart models (U-Net baseline, MMSeaIce multi-task U-Net, smp backbones), heads and losses.

Model types register themselves with `register_model` (`kit.models.registry`); `MODEL_TYPES`
lists them.
"""

from kit.models.factory import MODEL_TYPES, ModelConfig, build_model, sic_scale
from kit.models.heads import predict_classes, scores_to_classes, to_scores
from kit.models.losses import ChartLossConfig, MultiTaskLoss
from kit.models.multitask import ChartUNet, MultiTaskUNet
from kit.models.registry import ModelType, register_model
from kit.models.smp_models import SmpMultiTask
from kit.models.unet import UNet, receptive_field

__all__ = [
    "MODEL_TYPES",
    "ChartLossConfig",
    "ChartUNet",
    "ModelConfig",
    "MultiTaskLoss",
    "ModelType",
    "MultiTaskUNet",
    "SmpMultiTask",
    "UNet",
    "build_model",
    "predict_classes",
    "receptive_field",
    "register_model",
    "scores_to_classes",
    "sic_scale",
    "to_scores",
]
