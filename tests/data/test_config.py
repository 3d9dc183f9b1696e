"""DataConfig: YAML loading, defaults, and an error naming the key/value for every bad input."""

from __future__ import annotations

import pytest

from kit import charts
from kit.data.config import AugmentConfig, DataConfig
from kit.errors import KitError

YAML = """
data:
  variables: [nersc_sar_primary, nersc_sar_secondary, btemp_18_7h, aux_time, aux_lat]
  charts: [SIC, SOD]
  patch_size: 128
  batch_size: 4
  downscale: 10
  upsampling: nearest
  normalisation: minmax
  month_encoding: cyclic
  augment: {dihedral_p: 0.5, affine_p: 0.25, rotation_deg: 15, scale_range: [0.8, 1.2]}
  epoch_len: 10
  seed: 7
  min_valid_fraction: 0.1
  cache_dir: /tmp/somewhere
"""


def test_yaml_section_loads_every_field(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(YAML)
    config = DataConfig.from_yaml(path, section="data")
    assert config.variables[-1] == "aux_lat" and config.charts == ("SIC", "SOD")
    assert (config.patch_size, config.batch_size, config.downscale) == (128, 4, 10)
    assert config.upsampling == "nearest" and config.normalisation == "minmax"
    assert config.augment.dihedral_p == 0.5 and config.augment.scale_range == (0.8, 1.2)
    assert config.augment.rotation_deg == 15.0 and isinstance(config.augment.rotation_deg, float)
    assert str(config.resolved_cache_dir()) == "/tmp/somewhere"


def test_defaults_and_cache_dir_environment(monkeypatch):
    config = DataConfig()
    assert config.variables == charts.SCENE_VARIABLES and config.downscale == 1
    monkeypatch.setenv("AUTOICE_CACHE", "/tmp/ac")
    assert str(config.resolved_cache_dir()) == "/tmp/ac/scenes"
    monkeypatch.delenv("AUTOICE_CACHE")
    assert config.resolved_cache_dir().parts[-3:] == (".cache", "autoice", "scenes")


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"patch_sise": 64}, "unknown key(s) patch_sise; allowed: variables, charts, patch_size"),
        ({"augment": {"flip_p": 0.5}}, "data.augment: unknown key(s) flip_p; allowed: dihedral_p"),
        ({"normalisation": "zscore"}, "data.normalisation: invalid value 'zscore'; allowed: 'meanstd', 'minmax'"),
        ({"upsampling": "cubic"}, "allowed: 'bilinear', 'nearest'"),
        ({"month_encoding": "onehot"}, "allowed: 'mmseaice', 'cyclic'"),
        ({"variables": ["nersc_sar_primary", "btemp_99h"]}, "unknown variables btemp_99h; allowed: nersc_sar_primary"),
        ({"variables": []}, "variables is empty"),
        ({"variables": ["t2m", "t2m"]}, "lists a name twice"),
        ({"variables": "t2m"}, "data.variables: expected a list"),
        ({"charts": ["SIC", "ICE"]}, "unknown charts ICE; allowed: SIC, SOD, FLOE"),
        ({"patch_size": 0}, "patch_size must be >= 1"),
        ({"patch_size": 12.5}, "data.patch_size: expected an integer"),
        ({"batch_size": True}, "data.batch_size: expected an integer"),
        ({"downscale": "10"}, "data.downscale: expected an integer"),
        ({"num_workers": -1}, "num_workers must be >= 0"),
        ({"seed": -1}, "data config: seed must be in [0, 4294967295] (2**32 - 1), got -1"),
        ({"min_valid_fraction": 1.5}, "min_valid_fraction must be in [0, 1]"),
        ({"augment": {"cutmix_p": 2}}, "augment.cutmix_p must be in [0, 1]"),
        ({"augment": {"rotation_deg": 400}}, "augment.rotation_deg must be in [0, 180.0]"),
        ({"augment": {"scale_range": [1.2, 0.8]}}, "augment.scale_range must be (low, high)"),
        ({"augment": {"scale_range": [1.2]}}, "data.augment.scale_range: expected 2 values"),
        ({"augment": 0.5}, "data.augment: expected a mapping"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_key_and_allowed_values(mapping, message):
    with pytest.raises(KitError) as info:
        DataConfig.from_dict(mapping)
    assert message in str(info.value)


def test_yaml_file_errors(tmp_path):
    with pytest.raises(KitError, match="no such config file"):
        DataConfig.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(KitError, match="bad.yaml: not valid YAML"):
        DataConfig.from_yaml(bad)
    other = tmp_path / "other.yaml"
    other.write_text("model: {}\n")
    with pytest.raises(KitError, match="no section 'data'; found: model"):
        DataConfig.from_yaml(other, section="data")


def test_augment_config_round_trip():
    config = DataConfig(augment=AugmentConfig(cutmix_p=0.3))
    assert DataConfig.from_dict(config.to_dict()) == config
