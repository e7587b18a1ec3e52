"""Build the shared encoder (transforms/models/encoder.onnx) and train the police stance model
(transforms/models/stance.npz) on datasets/stance.

    .venv/bin/pip install torch==2.13.0 scikit-learn          # the `train` extra
    nice -n 10 .venv/bin/python scripts/train_stance.py [--skip-export] [--results FILE]

1. Export: the fine-tuned sentiment transformer (models/sentiment_bert.npz) is rebuilt in
   torch and exported to ONNX with two outputs: the sentiment logit and the encoder features
   of each text (the first token's and the mean of all tokens' top-layer states, and the
   pooled vector: 3 x 512), then quantised for onnxruntime's int8 kernels (weights with one
   scale per output channel, activations per run). The tokenizer JSON goes into the file's
   metadata.
2. Stance: two models, both trained on the `train` rows of datasets/stance/labels.csv that
   have a stance, with settings fixed in advance (never chosen on dev):
   - an encoder head: logistic regression (C=0.01) on the standardised encoder features, so
     stance costs no second transformer pass;
   - a cue model: logistic regression (C=4) on hashed character 1-3-grams of the text, the
     characters around each police word, and the topics its rules fire (执法争议, 袭警,
     英模 ... tell who is the target).
   The shipped stance is the weighted mean of their log-probabilities. The weight (the head's
   share) is chosen by 5-fold cross-validation on the `train` rows: the share among 0.3 ...
   0.7 with the best "negative vs not" accuracy on the out-of-fold police-related rows
   (--share fixes it instead).
3. Dev: 3-way accuracy, macro-F1, per-class recall and accuracy of "negative vs not" on the
   police-related dev rows, for each part, their mean, and the old proxy (general sentiment
   negative = negative toward the police).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms import sentiment_bert, stance  # noqa: E402
from transforms.evaluation import stance_metrics  # noqa: E402
from transforms.police import find_police_terms  # noqa: E402
from transforms.rules import parse_rules  # noqa: E402
from transforms.text import clean_text  # noqa: E402

LABELS = ROOT / "datasets" / "stance" / "labels.csv"
RULES = ROOT / "config" / "rules.yaml"
ENCODER_C = 0.01
CUES_C = 4.0
SHARES = (0.3, 0.4, 0.5, 0.6, 0.7)
FOLDS = 5


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- 1. the encoder -------------------------------------------------------------------------

def export_encoder(npz: Path, out: Path) -> None:
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from torch import nn

    with np.load(npz) as data:
        arrays = {name: data[name] for name in data.files}
    config = json.loads(bytes(arrays["config"]).decode("utf-8"))
    eps, heads = float(config["eps"]), int(config["heads"])

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(arrays[name].astype(np.float32)))

    def linear(name: str) -> nn.Linear:
        weight = arrays[f"{name}.q"].astype(np.float32) * arrays[f"{name}.s"][None, :]
        layer = nn.Linear(*weight.shape)
        layer.weight.data = torch.from_numpy(np.ascontiguousarray(weight.T))
        layer.bias.data = tensor(f"{name}.b")
        return layer

    def norm(name: str) -> nn.LayerNorm:
        layer = nn.LayerNorm(arrays[f"{name}.g"].shape[0], eps=eps)
        layer.weight.data, layer.bias.data = tensor(f"{name}.g"), tensor(f"{name}.b")
        return layer

    class Block(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            self.qkv, self.out = linear(f"l{i}.qkv"), linear(f"l{i}.out")
            self.ln1, self.ln2 = norm(f"l{i}.ln1"), norm(f"l{i}.ln2")
            self.ff1, self.ff2 = linear(f"l{i}.ff1"), linear(f"l{i}.ff2")

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            batch, length, hidden = x.shape
            head = hidden // heads
            qkv = self.qkv(x).reshape(batch, length, 3, heads, head).permute(2, 0, 3, 1, 4)
            scores = qkv[0] @ qkv[1].transpose(-1, -2) * (1.0 / math.sqrt(head)) + bias
            context = (scores.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(batch, length,
                                                                            hidden)
            x = self.ln1(x + self.out(context))
            return self.ln2(x + self.ff2(nn.functional.gelu(self.ff1(x), approximate="tanh")))

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            word = arrays["word.q"].astype(np.float32) * arrays["word.s"][:, None]
            self.word = nn.Embedding.from_pretrained(torch.from_numpy(word))
            self.position = nn.Parameter(tensor("position"))
            self.token_type = nn.Parameter(tensor("token_type"))
            self.emb_ln = norm("emb_ln")
            self.blocks = nn.ModuleList(Block(i) for i in range(int(config["layers"])))
            self.pool = linear("pool")
            self.cls_w, self.cls_b = nn.Parameter(tensor("cls.w")), nn.Parameter(tensor("cls.b"))

        def forward(self, ids: torch.Tensor, mask: torch.Tensor):
            bias = (1.0 - mask[:, None, None, :].float()) * -1e4
            x = self.emb_ln(self.word(ids) + self.position[:ids.shape[1]] + self.token_type)
            for block in self.blocks:
                x = block(x, bias)
            pooled = torch.tanh(self.pool(x[:, 0]))
            logits = pooled @ self.cls_w + self.cls_b
            weights = mask.float()[:, :, None]
            mean = (x * weights).sum(1) / weights.sum(1)
            return logits[:, 1] - logits[:, 0], torch.cat([x[:, 0], mean, pooled], 1)

    model = Encoder().eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.tensor([[101, 2769, 102]])
    with torch.no_grad():
        torch.onnx.export(model, (example, torch.ones_like(example)), str(out),
                          input_names=["ids", "mask"], output_names=["sentiment", "features"],
                          dynamic_axes={"ids": {0: "batch", 1: "length"},
                                        "mask": {0: "batch", 1: "length"},
                                        "sentiment": {0: "batch"}, "features": {0: "batch"}},
                          opset_version=17, dynamo=False)
    # int8 weights (one scale per output channel, as in the npz) and int8 activations with a
    # scale computed per run: onnxruntime's integer kernels. Scoring runs one text at a time,
    # so a text's activation scales, and its scores, never depend on other texts.
    prepared = out.with_suffix(".prepared.onnx")
    quant_pre_process(str(out), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(str(prepared), str(out), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Gather"])
    prepared.unlink()
    graph_model = onnx.load(str(out))
    tokenizer_json = sentiment_bert.tokenizer_json_from_npz(arrays)
    for key, value in sentiment_bert.metadata(int(config["max_tokens"]), 3 * 512,
                                              tokenizer_json).items():
        graph_model.metadata_props.add(key=key, value=value)
    onnx.save(graph_model, str(out))
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


# ---- 2. the stance model --------------------------------------------------------------------

def load_rows() -> list[dict[str, str]]:
    with open(LABELS, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def choose_share(train_rows, rows, texts, topics, features, labels, fit) -> float:
    """The head's share with the best out-of-fold "negative vs not" accuracy on the
    police-related `train` rows (folds stratified by source and stance; dev never seen)."""
    from sklearn.model_selection import StratifiedKFold

    train_rows = np.asarray(train_rows)
    strata = [rows[i]["source"] + str(labels[i]) for i in train_rows]
    head = np.zeros((len(rows), len(stance.STANCES)))
    cues = np.zeros_like(head)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=20261204)
    for number, (inside, outside) in enumerate(folds.split(train_rows, strata), 1):
        model = fit(train_rows[inside])
        held = train_rows[outside]
        head[held] = model.head_log_proba(features[held])
        cues[held] = model.cue_log_proba([texts[i] for i in held], [topics[i] for i in held])
        log(f"cross-validation fold {number}/{FOLDS} done")
    police = [i for i in train_rows if rows[i]["police_related"] == "1"]
    truth = [stance.STANCES[labels[i]] for i in police]
    best, best_score = 0.5, -1.0
    for share in SHARES:
        predicted = (share * head[police] + (1 - share) * cues[police]).argmax(1)
        metrics = stance_metrics(truth, [stance.STANCES[k] for k in predicted])
        log(f"head share {share}: out-of-fold " + json.dumps(
            {k: round(v, 3) for k, v in metrics.items()}))
        score = metrics["negative_vs_not_accuracy"]
        if score > best_score + 1e-9 or (abs(score - best_score) <= 1e-9
                                         and abs(share - 0.5) < abs(best - 0.5)):
            best, best_score = share, score
    return best


def train(rows: list[dict[str, str]], results: Path | None,
          share: float | None = None) -> None:
    import yaml
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    rules = parse_rules(yaml.safe_load(RULES.read_text(encoding="utf-8")), RULES)
    texts = [clean_text(row["text"]) for row in rows]
    topics = [tuple(hit.topic_id for hit in rules.match(text, find_police_terms(text)))
              for text in texts]
    started = time.time()
    encoded = sentiment_bert.shipped_model().encode(texts)
    log(f"encoded {len(texts)} texts in {time.time() - started:.0f} s")
    labels = np.array([stance.STANCES.index(row["stance"]) if row["stance"] else -1
                       for row in rows])
    train_rows = [i for i, row in enumerate(rows) if row["split"] == "train" and row["stance"]]
    dev_rows = [i for i, row in enumerate(rows)
                if row["split"] == "dev" and row["police_related"] == "1"]

    def cue_matrix(indexes) -> csr_matrix:
        data, columns, pointers = [], [], [0]
        for i in indexes:
            found = stance.cue_features(texts[i], topics[i])
            columns.extend(found)
            data.extend([1.0] * len(found))
            pointers.append(len(columns))
        return csr_matrix((data, columns, pointers), shape=(len(indexes), stance.CUE_BUCKETS))

    def fit(indexes):
        features = encoded.features[indexes].astype(np.float64)
        mean, scale = features.mean(0), features.std(0) + 1e-6
        head = LogisticRegression(C=ENCODER_C, max_iter=5000).fit((features - mean) / scale,
                                                                  labels[indexes])
        cues = LogisticRegression(C=CUES_C, max_iter=5000).fit(cue_matrix(indexes),
                                                               labels[indexes])
        return stance.StanceModel(
            mean=mean.astype(np.float32), scale=scale.astype(np.float32),
            head_weights=head.coef_.T.astype(np.float32),
            head_bias=head.intercept_.astype(np.float32),
            cue_weights=cues.coef_.astype(np.float16),
            cue_bias=cues.intercept_.astype(np.float32))

    if share is None:
        share = choose_share(train_rows, rows, texts, topics, encoded.features, labels, fit)
    model = dataclasses.replace(fit(train_rows), head_share=share)
    model.save(stance.MODEL_PATH)
    log(f"wrote {stance.MODEL_PATH} ({stance.MODEL_PATH.stat().st_size / 1e6:.1f} MB); "
        f"trained on {len(train_rows)} texts, head share {share}")

    shipped = stance.load_model(stance.MODEL_PATH)
    dev_features = encoded.features[dev_rows]
    dev_texts = [texts[i] for i in dev_rows]
    dev_topics = [topics[i] for i in dev_rows]
    truth = [stance.STANCES[labels[i]] for i in dev_rows]
    parts = {
        "shipped (mean of the two)": shipped.proba(dev_features, dev_texts, dev_topics),
        "encoder head": shipped.head_proba(dev_features),
        "cues": shipped.cue_proba(dev_texts, dev_topics),
    }
    report: dict[str, dict[str, float]] = {}
    for name, proba in parts.items():
        report[name] = stance_metrics(truth, [stance.STANCES[k] for k in proba.argmax(1)])
    # The old signal: general sentiment negative (accurate model's polarity) = negative.
    sentiment = encoded.sentiment[dev_rows]
    proxy = ["negative" if p < 0.35 else "positive" if p > 0.65 else "neutral" for p in sentiment]
    report["old proxy: transformer sentiment polarity"] = stance_metrics(truth, proxy)
    osm = [k for k, i in enumerate(dev_rows) if rows[i]["source"] == "osm"]
    predicted = parts["shipped (mean of the two)"].argmax(1)
    report["shipped, osm2022 comments only"] = stance_metrics(
        [truth[k] for k in osm], [stance.STANCES[predicted[k]] for k in osm])
    for name, metrics in report.items():
        log(f"{name}: " + json.dumps({k: round(v, 3) for k, v in metrics.items()}))
    if results:
        results.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-export", action="store_true",
                        help="keep the existing encoder.onnx, retrain the stance model only")
    parser.add_argument("--results", type=Path, help="also write the dev scores here as JSON")
    parser.add_argument("--share", type=float,
                        help="the encoder head's share of the combination (default: chosen by "
                             "cross-validation on the train rows)")
    args = parser.parse_args()
    if not args.skip_export:
        export_encoder(sentiment_bert.SENTIMENT_WEIGHTS, sentiment_bert.MODEL_PATH)
    train(load_rows(), args.results, args.share)


if __name__ == "__main__":
    main()
