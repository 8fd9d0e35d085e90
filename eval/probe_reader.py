"""Probe: can a span-extraction reader on the converted e5 encoder beat the heuristic short answer?

A linear start/end head on top of the model, only the top (12 - frozen) layers fine-tuned, trained on
CMRC 2018's tuning half (article-title hash, as everywhere here) and scored on the held-out half with
the official character-level EM/F1 given the gold paragraph: a ceiling for the reader, which with
retrieval can only do worse. The frozen layers' outputs are computed once and cached in memory.

    python eval/probe_reader.py --frozen 8 --epochs 2     # about 25 min on 2 cores

Prints its result; the go/no-go is in the closing note of the answers issue.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModel  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.evaluation.datasets import TUNE_BIT, article_half  # noqa: E402
from qa.evaluation.runner import em_f1  # noqa: E402
from qa.model.build import model_dir  # noqa: E402

MAX_LEN = 384
MAX_QUESTION_TOKENS = 64
MAX_ANSWER_TOKENS = 30
SEP = 2  # </s>


def examples(data: dict, half: str) -> list[tuple[str, str, list[str], int]]:
    out = []
    for article in data["data"]:
        if ("test" if article_half(article.get("title") or "", TUNE_BIT) else "dev") != half:
            continue
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                out.append((qa["question"], para["context"], [a["text"] for a in qa["answers"]],
                            qa["answers"][0]["answer_start"]))
    return out


def encode(tok: Tokenizer, question: str, context: str, answer_at: int | None = None, answer: str = ""):
    """<s> question </s></s> context window </s>; training windows are centred on the answer."""
    q_ids = tok.encode(question).ids[:MAX_QUESTION_TOKENS]  # <s> … </s>
    ctx = tok.encode(context, add_special_tokens=False)
    room = MAX_LEN - len(q_ids) - 2
    first = last = 0
    w0 = 0
    if answer_at is not None:
        first = next((i for i, (_, e) in enumerate(ctx.offsets) if e > answer_at), 0)
        last = next((i for i, (_, e) in enumerate(ctx.offsets) if e >= answer_at + len(answer)), len(ctx.ids) - 1)
        w0 = max(0, min(first - room // 2, len(ctx.ids) - room))
    w1 = min(len(ctx.ids), w0 + room)
    ids = q_ids + [SEP] + ctx.ids[w0:w1] + [SEP]
    start = len(q_ids) + 1
    label = None
    if answer_at is not None:
        if not (w0 <= first and last < w1):
            return None
        label = (start + first - w0, start + last - w0)
    return ids, start, ctx.offsets[w0:w1], label


def batch(items: list) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x[0]) for x in items)
    ids = torch.full((len(items), width), 1, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, x in enumerate(items):
        ids[i, : len(x[0])] = torch.tensor(x[0])
        mask[i, : len(x[0])] = 1
    return ids, mask


def upper(layers, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    additive = (1.0 - mask[:, None, None, :].float()) * -1e9
    for layer in layers:
        out = layer(hidden, attention_mask=additive)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frozen", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    settings = Settings()
    path = model_dir(settings.model_cache_dir)
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    model = AutoModel.from_pretrained(path)
    model.eval()
    data = json.loads(settings.cmrc_path.read_text("utf-8"))
    train, held = examples(data, "dev"), examples(data, "test")
    feats = [f for f in (encode(tok, q, c, at, a[0]) for q, c, a, at in train) if f]
    random.shuffle(feats)
    started = time.time()
    cache = []
    with torch.no_grad():
        for i in range(0, len(feats), args.batch):
            items = feats[i: i + args.batch]
            ids, mask = batch(items)
            hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[args.frozen]
            cache.append((hidden, mask, items))
    top = model.encoder.layer[args.frozen:]
    head = torch.nn.Linear(model.config.hidden_size, 2)
    rates = (5e-5, 1e-3)
    opt = torch.optim.AdamW([{"params": [p for layer in top for p in layer.parameters()], "lr": rates[0]},
                             {"params": head.parameters(), "lr": rates[1]}], weight_decay=0.01)
    steps, step = args.epochs * len(cache), 0
    for epoch in range(args.epochs):
        top.train()
        random.shuffle(cache)
        total = 0.0
        for hidden, mask, items in cache:
            for group, rate in zip(opt.param_groups, rates, strict=True):
                group["lr"] = rate * max(0.0, 1 - step / steps)
            logits = head(upper(top, hidden, mask)).masked_fill((mask == 0)[..., None], -1e4)
            starts = torch.tensor([x[3][0] for x in items])
            ends = torch.tensor([x[3][1] for x in items])
            loss = (torch.nn.functional.cross_entropy(logits[..., 0], starts)
                    + torch.nn.functional.cross_entropy(logits[..., 1], ends)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            total += loss.item()
        print(f"epoch {epoch}: loss {total / len(cache):.3f}, {time.time() - started:.0f} s", flush=True)
    top.eval()
    scores = []
    evaluated = time.time()
    with torch.no_grad():
        for question, context, answers, _ in held:
            ids, start, offsets, _ = encode(tok, question, context)
            tokens, mask = batch([(ids,)])
            hidden = model(input_ids=tokens, attention_mask=mask, output_hidden_states=True).hidden_states[args.frozen]
            logits = head(upper(top, hidden, mask))[0, start: start + len(offsets)]
            s_top = torch.topk(logits[:, 0], min(20, len(offsets))).indices.tolist()
            e_top = torch.topk(logits[:, 1], min(20, len(offsets))).indices.tolist()
            pairs = [(float(logits[i, 0] + logits[j, 1]), i, j) for i in s_top for j in e_top
                     if i <= j < i + MAX_ANSWER_TOKENS]
            _, i, j = max(pairs) if pairs else (0.0, 0, 0)
            scores.append(em_f1(context[offsets[i][0]: offsets[j][1]], answers))
    em, f1 = np.mean(scores, axis=0)
    per_question = (time.time() - evaluated) / len(held) * 1000
    print(f"held-out EM {em:.4f} F1 {f1:.4f} over {len(held)} questions; {per_question:.0f} ms per question")


if __name__ == "__main__":
    main()
