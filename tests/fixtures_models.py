"""Tiny real transformer classifiers built on the spot, for tests that must not reach the hub."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = (
    "my order never arrived and nobody answers",
    "the refund is late and support is slow",
    "great service, thanks for the quick help",
    "det er elendigt og forfærdeligt",
    "tak for hjælpen, det var hurtigt",
    "tilaus ei ole vieläkään saapunut",
    "minu tellimus pole kohale jõudnud",
    "ההזמנה שלי לא הגיעה",
    "주문한 물건이 아직 도착하지 않았어요",
)
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # XLM-R's ids 0..4
ID2LABEL = {0: "negative", 1: "neutral", 2: "positive"}


def build_tiny_classifier(directory: Path, *, winner: int = 0, margin: float = 4.0, seed: int = 0) -> Path:
    """Save a 2-layer XLM-R classifier and its Unigram tokenizer in ``directory``.

    The classifier's output bias favours class ``winner`` by ``margin`` logits, so every text gets that
    label, with a confidence that still varies a little from text to text.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaTokenizer

    raw = Tokenizer(models.Unigram())
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=list(SPECIAL_TOKENS), unk_token="<unk>")
    raw.train_from_iterator(list(CORPUS) * 4, trainer)
    vocab = [(piece, score) for piece, score in json.loads(raw.to_str())["model"]["vocab"]]
    tokenizer = XLMRobertaTokenizer(vocab=vocab)
    tokenizer.save_pretrained(directory)

    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=130,
        initializer_range=0.2,  # large enough that each text's confidence differs visibly
        num_labels=3,
        id2label=ID2LABEL,
        label2id={v: k for k, v in ID2LABEL.items()},
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = XLMRobertaForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.out_proj.bias.zero_()
        model.classifier.out_proj.bias[winner] = margin
    model.save_pretrained(directory)
    return directory
