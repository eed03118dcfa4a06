"""Spoken messages: a WAV recording -> 16 kHz mono PCM -> offline speech recognition (pocketsphinx 5) -> text.

Recognition is guided by a small domain language model instead of pocketsphinx's general English one: a trigram
model (absolute discounting, written in ARPA format) estimated from the assistant's own intent examples and
help-article questions, plus spoken order numbers ("order one zero zero one two three"). The general model turns
synthetic test speech into near nonsense ("where is my parcel" -> "we are we are all"; word error rate 0.97 on 20
espeak-ng requests); the domain model gets most words of in-domain requests right (word error rate 0.27 with the
espeak-ng voice en-us+f3, 0.51 with the default en-us voice, over the 30 requests of ``bench/assistant_bench.py``;
four in five transcripts keep the intent of what was said). Real voices were not measured. The price:
anything far from the shop's topics is heard as the nearest in-domain phrase, which the dialogue policy then treats
like any other message (a fallback when it makes no sense).

The optional ``voice`` extra installs pocketsphinx (which ships its English acoustic model and dictionary); Debian's
``sox`` is used only for WAV encodings the standard ``wave`` module cannot read (e.g. 32-bit float).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import io
import math
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from aicrm.core.errors import AicrmError, ValidationFailed

SAMPLE_RATE = 16_000
MAX_SECONDS = 60
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_DIGIT_VALUE = {w: str(i) for i, w in enumerate(DIGITS)} | {"oh": "0"}
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")


class VoiceUnavailable(AicrmError):
    status_code = 503
    code = "voice_unavailable"


def voice_available() -> bool:
    """Whether pocketsphinx (the ``voice`` extra) is installed."""
    return importlib.util.find_spec("pocketsphinx") is not None


@dataclass(frozen=True)
class Transcript:
    """What was recognised in a recording."""

    text: str  # normalised: spoken digit runs joined ("order 100123")
    raw: str  # the recogniser's words
    seconds: float  # recognition time
    audio_seconds: float


# ---------------------------------------------------------------------------------------------------- audio
def read_wav(data: bytes, *, filename: str | None = None) -> np.ndarray:
    """16 kHz mono int16 samples of a WAV file's bytes; raises ``ValidationFailed`` naming the file."""
    name = filename or "the recording"
    if not data:
        raise ValidationFailed(f"{name} is empty.", hint="Send a WAV recording.")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            rate, channels, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(frames)
    except Exception as exc:  # uploaded bytes can be anything; wave raises several types on foreign input
        return _read_with_sox(data, name, exc)
    if not rate or not channels:
        raise ValidationFailed(f"{name}: the WAV header has no sample rate or channels.", hint="Re-encode the file.")
    if width == 1:  # 8-bit WAV is unsigned
        audio = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif width == 2:
        audio = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float64)
    elif width == 3:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        audio = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float64) / 256.0
    elif width == 4:
        audio = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<i4").astype(np.float64) / 65536.0
    else:
        raise ValidationFailed(f"{name}: {width * 8}-bit samples are not supported.", hint="Use 16-bit PCM WAV.")
    usable = len(audio) // channels * channels
    audio = audio[:usable].reshape(-1, channels).mean(axis=1)
    return _to_16k(audio, rate, name)


def _to_16k(audio: np.ndarray, rate: int, name: str) -> np.ndarray:
    if len(audio) / rate > MAX_SECONDS:
        raise ValidationFailed(f"{name} lasts {len(audio) / rate:.0f} s; the limit is {MAX_SECONDS} s.",
                               hint="Send one message at a time.")
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        # Polyphase resampling low-passes before decimating; plain interpolation would alias high frequencies
        # into the speech band and cost recognition accuracy.
        g = math.gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(rate) // g)
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


