"""`qa train-reader`: fine-tune the sentence reader, a (question, sentence) cross-encoder.

The reader starts from the bundled all-MiniLM-L6-v2 weights with a one-output head and
learns listwise: each training group is a question, the sentence holding its answer and
`group - 1` other sentences of the same article (SQuAD: the same paragraph first), shown
in a shuffled order; the loss is softmax cross-entropy over the group, so the model
learns which sentence of an article answers, not whether a sentence is on topic. Only
tuning data goes in: SQuAD v1.1 dev articles 1-32 and the bbc-tuning questions (repeated
`news_repeat` times; there are few of them). The last `kept_back` SQuAD groups are not
trained on; the share of them whose answer sentence scores first is reported (chance
1/group). The result is exported to ONNX and quantised to int8 (`qa/models/reader.onnx`),
which `qa.reader.SentenceReader` runs.
"""

from __future__ import annotations

import json
import logging
import math
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .models import READER_FILE, READER_INFO, file_digest
from .reader import MAX_LENGTH

logger = logging.getLogger(__name__)
Group = tuple[str, list[str]]
"""A question and its sentences, the one holding the answer first."""


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """Training settings; the defaults made the shipped reader."""

    seed: int = 0
    steps: int = 800
    group: int = 8
    per_step: int = 4  # groups per optimiser step
    learning_rate: float = 6e-5
    news_repeat: int = 10
    kept_back: int = 300


@dataclass
class ReaderReport:
    """How training went: loss, kept-back accuracy (answer sentence first), time."""

    groups: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    loss_first: float = 0.0
    loss_last: float = 0.0
    kept_back_before: float = 0.0
    kept_back_after: float = 0.0
    seconds: float = 0.0
    digest: str = ""
    config: dict[str, Any] = field(default_factory=dict)


def _sentences(text: str) -> list[str]:
    from .text import sentences

    return [text[s:e] for s, e in sentences(text)]


def squad_groups(data: Path, config: ReaderConfig, rng: random.Random) -> list[Group]:
    """Groups from the SQuAD tuning split: the paragraph's other sentences, then other
    paragraphs' sentences of the same article, as negatives."""
    from .datasets import squad_split
    from .evaluate import contains_answer

    split = squad_split(data)
    paragraphs = {a["id"]: [p for p in a["text"].split("\n\n") if p.strip()]
                  for a in split.squad.articles}
    out = []
    for q in split.tuning:
        if not q.answerable or not q.context:
            continue
        own = _sentences(q.context)
        positive = [s for s in own if contains_answer(s, q.answers)]
        if not positive:
            continue
        negatives = [s for s in own if s not in positive]
        others = [s for p in paragraphs.get(q.source, []) if p.strip() != q.context.strip()
                  for s in _sentences(p) if not contains_answer(s, q.answers)]
        rng.shuffle(negatives)
        rng.shuffle(others)
        chosen = (negatives[:4] + others)[: config.group - 1]
        if len(chosen) == config.group - 1:
            out.append((q.question, [positive[0], *chosen]))
    return out


