"""``whatworks.search.semantic``: the bundled WordLlama model's vectors, computed by token counts."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.search import semantic


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(list("ab cé\n\u2581\t.-") + ["<s>", "</s>", "<unk>", "  ", "child",
                                                                      "😀", "\u00a0"]),
                         max_size=30).map("".join) | st.text(max_size=40), max_size=6))
def test_token_counts_are_the_tokenizers_counts(texts):
    """Cutting texts into pieces at runs of spaces and tokenizing each distinct piece once gives
    the tokenizer's own token counts, whatever the spaces, special tokens or characters."""
    table, tokenizer = semantic.token_model()
    ours = semantic.token_counts(texts, tokenizer, table.shape[0]).toarray()
    for j, text in enumerate(texts):
        ids = np.asarray(tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64)
        assert np.array_equal(ours[j], np.bincount(ids, minlength=table.shape[0])), text


def test_matrix_is_wordllamas_embedding_and_zero_for_a_text_without_tokens():
    texts = ["Foster carers and teenagers", "Signs of Safety  in child protection\n(UK)", "",
             "Family group conferences " * 60]
    ours = semantic.matrix(texts)
    theirs = semantic._load().embed([texts[0], texts[1], texts[3]], norm=True)
    assert ours.shape == (4, 256)
    assert np.allclose(ours[[0, 1, 3]], theirs, atol=1e-5)
    assert not ours[2].any() and np.isfinite(ours).all()
