"""The ``aicrm text`` commands, run through the real CLI."""

import json

from typer.testing import CliRunner

from aicrm.cli import app
from aicrm.nlp.simulate import simulate_feedback

runner = CliRunner()


def _labelled_files(tmp_path):
    df = simulate_feedback(160, lang="en", random_state=7)
    df = df[df["rating"] != 3].assign(label=lambda d: (d["rating"] >= 4).astype(int))
    a, b = df.iloc[: len(df) // 2], df.iloc[len(df) // 2 :]
    # Header-less, tab-separated, like the UCI sentiment files; one text has an unbalanced quote.
    first = tmp_path / "a.txt"
    first.write_text("".join(f"{t}\t{lab}\n" for t, lab in zip(a["text"], a["label"], strict=True)).replace("The ", '"The ', 1))
    second = tmp_path / "b.txt"
    second.write_text("".join(f"{t}\t{lab}\n" for t, lab in zip(b["text"], b["label"], strict=True)))
    return [first, second], len(df)


def test_sentiment_evaluate_several_headerless_files(tmp_path):
    files, rows = _labelled_files(tmp_path)
    result = runner.invoke(
        app,
        ["text", "sentiment-evaluate", *map(str, files), "--columns", "text,label", "--sep", "\\t", "--text-col", "text",
         "--label-col", "label", "--folds", "3", "--no-embeddings", "--json"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["rows"] == rows and out["classes"] == ["0", "1"] and out["folds"] == 3
    assert out["accuracy"] >= 0.9 and out["macro_f1"] >= 0.9 and "NB-weighted" in out["model"]
    assert set(out) >= {"rows", "classes", "accuracy", "macro_f1", "model"}


def test_sentiment_evaluate_errors_name_file_and_column(tmp_path):
    csv = tmp_path / "reviews.csv"
    csv.write_text("review,stars\nnice,1\nbad,0\n")
    result = runner.invoke(app, ["text", "sentiment-evaluate", str(csv), "--text-col", "comment", "--label-col", "stars"])
    assert result.exit_code == 1
    assert "reviews.csv: no column 'comment'; columns are review, stars" in result.output
    assert "Traceback" not in result.output
    csv.write_text("review,stars\nnice,1\nbad,\nok,0\n")
    result = runner.invoke(app, ["text", "sentiment-evaluate", str(csv), "--text-col", "review", "--label-col", "stars"])
    assert result.exit_code == 1 and "reviews.csv, line 3, column 'stars': empty label" in result.output
    csv.write_text("review,stars\n" + "nice,1\nbad,0\n" * 3)
    result = runner.invoke(app, ["text", "sentiment-evaluate", str(csv), "--text-col", "review", "--label-col", "stars"])
    assert result.exit_code == 1 and "Lower --folds" in result.output
    result = runner.invoke(app, ["text", "sentiment-evaluate", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "missing.csv: file not found" in result.output


def test_sentiment_and_mask_commands():
    result = runner.invoke(app, ["text", "sentiment", "快递太慢了，非常失望", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["language"] == "zh" and out["sentiment_label"] == "negative" and out["sentiment_score"] < 0
    result = runner.invoke(app, ["text", "mask", "Write to ann@example.org about SO-123456", "--order-pattern", r"SO-\d{6}", "--engine", "regex"])
    assert result.exit_code == 0 and result.stdout.strip() == "Write to <EMAIL> about <ORDER>"


def test_analyse_command_json_and_output(tmp_path):
    df = simulate_feedback(120, lang="en", random_state=8)
    df.loc[0, "text"] = "Contact me at bob@example.com, the delivery was late."
    src = tmp_path / "feedback.csv"
    df.to_csv(src, index=False)
    dest = tmp_path / "analysed.csv"
    result = runner.invoke(app, ["text", "analyse", str(src), "--rating-col", "rating", "--output", str(dest), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["rows"] == 120 and out["languages"] == {"en": 120} and out["csat"] is not None
    assert out["texts_with_pii"] >= 1 and "EMAIL" in out["pii_types"]
    assert sum(t["texts"] for t in out["topics"]) == 120
    worst = out["drivers"][0]
    assert worst["rating_diff"] < -1 and any(w in worst["topic"] for w in ("defective", "broken", "late", "delivery"))
    assert dest.exists() and "sentiment_label" in dest.read_text().splitlines()[0]
    src.write_text("text,rating\ngood,5\nbad,five\n")
    result = runner.invoke(app, ["text", "analyse", str(src), "--rating-col", "rating"])
    assert result.exit_code == 1 and "feedback.csv, line 3, column 'rating'" in result.output


def test_sentiment_evaluate_unreadable_files_name_the_line(tmp_path):
    bad = tmp_path / "quotes.csv"
    bad.write_text('text,label\n"never closed,1\nok,0\n')
    result = runner.invoke(app, ["text", "sentiment-evaluate", str(bad)])
    assert result.exit_code == 1 and "quotes.csv: cannot be read" in result.output and "line 2: a quoted field is never closed" in result.output
    ragged = tmp_path / "ragged.tsv"
    ragged.write_text("a\tb\tc\nx\t1\t\nq\t2\t3\t4\n")
    result = runner.invoke(app, ["text", "sentiment-evaluate", str(ragged), "--text-col", "a", "--label-col", "b"])
    assert result.exit_code == 1 and "Expected 3 fields in line 3, saw 4" in result.output