def news_groups(data: Path, work: Path, config: ReaderConfig, rng: random.Random) -> list[Group]:
    """Groups from bbc-tuning: the source article's other sentences as negatives; a
    follow-up is read as the search reads it (with the question before it)."""
    from .conversation import retrieval_query
    from .datasets import BBC_SETS, bbc_articles, bbc_questions
    from .evaluate import contains_answer

    kept = bbc_articles(data, work / "bbc.jsonl")
    texts = {}
    for line in (work / "bbc.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        texts[record["id"]] = record["text"]
    out = []
    for q in bbc_questions(BBC_SETS["bbc-tuning"], kept):
        if not q.answerable or q.source not in texts:
            continue
        every = _sentences(texts[q.source])
        positive = [s for s in every if contains_answer(s, q.answers)]
        negatives = [s for s in every if s not in positive]
        if not positive or len(negatives) < config.group - 1:
            continue
        rng.shuffle(negatives)
        out.append((retrieval_query(q.question, list(q.history)),
                    [positive[0], *negatives[: config.group - 1]]))
    return out


def train_reader(squad: Sequence[Group], news: Sequence[Group], out: Path,
                 config: ReaderConfig = ReaderConfig(), *,
                 base: Path | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> ReaderReport:
    """Fine-tune the reader on the groups and write `out/reader.onnx` (int8) and
    `out/reader.json` (this report). `base` is the transformer to start from (default:
    the bundled all-MiniLM-L6-v2)."""
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers import logging as hf_logging

    from .cross import export_cross_encoder
    from .embed import resolve_model
    from .onnx_backend import _tokenizer, quantize_onnx

    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    base = base or Path(resolve_model(None))
    kept = list(squad[len(squad) - config.kept_back:]) if config.kept_back else []
    train = list(squad[: len(squad) - len(kept)]) + list(news) * config.news_repeat
    rng.shuffle(train)
    if not train:
        raise ValueError("no training groups")
    tok = _tokenizer(base, MAX_LENGTH)
    hf_logging.set_verbosity_error()  # "some weights newly initialised": the head, as meant
    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1,
                                                               local_files_only=True)
    steps = config.steps
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    warm = max(1, int(0.05 * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm)))

    def logits(batch: Sequence[Group]) -> Any:
        enc = tok.encode_batch([(q, s) for q, group in batch for s in group])
        ids = torch.tensor([e.ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        types = torch.tensor([e.type_ids for e in enc])
        return model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits.view(
            len(batch), -1)

    def accuracy() -> float:
        if not kept:
            return 0.0
        model.eval()
        with torch.no_grad():
            right = sum(int((logits(kept[i:i + 16]).argmax(1) == 0).sum())
                        for i in range(0, len(kept), 16))
        model.train()
        return right / len(kept)

    report = ReaderReport(groups={"squad": len(squad) - len(kept), "news": len(news),
                                  "kept_back": len(kept)}, config=asdict(config))
    report.kept_back_before = accuracy()
    model.train()
    average = None
    for step in range(steps):
        batch = [train[(step * config.per_step + i) % len(train)] for i in range(config.per_step)]
        shuffled, target = [], []
        for q, group in batch:  # the answer's place carries nothing
            order = list(range(len(group)))
            rng.shuffle(order)
            shuffled.append((q, [group[j] for j in order]))
            target.append(order.index(0))
        loss = torch.nn.functional.cross_entropy(logits(shuffled), torch.tensor(target))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        average = loss.item() if average is None else 0.98 * average + 0.02 * loss.item()
        if step == 0:
            report.loss_first = average
        if progress and (step % 20 == 0 or step == steps - 1):
            progress("training the reader", step + 1, steps)
    report.steps = steps
    report.loss_last = float(average or 0.0)
    report.kept_back_after = accuracy()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        export_cross_encoder(Path(tmp), Path(tmp) / "fp32.onnx")
        quantize_onnx(Path(tmp) / "fp32.onnx", out / READER_FILE)
    report.digest = file_digest(out / READER_FILE)
    report.seconds = time.perf_counter() - t0
    info = out / READER_INFO
    tmp_info = info.with_suffix(".tmp")
    tmp_info.write_text(json.dumps(asdict(report), indent=1) + "\n", encoding="utf-8")
    tmp_info.replace(info)
    return report


def reader_groups(data: Path, work: Path,
                  config: ReaderConfig = ReaderConfig()) -> tuple[list[Group], list[Group]]:
    """The SQuAD and news training groups from the tuning data in `data`."""
    rng = random.Random(config.seed)
    work.mkdir(parents=True, exist_ok=True)
    return squad_groups(data, config, rng), news_groups(data, work, config, rng)


def expected_minutes(config: ReaderConfig) -> float:
    """About how long training takes on 2 cores (2.2 s a step measured)."""
    return math.ceil(config.steps * 2.2 / 60)
