"""A joint English+Spanish subword tokenizer: sentencepiece, trained in memory on the training split only.

Model: the unigram language model of Kudo, "Subword Regularization: Improving Neural Network Translation Models
with Multiple Subword Candidates", ACL 2018, https://arxiv.org/abs/1804.10959, as implemented by sentencepiece
(Kudo and Richardson, EMNLP 2018, https://arxiv.org/abs/1808.06226); ``model_type="bpe"`` selects byte-pair
encoding (Sennrich et al. 2016) instead. One vocabulary serves both languages, so a Transformer translator
(Vaswani et al., "Attention Is All You Need", NIPS 2017, https://arxiv.org/abs/1706.03762) can tie its source
embedding, target embedding and output projection, as the dual-learning models (He et al., NIPS 2016,
https://arxiv.org/abs/1611.00179) translate both ways over the same ids.

Token ids follow the rest of dlfrontier: PAD=0, BOS=1, EOS=2, UNK=3 (PAD, BOS, EOS are those of
:mod:`dlfrontier.multimodal.captioning.models`). A batch of sentences is a LongTensor ``[B, T]`` holding
``w_1 .. w_n EOS PAD ..`` (no BOS: the models prepend it).

Training is deterministic (one thread, every sentence read, no shuffling or sampling), so the same texts and
vocabulary size give byte-identical models. ``character_coverage=1.0`` keeps every character of the training
text (accented Spanish letters, ``¿``, ``¡``) in the vocabulary, and printable ASCII is always included; a
character never seen in training (e.g. a Hebrew letter outside Psalm 119) becomes UNK. Sentencepiece's default
normalisation (``nmt_nfkc``: NFKC, whitespace collapsed) is kept, so decoding returns the text as normalised,
which for the corpus of :mod:`dlfrontier.data.parallel` is the text itself.
"""

from __future__ import annotations

import io
import string
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from dlfrontier.errors import DataError, require
from dlfrontier.multimodal.captioning.models import BOS, EOS, PAD

UNK = 3
SPECIALS = {"pad_id": PAD, "bos_id": BOS, "eos_id": EOS, "unk_id": UNK}
# Printable ASCII is always in the vocabulary, seen in training or not: the corpus's validation books hold an
# "X" (chapter openings are capitalised: "EXISTÍA") that no training verse has, and it should not become UNK.
_ASCII = "".join(c for c in string.printable if not c.isspace())


def _sentencepiece() -> Any:
    return require("sentencepiece", "dual")


