"""The U-Net: shapes at any input size, and the AI4SeaIce receptive-field table."""

import pytest
import torch

from kit.models.unet import UNet, encoder_receptive_field, receptive_field

#: AI4SeaIce, receptive field of the whole U-Net for 2 to 8 levels.
PAPER_UNET = {2: 44, 3: 92, 4: 188, 5: 380, 6: 764, 7: 1532, 8: 3068}
#: ... and of its encoder for the first levels.
PAPER_ENCODER = {2: 32, 3: 68, 4: 140}


def test_receptive_field_reproduces_the_paper_table():
    assert {lv: receptive_field(lv).unet for lv in PAPER_UNET} == PAPER_UNET
    assert {lv: receptive_field(lv).encoder for lv in PAPER_ENCODER} == PAPER_ENCODER


def test_encoder_receptive_field_matches_the_network():
    """The encoder formula is the real reach of the deepest features, found by perturbation.

    With all-ones convolution weights and identity batch norm, the network is monotone, so raising
    one input row changes the central deepest feature exactly when that row is in its field.
    """
    for levels in (1, 2, 3):
        net = UNet(1, levels=levels, filters=[1] * (levels + 1)).double().eval()
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.ones_(module.weight)
        size = encoder_receptive_field(levels) + 2 ** (levels + 2)
        x = torch.zeros(size, 1, size, size, dtype=torch.double)
        for row in range(size):
            x[row, 0, row] = 1.0
        with torch.no_grad():
            base = net.encoder(torch.zeros_like(x[:1]))[-1]
            deepest = net.encoder(x)[-1]
        centre = deepest.shape[-1] // 2
        seen = (deepest[:, 0, centre, centre] != base[0, 0, centre, centre]).nonzero().flatten()
        assert int(seen.max() - seen.min() + 1) == encoder_receptive_field(levels)


@pytest.mark.parametrize("size", [(64, 64), (37, 50)])
def test_unet_keeps_the_input_size(size):
    net = UNet(3, levels=3, out_channels=5)
    out = net(torch.randn(2, 3, *size))
    assert out.shape == (2, 5, *size)


def test_unet_features_and_default_filters():
    net = UNet(2, levels=4)
    assert net.filters == [16, 32, 32, 32, 32]
    assert net(torch.randn(1, 2, 32, 32)).shape == (1, 16, 32, 32)


def test_unet_rejects_inconsistent_filters():
    with pytest.raises(ValueError, match="levels=2 needs 3"):
        UNet(1, levels=2, filters=[8, 8])
    with pytest.raises(ValueError, match="levels"):
        UNet(1)
