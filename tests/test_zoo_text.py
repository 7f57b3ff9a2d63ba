"""The text model of the layer examples: captum_rank/zoo/text.py and its shipped weights."""

from __future__ import annotations

import hashlib
from importlib import resources

import torch

from captum_rank.data import load_sample
from captum_rank.zoo.text import NAME, RowTokenClassifier, load_text_card, load_text_model


def test_the_card_describes_the_shipped_weights() -> None:
    card = load_text_card()
    data = resources.files("captum_rank.zoo").joinpath("weights").joinpath(f"{NAME}.pt")
    blob = data.read_bytes()
    assert len(blob) < 1_000_000
    assert hashlib.sha256(blob).hexdigest() == card["weights_sha256"]
    assert card["command"].startswith("python3 scripts/train_text.py")
    assert f"--seed {card['seed']}" in card["command"]
    model = load_text_model()
    assert card["num_parameters"] == sum(p.numel() for p in model.parameters())


def test_the_model_classifies_the_bundled_sample() -> None:
    model = load_text_model()
    images, labels = load_sample()
    tokens = model.tokenize(images)
    assert tokens.shape == (200, 28) and tokens.dtype == torch.int64
    with torch.no_grad():
        accuracy = float((model(tokens).argmax(1) == labels).float().mean())
    # Card: 81% on the 10 000 test images; 77.5% on this sample of 200.
    assert accuracy > 0.7


def test_token_zero_is_the_blank_row() -> None:
    model = load_text_model()
    assert float(model.codebook[0].abs().max()) == 0.0
    blank = model.tokenize(torch.zeros(2, 1, 28, 28))
    assert bool((blank == 0).all())
    assert not model.training


def test_tokenize_picks_the_nearest_codebook_row() -> None:
    torch.manual_seed(0)
    model = RowTokenClassifier(vocab_size=5, row_length=4)
    model.codebook.copy_(torch.rand(5, 4))
    rows = model.codebook[torch.tensor([3, 1, 4])] + 0.001
    assert model.tokenize(rows.reshape(1, 3, 4)).tolist() == [[3, 1, 4]]
