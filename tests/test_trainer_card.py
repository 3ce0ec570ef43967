"""The shipped model card is the trainer's, plus one paragraph a person added and marked."""

from __future__ import annotations

import json
import re
from pathlib import Path

from trainer.card import write_model_card

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "default"
# The paragraph about how the shipped model was chosen: history the trainer cannot know.
HAND_WRITTEN = re.compile(
    r"\nHow this model was chosen \(added by hand; the trainer writes the rest\):.*?\n\n", re.S
)


def test_the_shipped_card_is_the_generated_one_plus_its_marked_paragraph(tmp_path: Path) -> None:
    """Its figures are model.json's, so the card and model.json cannot disagree, and a change
    to the generator reaches the shipped card (regenerate it; it does not touch the model)."""
    info = json.loads((SHIPPED / "model.json").read_text(encoding="utf-8"))
    write_model_card(tmp_path / "MODEL_CARD.md", info)
    generated = (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
    shipped = (SHIPPED / "MODEL_CARD.md").read_text(encoding="utf-8")
    hand = HAND_WRITTEN.search(shipped)
    assert hand is not None
    assert shipped.replace(hand.group(0), "\n", 1) == generated
    test = info["metrics"]["test"]
    assert f"| test | {test['n']:,} | {test['accuracy']:.4f} |" in shipped
