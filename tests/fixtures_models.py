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


# What the pinned revision of cardiffnlp/twitter-xlm-roberta-base-sentiment holds for a scorer: no
# tokenizer.json, no tokenizer_config.json; the fairseq SentencePiece model and pickled torch weights.
REAL_LAYOUT = ("config.json", "pytorch_model.bin", "sentencepiece.bpe.model", "special_tokens_map.json")
SPECIAL_TOKENS_MAP = {
    "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "pad_token": "<pad>",
    "cls_token": "<s>",
    "mask_token": {"content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False, "normalized": True},
}


def _sentences(count: int) -> list[str]:
    """``count`` varied sentences from CORPUS's words, deterministic."""
    import random

    words = " ".join(CORPUS).split()
    rng = random.Random(7)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(count)]


def build_real_layout(directory: Path, *, winner: int = 0, margin: float = 4.0, seed: int = 0) -> Path:
    """A folder file for file like the pinned revision (REAL_LAYOUT): a SentencePiece unigram model trained
    here on a few hundred sentences (ids as fairseq's: <unk> 0, <s> 1, </s> 2, no <pad>), a 2-layer
    XLM-R classifier with random weights saved as pytorch_model.bin (a pickled state dict), its config.json,
    and special_tokens_map.json. The output bias favours ``winner`` as in build_tiny_classifier."""
    import io

    import sentencepiece as spm
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_sentences(400)), model_writer=buffer, model_type="unigram", vocab_size=120,
        hard_vocab_limit=False, character_coverage=1.0, minloglevel=2,
    )
    (directory / "sentencepiece.bpe.model").write_bytes(buffer.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=buffer.getvalue()).get_piece_size()
    config = XLMRobertaConfig(
        vocab_size=pieces + 2,  # XLM-R's ids: <s> <pad> </s> <unk>, the pieces shifted by one, then <mask>
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        max_position_embeddings=130, initializer_range=0.2, num_labels=3, id2label=ID2LABEL,
        label2id={v: k for k, v in ID2LABEL.items()}, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        architectures=["XLMRobertaForSequenceClassification"],
    )
    torch.manual_seed(seed)
    model = XLMRobertaForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.out_proj.bias.zero_()
        model.classifier.out_proj.bias[winner] = margin
    config.save_pretrained(directory)
    torch.save(model.state_dict(), directory / "pytorch_model.bin")
    (directory / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS_MAP), "utf-8")
    return directory


def as_safetensors_with_tokenizer_json(real_layout: Path, directory: Path) -> Path:
    """The same model in the other layout a revision may ship: tokenizer.json (no SentencePiece file) and
    model.safetensors (no pickle)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(real_layout)
    tokenizer.save_pretrained(directory)
    (directory / "sentencepiece.bpe.model").unlink(missing_ok=True)
    (directory / "config.json").write_bytes((real_layout / "config.json").read_bytes())
    state = torch.load(real_layout / "pytorch_model.bin", weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(directory / "model.safetensors"))
    return directory
