"""Tiny ASR corpora in their distributed layouts (trees, manifests, codecs) for the corpus tests.

One ``write_<corpus>(root) -> expected`` per corpus; ``expected`` maps each data dir name that
``prepare_corpus`` should write to what it must hold: ``utterances``, ``speakers``, some
``texts`` and ``durations`` (seconds), and the exact ``skipped`` lines. Audio is synthetic tones
(deterministic, a few seconds in all) in the corpus's own codec; each fixture has one manifest
row whose audio is missing, to prove such rows are listed, not fatal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile as sf

RATE = 16000
CODECS = {"flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16"), "ogg": ("OGG", "VORBIS"),
          "opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III")}
Expected = Dict[str, Dict[str, object]]


def tone(path: Path, seconds: float, freq: float = 220.0) -> None:
    """``seconds`` of a quiet tone at 16 kHz, in the codec of the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * RATE))) / RATE
    fmt, subtype = CODECS[path.suffix[1:]]
    sf.write(path, (0.1 * np.sin(2 * np.pi * freq * t)).astype("float32"), RATE, format=fmt, subtype=subtype)


def _write(path: Path, lines: List[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_librispeech(root: Path) -> Expected:
    """``LibriSpeech/test-{clean,other}/<spk>/<chapter>/`` with flac and ``.trans.txt``."""
    base = root / "LibriSpeech"
    chapters = {("test-clean", "1089", "134686"): ["HE HOPED THERE WOULD BE STEW", "STUFF IT INTO YOU"],
                ("test-clean", "121", "121726"): ["ALSO A POPULAR CONTRIVANCE", "HUSBAND THE NEXT THING"],
                ("test-other", "1688", "142285"): ["THERE WAS NO ONE", "WHY DID YOU"]}
    for (part, spk, chap), texts in chapters.items():
        d = base / part / spk / chap
        lines = [f"{spk}-{chap}-{i:04d} {text}" for i, text in enumerate(texts)]
        for i in range(len(texts)):
            tone(d / f"{spk}-{chap}-{i:04d}.flac", 1.0 + 0.5 * i)
        if part == "test-clean" and spk == "121":
            lines.append(f"{spk}-{chap}-0009 THIS FLAC IS MISSING")
        _write(d / f"{spk}-{chap}.trans.txt", lines)
    return {
        "librispeech_test_clean": {"utterances": 4, "speakers": 2,
                                   "texts": {"1089-134686-0000": "HE HOPED THERE WOULD BE STEW"},
                                   "durations": {"1089-134686-0000": 1.0, "121-121726-0001": 1.5},
                                   "skipped": ["121-121726-0009 missing_audio"]},
        "librispeech_test_other": {"utterances": 2, "speakers": 1, "texts": {"1688-142285-0001": "WHY DID YOU"},
                                   "durations": {"1688-142285-0001": 1.5}, "skipped": []},
    }


def write_mls(root: Path, ext: str = "flac") -> Expected:
    """``mls_english[_opus]/<split>/{transcripts,segments}.txt`` and ``audio/<spk>/<book>/``.

    Speaker 4800 has 16 train utterances, so the paper's cap of 13 removes 3.
    """
    base = root / ("mls_english" if ext == "flac" else "mls_english_opus")
    rows = {"train": [("4800", "10003", i) for i in range(16)] + [("5000", "200", 0), ("5000", "200", 1)],
            "dev": [("6000", "300", 0), ("6000", "300", 1)], "test": [("7000", "400", 0)]}
    for split, utts in rows.items():
        trans, segs = [], []
        for spk, book, i in utts:
            utt = f"{spk}_{book}_{i:06d}"
            trans.append(f"{utt}\tsentence number {i} of book {book}")
            segs.append(f"{utt}\thttp://www.archive.org/download/x/{book}.mp3\t{10.0 + i:.2f}\t{10.5 + i:.2f}")
            tone(base / split / "audio" / spk / book / f"{utt}.{ext}", 0.5)
        if split == "train":
            trans.append("5000_200_000009\ttranscript without audio")
        _write(base / split / "transcripts.txt", trans)
        if split != "test":  # test: durations from the audio headers
            _write(base / split / "segments.txt", segs)
    return {
        "mls_en_train": {"utterances": 18, "speakers": 2, "texts": {"5000_200_000001": "sentence number 1 of book 200"},
                         "durations": {"4800_10003_000000": 0.5}, "skipped": ["5000_200_000009 missing_audio"]},
        "mls_en_train_cpt": {"utterances": 15, "speakers": 2, "durations": {"5000_200_000000": 0.5},
                             "skipped": ["5000_200_000009 missing_audio"]},
        "mls_en_dev": {"utterances": 2, "speakers": 1, "durations": {"6000_300_000001": 0.5}, "skipped": []},
        "mls_en_test": {"utterances": 1, "speakers": 1, "durations": {"7000_400_000000": 0.5}, "skipped": []},
    }


def write_gigaspeech(root: Path) -> Expected:
    """``GigaSpeech.json`` and ``audio/<source>/P0000/<aid>.opus`` long recordings cut by segments."""
    def seg(aid: str, n: int, begin: float, end: float, text: str, subsets: List[str]) -> dict:
        return {"sid": f"{aid}_S{n:07d}", "speaker": "N/A", "begin_time": begin, "end_time": end,
                "text_tn": text, "subsets": subsets}
    train = ["{XL}", "{L}", "{M}", "{S}", "{XS}"]
    audios = [
        {"aid": "YOU0000000315", "path": "audio/youtube/P0000/YOU0000000315.opus", "duration": 6.0,
         "source": "youtube", "subsets": train, "segments": [
             seg("YOU0000000315", 1, 0.5, 2.25,
                 "AS THEY'RE LEAVING <COMMA> CAN KASH PULL ZAHRA ASIDE <QUESTIONMARK>", train),
             seg("YOU0000000315", 2, 2.5, 3.0, "<NOISE> <MUSIC>", train),
             seg("YOU0000000315", 3, 3.0, 5.5,
                 "<SIL> WHAT A DAY <EXCLAMATIONPOINT> <OTHER> IT RAINED <PERIOD>", ["{XL}", "{L}"])]},
        {"aid": "POD0000000001", "path": "audio/podcast/P0000/POD0000000001.opus", "duration": 4.0,
         "source": "podcast", "subsets": train, "segments": [
             seg("POD0000000001", 1, 0.0, 1.5, "WELCOME BACK TO THE SHOW <PERIOD>", train)]},
        {"aid": "POD1000000004", "path": "audio/podcast/P0000/POD1000000004.opus", "duration": 3.0,
         "source": "podcast", "subsets": ["{DEV}"], "segments": [
             seg("POD1000000004", 1, 0.25, 2.0, "THANK YOU <PERIOD>", ["{DEV}"])]},
        {"aid": "YOU1000000099", "path": "audio/youtube/P0001/YOU1000000099.opus", "duration": 3.0,
         "source": "youtube", "subsets": ["{DEV}"], "segments": [
             seg("YOU1000000099", 1, 0.0, 1.0, "THIS OPUS IS MISSING", ["{DEV}"])]},
    ]
    for audio in audios[:3]:
        tone(root / audio["path"], audio["duration"])
    (root / "GigaSpeech.json").write_text(json.dumps({"dataset": "GigaSpeech", "version": "v1.0.0", "audios": audios}),
                                          encoding="utf-8")
    return {
        "gigaspeech_xs": {"utterances": 2, "speakers": 2,
                          "texts": {"YOU0000000315_S0000001": "as they're leaving, can kash pull zahra aside?",
                                    "POD0000000001_S0000001": "welcome back to the show."},
                          "durations": {"YOU0000000315_S0000001": 1.75},
                          "skipped": ["YOU0000000315_S0000002 gigaspeech_no_words"]},
        "gigaspeech_l": {"utterances": 3, "speakers": 2,
                         "texts": {"YOU0000000315_S0000003": "what a day! it rained."},
                         "durations": {"YOU0000000315_S0000003": 2.5},
                         "skipped": ["YOU0000000315_S0000002 gigaspeech_no_words"]},
        "gigaspeech_dev": {"utterances": 1, "speakers": 1, "texts": {"POD1000000004_S0000001": "thank you."},
                           "durations": {"POD1000000004_S0000001": 1.75},
                           "skipped": ["YOU1000000099_S0000001 missing_audio"]},
    }


def write_spgispeech(root: Path) -> Expected:
    """``train.csv``/``val.csv`` (``wav_filename|wav_filesize|transcript``) and ``<split>/<call>/<n>.wav``."""
    rows = {"train": [("aa11/1.wav", "Good morning, everyone.", 1.25), ("aa11/2.wav", "Revenue grew 5% in Q3.", 1.0),
                      ("bb22/1.wav", "Thank you, operator.", 0.75), ("bb22/9.wav", "No wav here.", None)],
            "val": [("cc33/1.wav", "Next question, please.", 1.0)]}
    for split, items in rows.items():
        lines = ["wav_filename|wav_filesize|transcript"]
        for rel, text, seconds in items:
            size = 0
            if seconds is not None:
                tone(root / split / rel, seconds)
                size = os.path.getsize(root / split / rel)
            lines.append(f"{rel}|{size}|{text}")
        _write(root / f"{split}.csv", lines)
    return {
        "spgispeech_train": {"utterances": 3, "speakers": 2, "texts": {"aa11-2": "Revenue grew 5% in Q3."},
                             "durations": {"aa11-1": 1.25, "bb22-1": 0.75}, "skipped": ["bb22-9 missing_audio"]},
        "spgispeech_val": {"utterances": 1, "speakers": 1, "texts": {"cc33-1": "Next question, please."},
                           "durations": {"cc33-1": 1.0}, "skipped": []},
    }


VOXPOPULI_HEADER = "id\traw_text\tnormalized_text\tspeaker_id\tsplit\tgender\tis_gold_transcript\taccent"


def write_voxpopuli(root: Path) -> Expected:
    """``transcribed_data/en/asr_<split>.tsv`` and ``transcribed_data/en/<year>/<id>.ogg``."""
    base = root / "transcribed_data" / "en"
    rows = {"train": [("20180612-0900-PLENARY-12-en_20180612-17:43:09_3", "Mr President, thank you.",
                       "mr president thank you", "124737", 1.5),
                      ("20180612-0900-PLENARY-12-en_20180612-17:45:00_1", "We agree.", "we agree", "124737", 1.0),
                      ("20190115-0900-PLENARY-5-en_20190115-10:01:02_0", "Colleagues.", "colleagues", "96650", 0.5),
                      ("20190115-0900-PLENARY-5-en_20190115-10:09:00_2", "Lost audio.", "lost audio", "96650", None)],
            "dev": [("20200101-0900-PLENARY-1-en_20200101-09:00:00_0", "Good day.", "good day", "1", 1.0)],
            "test": [("20200202-0900-PLENARY-2-en_20200202-09:00:00_0", "Bye.", "bye", "2", 0.5)]}
    for split, items in rows.items():
        lines = [VOXPOPULI_HEADER]
        for uid, raw, norm, spk, seconds in items:
            if seconds is not None:
                tone(base / uid[:4] / f"{uid}.ogg", seconds)
            lines.append(f"{uid}\t{raw}\t{norm}\t{spk}\t{split}\tmale\tTrue\tNone")
        _write(base / f"asr_{split}.tsv", lines)
    return {
        "voxpopuli_en_train": {"utterances": 3, "speakers": 2,
                               "texts": {"124737-20180612-0900-PLENARY-12-en_20180612-17:43:09_3":
                                         "mr president thank you"},
                               "durations": {"96650-20190115-0900-PLENARY-5-en_20190115-10:01:02_0": 0.5},
                               "skipped": ["96650-20190115-0900-PLENARY-5-en_20190115-10:09:00_2 missing_audio"]},
        "voxpopuli_en_dev": {"utterances": 1, "speakers": 1, "durations": {}, "skipped": []},
        "voxpopuli_en_test": {"utterances": 1, "speakers": 1,
                              "texts": {"2-20200202-0900-PLENARY-2-en_20200202-09:00:00_0": "bye"},
                              "durations": {}, "skipped": []},
    }


CV_HEADER = ("client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\t"
             "accents\tvariant\tlocale\tsegment")


def write_commonvoice(root: Path) -> Expected:
    """``cv-corpus-18.0-2024-06-14/en/{train,dev,test}.tsv``, ``clips/*.mp3``, ``clip_durations.tsv``.

    Train: five speakers read one sentence (3.5 s each: the paper's cap of 4 speakers per
    transcript removes one), one clip is 2 s (under the paper's 3 s), a sixth speaker reads another sentence.
    """
    base = root / "cv-corpus-18.0-2024-06-14" / "en"
    same = "The quick brown fox jumps."
    rows = {"train": [(f"{c * 64}", f"common_voice_en_{n}.mp3", same, 3.5) for n, c in zip(range(1, 6), "abcde")]
            + [("f" * 64, "common_voice_en_6.mp3", "Too short.", 2.0),
               ("g" * 64, "common_voice_en_7.mp3", "Another sentence here.", 3.0),
               ("b" * 64, "common_voice_en_8.mp3", "Missing clip.", None)],
            "dev": [("1" * 64, "common_voice_en_20.mp3", "Dev sentence.", 1.0)],
            "test": [("2" * 64, "common_voice_en_30.mp3", "Test sentence.", 1.5)]}
    durations = ["clip\tduration[ms]"]
    for split, items in rows.items():
        lines = [CV_HEADER]
        for n, (client, clip, text, seconds) in enumerate(items):
            if seconds is not None:
                tone(base / "clips" / clip, seconds)
                durations.append(f"{clip}\t{int(seconds * 1000)}")
            lines.append(f"{client}\t{clip}\t{n:064x}\t{text}\t\t2\t0\t\t\t\t\ten\t")
        _write(base / f"{split}.tsv", lines)
    _write(base / "clip_durations.tsv", durations)
    missing = "b" * 64 + "-common_voice_en_8 missing_audio"
    return {
        "commonvoice_en_train": {"utterances": 7, "speakers": 7,
                                 "texts": {"g" * 64 + "-common_voice_en_7": "Another sentence here."},
                                 "durations": {"f" * 64 + "-common_voice_en_6": 2.0}, "skipped": [missing]},
        "commonvoice_en_train_it": {"utterances": 5, "speakers": 5, "durations": {"g" * 64 + "-common_voice_en_7": 3.0},
                                    "skipped": [missing]},
        "commonvoice_en_dev": {"utterances": 1, "speakers": 1,
                               "texts": {"1" * 64 + "-common_voice_en_20": "Dev sentence."},
                               "durations": {"1" * 64 + "-common_voice_en_20": 1.0}, "skipped": []},
        "commonvoice_en_test": {"utterances": 1, "speakers": 1, "durations": {"2" * 64 + "-common_voice_en_30": 1.5},
                                "skipped": []},
    }


WRITERS = {"librispeech": write_librispeech, "mls": write_mls, "gigaspeech": write_gigaspeech,
           "spgispeech": write_spgispeech, "voxpopuli": write_voxpopuli, "commonvoice": write_commonvoice}
"""Corpus name (as registered in CORPORA) -> fixture writer."""