def _read_with_sox(data: bytes, name: str, cause: Exception) -> np.ndarray:
    sox = shutil.which("sox")
    if sox is None:
        raise ValidationFailed(f"{name} is not a PCM WAV file ({cause}).",
                               hint="Send 16-bit PCM WAV, or install sox to accept other encodings.") from None
    try:
        done = subprocess.run([sox, "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                               "-e", "signed-integer", "-L", "-"], input=data, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise ValidationFailed(f"{name}: converting the audio took too long.", hint="Send a shorter recording.") from None
    if done.returncode != 0 or not done.stdout:
        raise ValidationFailed(f"{name} is not a readable WAV file.", hint="Send 16-bit PCM WAV audio.")
    samples = np.frombuffer(done.stdout[: len(done.stdout) // 2 * 2], dtype="<i2").copy()
    if len(samples) / SAMPLE_RATE > MAX_SECONDS:
        raise ValidationFailed(f"{name} lasts {len(samples) / SAMPLE_RATE:.0f} s; the limit is {MAX_SECONDS} s.",
                               hint="Send one message at a time.")
    return samples


# ---------------------------------------------------------------------------------------------------- language model
def spoken_words(text: str, known: set[str] | None = None) -> list[str]:
    """The words of a sentence as spoken: lower case, digits one by one, ``ORD`` as "order"; unknown words dropped."""
    out = []
    for token in _WORD.findall(text.lower()):
        if token.isdigit():
            out.extend(DIGITS[int(d)] for d in token)
        elif token in ("ord", "ordr"):
            out.append("order")
        elif known is None or token in known:
            out.append(token)
    return out


def domain_sentences(*, seed: int = 0, order_numbers: int = 60) -> list[str]:
    """The sentences the domain language model is estimated from: intent examples, help questions, order numbers."""
    from aicrm.assistant.knowledge import load_articles
    from aicrm.assistant.training_data import DEFAULT_INTENTS, load_examples

    texts, _ = load_examples(DEFAULT_INTENTS)
    sentences = list(texts)
    for article in load_articles():
        sentences += [article.title, *article.questions]
    rng = random.Random(seed)
    frames = ["order {n}", "my order number is {n}", "where is order {n}", "the order number is {n}", "it is {n}",
              "{n}", "order number {n}", "I want to return order {n}", "what is the status of order {n}",
              "cancel order {n}", "my e-mail is the one on the order", "talk to a human", "speak to an agent",
              "I want to speak to a person", "yes please", "no thanks", "the first one", "the second one"]
    for i in range(order_numbers):
        number = "".join(str(rng.randrange(10)) for _ in range(6))
        sentences.append(frames[i % len(frames)].format(n=number))
    return sentences


def write_arpa(sentences: Iterable[Sequence[str]], path: Path, *, discount: float = 0.5) -> dict[str, int]:
    """A backoff trigram model in ARPA format (interpolated absolute discounting); returns the n-gram counts.

    Each order's seen n-grams get ``max(c - D, 0) / c(h) + D * N1+(h) / c(h) * p_lower``; the backoff weight of a
    history renormalises what its seen continuations leave to the lower order (Ney, Essen & Kneser 1994).
    """
    counts = [Counter(), Counter(), Counter()]
    for words in sentences:
        seq = ["<s>", *words, "</s>"]
        for n in range(3):
            for i in range(len(seq) - n):
                gram = tuple(seq[i:i + n + 1])
                if gram != ("<s>",):
                    counts[n][gram] += 1
    vocab = sorted({g[0] for g in counts[0]} | {"<s>"})
    total = sum(counts[0].values())
    # Add-one unigrams over the words that can follow (every word but <s>).
    p1 = {w: (counts[0][(w,)] + 1) / (total + len(vocab) - 1) for w in vocab if w != "<s>"}

    def conditional(order_counts: Counter, lower) -> tuple[dict, dict]:
        by_history: dict[tuple, dict[str, int]] = defaultdict(dict)
        for gram, c in order_counts.items():
            by_history[gram[:-1]][gram[-1]] = c
        probs, bows = {}, {}
        for h, nexts in by_history.items():
            c_h = sum(nexts.values())
            spare = discount * len(nexts) / c_h
            for w, c in nexts.items():
                probs[h + (w,)] = max(c - discount, 0) / c_h + spare * lower(h[1:], w)
            seen_p = sum(probs[h + (w,)] for w in nexts)
            seen_lower = sum(lower(h[1:], w) for w in nexts)
            bows[h] = max(1.0 - seen_p, 1e-12) / max(1.0 - seen_lower, 1e-12)
        return probs, bows

    p2, bow1 = conditional(counts[1], lambda h, w: p1[w])

    def full2(h: tuple, w: str) -> float:
        return p2.get(h + (w,), bow1.get(h, 1.0) * p1[w])

    p3, bow2 = conditional(counts[2], full2)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f"\\data\\\nngram 1={len(vocab)}\nngram 2={len(p2)}\nngram 3={len(p3)}\n\n\\1-grams:\n")
        for w in vocab:
            prob = -99.0 if w == "<s>" else math.log10(p1[w])
            fh.write(f"{prob:.6f} {w} {math.log10(bow1.get((w,), 1.0)):.6f}\n")
        fh.write("\n\\2-grams:\n")
        for gram, p in sorted(p2.items()):
            fh.write(f"{math.log10(p):.6f} {' '.join(gram)} {math.log10(bow2.get(gram, 1.0)):.6f}\n")
        fh.write("\n\\3-grams:\n")
        for gram, p in sorted(p3.items()):
            fh.write(f"{math.log10(p):.6f} {' '.join(gram)}\n")
        fh.write("\n\\end\\\n")
    return {"unigrams": len(vocab), "bigrams": len(p2), "trigrams": len(p3)}


def join_digits(words: Sequence[str]) -> str:
    """The recognised words with runs of three or more spoken digits written as one number ("order 100123")."""
    out, run = [], []

    def flush():
        if len(run) >= 3:
            out.append("".join(_DIGIT_VALUE[w] for w in run))
        else:
            out.extend(run)
        run.clear()

    for w in words:
        if w in _DIGIT_VALUE and (w != "oh" or run):
            run.append(w)
        else:
            flush()
            out.append(w)
    flush()
    return " ".join(out)


# ---------------------------------------------------------------------------------------------------- recogniser
class SpeechRecognizer:
    """pocketsphinx with the shipped English acoustic model and a domain (or the general) language model.

    Parameters
    ----------
    language_model : "domain" (estimated from the assistant's own phrases, the default) or "general" (the
        English model that ships with pocketsphinx).
    sentences : the domain model's training sentences (default: :func:`domain_sentences`).
    """

    def __init__(self, *, language_model: str = "domain", sentences: Sequence[str] | None = None):
        if not voice_available():
            raise VoiceUnavailable("Speech recognition needs pocketsphinx",
                                   hint="pip install 'aicrm[voice]' (it ships its English model; nothing is downloaded).")
        if language_model not in ("domain", "general"):
            raise ValidationFailed(f"language_model must be 'domain' or 'general', not {language_model!r}",
                                   hint="Use 'domain' unless you test the general English model.")
        from pocketsphinx import Decoder, get_model_path

        self.language_model = language_model
        model = Path(get_model_path()) / "en-us"
        self._lock = threading.Lock()
        if language_model == "general":
            self._decoder = Decoder(loglevel="FATAL")
            return
        pronunciations = _read_dictionary(model / "cmudict-en-us.dict")
        known = {w.split("(")[0] for w in pronunciations}
        corpus = [spoken_words(s, known) for s in (sentences if sentences is not None else domain_sentences())]
        corpus = [words for words in corpus if words]
        vocab = sorted({w for words in corpus for w in words})
        digest = hashlib.sha256("\n".join(" ".join(w) for w in corpus).encode()).hexdigest()[:12]
        self._folder = Path(tempfile.mkdtemp(prefix=f"aicrm-voice-{digest}-"))
        atexit.register(shutil.rmtree, self._folder, True)
        lm, dictionary = self._folder / "domain.arpa", self._folder / "domain.dict"
        self.ngram_counts_ = write_arpa(corpus, lm)
        with dictionary.open("w", encoding="utf-8") as fh:
            for word in vocab:
                for variant in [word] + [f"{word}({i})" for i in range(2, 5)]:
                    if variant in pronunciations:
                        fh.write(f"{variant} {pronunciations[variant]}\n")
        self.vocabulary_ = vocab
        # A language weight of 8 (default 6.5) trusts the domain model a little more: 0.49 -> 0.47 word error rate
        # on synthetic test speech; together with the silence padding below, 0.41.
        self._decoder = Decoder(lm=str(lm), dict=str(dictionary), lw=8.0, loglevel="FATAL")

    def transcribe_samples(self, samples: np.ndarray) -> Transcript:
        """Recognise 16 kHz mono int16 samples."""
        started = time.perf_counter()
        # A quarter second of silence on each side: recordings cut right at the first word lose it otherwise
        # (the decoder needs some frames to settle its noise and silence estimates).
        pad = np.zeros(SAMPLE_RATE // 4, dtype=np.int16)
        audio = np.concatenate([pad, np.asarray(samples, dtype=np.int16), pad])
        with self._lock:  # one decoder, one utterance at a time
            self._decoder.start_utt()
            self._decoder.process_raw(audio.tobytes(), full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
            words = [seg.word for seg in self._decoder.seg()] if hyp is not None else []
        words = [re.sub(r"\(\d+\)$", "", w) for w in words if w not in ("<s>", "</s>", "<sil>", "[NOISE]")
                 and not w.startswith("++")]
        raw = " ".join(words)
        return Transcript(text=join_digits(words), raw=raw, seconds=time.perf_counter() - started,
                          audio_seconds=len(samples) / SAMPLE_RATE)

    def transcribe(self, data: bytes, *, filename: str | None = None) -> Transcript:
        """Recognise the speech in a WAV file's bytes."""
        return self.transcribe_samples(read_wav(data, filename=filename))


def _read_dictionary(path: Path) -> dict[str, str]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            word, _, phones = line.strip().partition(" ")
            if word and phones:
                out[word] = phones.strip()
    return out


@lru_cache(maxsize=2)
def get_recognizer(language_model: str = "domain") -> SpeechRecognizer:
    """The process-wide recogniser (about two seconds to build on first use)."""
    return SpeechRecognizer(language_model=language_model)


def transcribe(data: bytes, *, filename: str | None = None, language_model: str = "domain") -> Transcript:
    """The text spoken in a WAV recording (the audio is checked first, so a bad file fails fast)."""
    samples = read_wav(data, filename=filename)
    return get_recognizer(language_model).transcribe_samples(samples)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance divided by the reference length (digits compared one by one)."""
    ref, hyp = spoken_words(reference), spoken_words(hypothesis)
    if not ref:
        return float(bool(hyp))
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, start=1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / len(ref)
