"""The stand-in the scorer benchmark runs: an xlm-roberta-base-shaped classifier with random weights
(the hub is unreachable here) and social posts of mixed length in eight languages.

Texts: real customer-care posts (tests/data/care_*.jsonl: en, da, fi, et, he, ko) and sentences from
../shared/datasets/sentiment/*.train.jsonl for those six languages; German and Spanish, which neither
holds, are drawn from the word lists below. About one text in thirty joins several into a long post.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.scoring.preprocessing import preprocess

if TYPE_CHECKING:  # torch and transformers load only to build the stand-in, not to read texts
    from transformers import PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parents[1]
CARE_FILES = ("care_set.jsonl", "care_holdout.jsonl", "care_holdout2.jsonl")
DATASETS = ROOT.parent / "shared" / "datasets" / "sentiment"
LANGUAGES = ("en", "da", "fi", "et", "he", "ko", "de", "es")
WORDS = {
    "en": "my order never arrived and nobody answers the support chat refund was charged twice app keeps "
    "crashing after update thanks for quick help great service still waiting three weeks delivery "
    "broken package customer account login password cancel subscription please fix this today",
    "da": "min ordre er aldrig kommet og ingen svarer på kundeservice pengene blev trukket to gange appen "
    "går ned efter opdateringen tak for hurtig hjælp god service venter stadig tre uger levering "
    "ødelagt pakke konto adgangskode opsig abonnement ret det venligst i dag elendigt",
    "fi": "tilaukseni ei ole vieläkään saapunut eikä kukaan vastaa asiakaspalvelu rahat veloitettiin "
    "kahdesti sovellus kaatuu päivityksen jälkeen kiitos nopeasta avusta hyvä palvelu odotan yhä "
    "kolme viikkoa toimitus rikki paketti tili salasana peruuta tilaus korjatkaa tänään",
    "et": "minu tellimus pole kohale jõudnud ja keegi ei vasta klienditugi raha võeti kaks korda rakendus "
    "jookseb kokku pärast uuendust aitäh kiire abi eest hea teenindus ootan ikka kolm nädalat tarne "
    "katki pakk konto parool tühista tellimus parandage täna",
    "de": "meine bestellung ist nie angekommen und niemand antwortet kundendienst zweimal abgebucht die app "
    "stürzt nach dem update ab danke für schnelle hilfe guter service warte immer noch drei wochen",
    "es": "mi pedido nunca llegó y nadie responde atención al cliente me cobraron dos veces la aplicación "
    "se cierra después de la actualización gracias por la ayuda rápida buen servicio sigo esperando",
    "he": "ההזמנה שלי לא הגיעה ואף אחד לא עונה שירות לקוחות חייבו אותי פעמיים האפליקציה קורסת אחרי "
    "העדכון תודה על העזרה המהירה שירות מעולה עדיין מחכה שלושה שבועות משלוח",
    "ko": "주문한 물건이 아직 도착하지 않았고 아무도 답하지 않아요 고객센터 두 번 결제되었어요 업데이트 후 "
    "앱이 계속 꺼져요 빠른 도움 감사합니다 좋은 서비스 아직도 기다리고 있어요 삼 주 배송",
}
EXTRAS = (
    "@acme",
    "@acme_support",
    "https://t.co/a1b2c3",
    "#fail",
    "!!",
    "?",
    "😡",
    "🙏",
    "👍",
    "2x",
    "#123456",
)


def real_texts(per_language: int, seed: int) -> dict[str, list[str]]:
    """Care posts and dataset sentences per language (the six that have them)."""
    rng = random.Random(seed)
    pool: dict[str, list[str]] = {}
    for name in CARE_FILES:
        path = ROOT / "tests" / "data" / name
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            pool.setdefault(row["language"], []).append(row["text"])
    for lang in list(pool):
        path = DATASETS / f"{lang}.train.jsonl"
        if path.is_file():
            rows = [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line.strip()]
            pool[lang].extend(rng.sample(rows, min(per_language, len(rows))))
    return pool


def make_texts(count: int, seed: int) -> list[str]:
    """Posts in eight languages: each language equally likely; about one in thirty is 100-140 words."""
    rng = random.Random(seed)
    pool = real_texts(400, seed)
    vocab = {lang: words.split() for lang, words in WORDS.items()}
    texts = []
    for _ in range(count):
        lang = rng.choice(LANGUAGES)
        long_post = rng.random() < 1 / 30
        if lang in pool:
            text = rng.choice(pool[lang])
            while long_post and len(text.split()) < 100:
                text += " " + rng.choice(pool[lang])
        else:
            length = (
                rng.randint(100, 140) if long_post else min(60, max(3, int(rng.lognormvariate(2.7, 0.6))))
            )
            text = " ".join(
                rng.choice(EXTRAS) if rng.random() < 0.08 else rng.choice(vocab[lang]) for _ in range(length)
            )
        texts.append(text)
    return texts


def build_tokenizer(directory: Path, vocab_size: int) -> PreTrainedTokenizerFast:
    """A BPE tokenizer with XLM-R's special tokens, trained on posts like the benchmark's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R's ids 0..4
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
    raw.train_from_iterator(make_texts(6000, seed=1), trainer)
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_model(directory: Path, tokenizer: PreTrainedTokenizerFast, calibration: list[str]) -> None:
    """xlm-roberta-base's shape with random weights; the head spreads ``calibration`` over all labels."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=250002,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
    )
    model = XLMRobertaForSequenceClassification(config).eval()
    features: list[torch.Tensor] = []
    hook = model.classifier.out_proj.register_forward_hook(lambda _m, args, _out: features.append(args[0]))
    with torch.inference_mode():
        for start in range(0, len(calibration), 16):
            batch = tokenizer(
                [preprocess(t) for t in calibration[start : start + 16]],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            model(**batch)
    hook.remove()
    x = torch.cat(features)
    mean = x.mean(0)
    _, s, v = torch.linalg.svd(x - mean, full_matrices=False)
    weight = (v[:3] / (s[:3, None] / len(x) ** 0.5)).contiguous()  # each logit: a unit-variance component
    with torch.no_grad():
        model.classifier.out_proj.weight.copy_(weight)
        model.classifier.out_proj.bias.copy_(-(weight @ mean))
    model.save_pretrained(directory)


def build_stand_in(directory: Path, vocab_size: int = 6000) -> PreTrainedTokenizerFast:
    """Tokenizer and model saved in ``directory``; the tokenizer is returned."""
    tokenizer = build_tokenizer(directory, vocab_size=vocab_size)
    build_model(directory, tokenizer, make_texts(96, seed=7))
    return tokenizer
