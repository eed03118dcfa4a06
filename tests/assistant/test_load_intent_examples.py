"""Labelled intent examples from YAML and CSV, and the errors that name file, line and column."""

from __future__ import annotations

from collections import Counter

import pytest

from aicrm.assistant.training_data import DEFAULT_INTENTS, load_examples
from aicrm.core.errors import ImportRejected, ValidationFailed

SHOP_INTENTS = {"order_status", "delivery_problem", "return_refund", "cancel_order", "product_question", "complaint",
                "account_password", "talk_to_human", "greeting", "goodbye", "update_contact", "thanks"}


def test_load_examples__default_shop_intents():
    texts, labels = load_examples(DEFAULT_INTENTS)
    counts = Counter(labels)
    assert set(counts) == SHOP_INTENTS
    assert all(25 <= n <= 40 for n in counts.values()), counts
    assert len(set(texts)) == len(texts)  # no example written twice


def test_load_examples__yaml_shapes(tmp_path):
    plain = tmp_path / "plain.yml"
    plain.write_text("intents:\n  hello: [hi, hello]\n  bye:\n    examples: [bye, ciao]\n")
    listed = tmp_path / "listed.yaml"
    listed.write_text("intents:\n  - intent: hello\n    examples: [hi, hello]\n  - intent: bye\n    examples: [bye]\n")
    assert load_examples(plain) == (["hi", "hello", "bye", "ciao"], ["hello", "hello", "bye", "bye"])
    assert load_examples(listed) == (["hi", "hello", "bye"], ["hello", "hello", "bye"])


def test_load_examples__csv_with_named_columns_and_multiline_text(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('id,utterance,intent\n1,"hello\nthere",greeting\n2,where is it,order_status\n\n3,bye,goodbye\n')
    assert load_examples(path, text_col="utterance", label_col="intent") == (
        ["hello\nthere", "where is it", "bye"], ["greeting", "order_status", "goodbye"])


def test_load_examples__missing_column_names_file_and_header(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,category\nhi,greeting\n")
    with pytest.raises(ValidationFailed) as err:
        load_examples(path)
    assert str(path) in err.value.message and "'label'" in err.value.message and "'category'" in err.value.message
    assert "--label-col" in err.value.hint


def test_load_examples__empty_value_names_line_and_column(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\nhi,greeting\n"two\nlines",greeting\n,greeting\nbye,\n')
    with pytest.raises(ImportRejected) as err:
        load_examples(path)
    assert "line 5" in err.value.message and "'text'" in err.value.message  # header is line 1; row 2 spans 3-4
    assert err.value.details == [f"{path}:5: column 'text': empty value", f"{path}:6: column 'label': empty value"]


@pytest.mark.parametrize("content, expected", [
    ("intents: [unclosed", "not valid YAML"),
    ("something: else", "no 'intents' mapping"),
    ("intents:\n  hello: []\n", "1 bad intent entry"),
])
def test_load_examples__bad_yaml(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ValidationFailed) as err:
        load_examples(path)
    assert expected in err.value.message and str(path) in err.value.message


def test_load_examples__missing_or_empty_file(tmp_path):
    with pytest.raises(ValidationFailed, match="no such file"):
        load_examples(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValidationFailed, match="empty"):
        load_examples(tmp_path / "empty.csv")
