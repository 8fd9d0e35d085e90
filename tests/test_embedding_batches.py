"""Length-sorted, budget-bounded batching of texts for the onnxruntime path."""

from qa.embedding.base import length_sorted_batches


def test_batches_cover_every_text_once_sorted_and_bounded():
    texts = ["x" * n for n in (500, 10, 300, 20, 30, 600, 40, 50)]
    batches = length_sorted_batches(texts, max_batch=4, char_budget=200)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(texts)))
    lengths = [len(texts[i]) for i in flat]
    assert lengths == sorted(lengths)
    for b in batches:
        assert len(b) <= 4
        assert len(b) == 1 or len(b) * max(len(texts[i]) for i in b) <= 200
    assert [len(b) for b in batches] == [4, 1, 1, 1, 1]
    assert length_sorted_batches([], 8) == []