class SubwordTokenizer:
    """A trained sentencepiece model with the project's special ids; build it with :meth:`train` or
    :meth:`from_bytes`.

    Args:
        processor: a loaded ``sentencepiece.SentencePieceProcessor`` whose specials are at PAD/BOS/EOS/UNK.
        proto: its serialized model (what :meth:`to_bytes` returns).
    """

    def __init__(self, processor: Any, proto: bytes) -> None:
        self._sp = processor
        self._proto = proto

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, *, model_type: str = "unigram") -> SubwordTokenizer:
        """Train on ``texts`` (both languages together) in memory; no file is written.

        Args:
            texts: training sentences, e.g. the English and Spanish sides of the training split.
            vocab_size: pieces in the vocabulary, the four specials included.
            model_type: ``"unigram"`` (Kudo 2018, sentencepiece's default) or ``"bpe"``.

        Raises:
            ValueError: a bad ``vocab_size`` or ``model_type``, or ``texts`` too small for ``vocab_size``.
        """
        if model_type not in ("unigram", "bpe"):
            raise ValueError(f"model_type={model_type!r}: choose 'unigram' or 'bpe'")
        if isinstance(texts, str):
            raise ValueError("texts must be an iterable of sentences, not one string")
        if vocab_size <= len(SPECIALS):
            raise ValueError(f"vocab_size={vocab_size}: must exceed the {len(SPECIALS)} special tokens")
        spm = _sentencepiece()
        sentences = [t for t in texts if t.strip()]
        if not sentences:
            raise ValueError("texts holds no non-empty sentence to train on")
        writer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=writer,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=1.0,
                required_chars=_ASCII,
                num_threads=1,
                input_sentence_size=0,  # read every sentence: no sampling
                shuffle_input_sentence=False,
                minloglevel=2,
                **SPECIALS,
            )
        except RuntimeError as e:  # e.g. "Vocabulary size too high" for a small corpus
            message = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise ValueError(f"sentencepiece could not train a {vocab_size}-piece model: {message}") from None
        return cls.from_bytes(writer.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> SubwordTokenizer:
        """Load a model serialized by :meth:`to_bytes`.

        Raises:
            DataError: ``data`` is not a sentencepiece model, or its specials are not at PAD/BOS/EOS/UNK.
        """
        spm = _sentencepiece()
        data = bytes(data)
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(data)
        except (RuntimeError, TypeError, ValueError, OSError):
            processor = None
        if processor is None or processor.get_piece_size() <= len(SPECIALS):
            raise DataError(f"not a sentencepiece model ({len(data)} bytes); the tokenizer data is damaged")
        got = {"pad_id": processor.pad_id(), "bos_id": processor.bos_id(), "eos_id": processor.eos_id(),
               "unk_id": processor.unk_id()}  # fmt: skip
        if got != SPECIALS:
            raise DataError(f"sentencepiece model has special ids {got}, expected {SPECIALS}")
        return cls(processor, data)

    def to_bytes(self) -> bytes:
        """The serialized model (a sentencepiece ``ModelProto``), for checkpoints; :meth:`from_bytes` reads it."""
        return self._proto

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:  # pickling (torch.save of a dict holding a tokenizer)
        return (type(self).from_bytes, (self._proto,))

    @property
    def vocab_size(self) -> int:
        """Number of ids, specials included: valid ids are ``0 .. vocab_size - 1``."""
        return int(self._sp.get_piece_size())

    def piece(self, token_id: int) -> str:
        """The subword string of one id (``▁`` marks a word start), for inspecting tokenizations."""
        return str(self._sp.id_to_piece(int(token_id)))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Subword ids of each text, without BOS or EOS."""
        if isinstance(texts, str):
            raise ValueError("encode takes a list of sentences, not one string; wrap it: encode([text])")
        return [list(ids) for ids in self._sp.encode(list(texts))]

    def decode(self, ids: torch.Tensor | Sequence[Sequence[int]]) -> list[str]:
        """Detokenized text of each row: a row stops at its first EOS; PAD and BOS are skipped.

        Shapes:
            ids: ``[B, T]`` (a LongTensor or a list of lists of ints).
        """
        if isinstance(ids, torch.Tensor) and ids.dim() != 2:
            raise ValueError(f"ids has shape {tuple(ids.shape)}, expected [B, T]")
        rows = ids.tolist() if isinstance(ids, torch.Tensor) else [list(map(int, row)) for row in ids]
        cleaned: list[list[int]] = []
        for row in rows:
            out = []
            for t in row:
                if t == EOS:
                    break
                if t == PAD or t == BOS:
                    continue
                if not 0 <= t < self.vocab_size:
                    raise ValueError(f"token id {t} outside the vocabulary 0..{self.vocab_size - 1}")
                out.append(t)
            cleaned.append(out)
        return [str(s) for s in self._sp.decode(cleaned)] if cleaned else []

    def batch(
        self, texts_or_ids: Sequence[str] | Sequence[Sequence[int]], *, max_len: int | None = None
    ) -> torch.Tensor:
        """A right-padded batch ``w_1 .. w_n EOS PAD ..`` of texts (encoded first) or of id lists.

        Args:
            texts_or_ids: sentences, or id lists without EOS (as :meth:`encode` returns).
            max_len: the most tokens a row may hold, EOS included; longer rows keep their first
                ``max_len - 1`` ids and the EOS. ``None``: no limit.

        Returns:
            a LongTensor ``[B, T]``, ``T`` = the longest row (EOS included).
        """
        if isinstance(texts_or_ids, str):
            raise ValueError("batch takes a list of sentences, not one string; wrap it: batch([text])")
        if max_len is not None and max_len < 1:
            raise ValueError(f"max_len={max_len}: a row needs at least 1 position (its EOS)")
        items: list[str | Sequence[int]] = list(texts_or_ids)
        if not items:
            raise ValueError("batch of no sentences")
        strings = [x for x in items if isinstance(x, str)]
        if len(strings) == len(items):
            rows = self.encode(strings)
        elif not strings:
            rows = [[int(t) for t in x] for x in items if not isinstance(x, str)]
        else:
            raise ValueError("batch takes either all sentences or all id lists, not a mix")
        if max_len is not None:
            rows = [r[: max_len - 1] for r in rows]
        width = max(len(r) for r in rows) + 1
        out = torch.full((len(rows), width), PAD, dtype=torch.long)  # [B, T]
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            out[i, len(r)] = EOS
        return out
