"""Tiny speech-translation corpora in their released layouts (CoVoST-2 + Common Voice, FLEURS, Europarl-ST).

Each ``write_<corpus>(root)`` writes the corpus under ``root`` with real codecs (Common Voice mp3,
FLEURS 16 kHz wav, Europarl-ST m4a made with ffmpeg) and returns what a correct preparation
gives: the options to pass, the utterance count of every data dir, a few exact texts and
durations, and the expected ``skipped`` lines. Audio is synthetic tones (fast, deterministic).
Shared by the corpus tests and the full-scale recipe fixtures.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile as sf


def tone(seconds: float, rate: int, freq: float) -> np.ndarray:
    """A quiet sine with a little deterministic noise (so it is not digital silence)."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    noise = np.random.default_rng(int(freq)).standard_normal(n) * 0.01
    return (0.2 * np.sin(2 * np.pi * freq * t) + noise).astype("float32")


def _write_tsv(path: Path, header: List[str], rows: List[List[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (["\t".join(header)] if header else []) + ["\t".join(r) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# ---------------------------------------------------------------- CoVoST-2 on Common Voice

CV_SPEAKERS = {"a" * 8: "A", "b" * 8: "B", "c" * 8: "C"}  # client_id -> label


def write_covost2(root: Path) -> Dict[str, object]:
    """``root/covost`` (covost_v2.en_de.tsv, covost_v2.en_zh-CN.tsv) and ``root/cv/en`` (clips/*.mp3, validated.tsv).

    en_de has the released columns (path sentence translation client_id split); en_zh-CN only
    path translation split, so its transcripts and speakers come from Common Voice's validated.tsv.
    """
    ca, cb, cc = list(CV_SPEAKERS)
    # clip, client, sentence, split label, de translation, zh translation, exists
    rows = [
        ("common_voice_en_1.mp3", ca, "The cat sat.", "train", "Die Katze sass.", "猫坐着。", True),
        ("common_voice_en_2.mp3", ca, "A dog ran.", "train", "Ein Hund lief.", "狗跑了。", True),
        ("common_voice_en_3.mp3", cb, 'Birds sing "loud".', "train_covost", "Voegel singen laut.", "鸟大声唱。", True),
        ("common_voice_en_7.mp3", cb, "No German here.", "train", "", "这里没有德语。", True),
        ("common_voice_en_4.mp3", cb, "It rains.", "dev", "Es regnet.", "下雨了。", True),
        ("common_voice_en_5.mp3", cc, "Good night.", "test", "Gute Nacht.", "晚安。", True),
        ("common_voice_en_6.mp3", cc, "Lost clip.", "test", "Verloren.", "丢失。", False),
    ]
    clips = root / "cv" / "en" / "clips"
    clips.mkdir(parents=True)
    durations = {}
    for i, (clip, *_rest, exists) in enumerate(rows):
        seconds = 1.0 + 0.25 * i
        if exists:
            sf.write(clips / clip, tone(seconds, 48000, 200 + 40 * i), 48000, format="MP3")
            durations[clip] = seconds
    _write_tsv(root / "cv" / "en" / "validated.tsv",
               ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "locale",
                "segment"],
               [[client, clip, sent, "2", "0", "", "", "", "en", ""] for clip, client, sent, *_ in rows])
    _write_tsv(root / "covost" / "covost_v2.en_de.tsv", ["path", "sentence", "translation", "client_id", "split"],
               [[clip, sent, de, client, split] for clip, client, sent, split, de, _zh, _e in rows])
    _write_tsv(root / "covost" / "covost_v2.en_zh-CN.tsv", ["path", "translation", "split"],
               [[clip, zh, split] for clip, _c, _s, split, _de, zh, _e in rows])
    return {
        "args": ["--corpus_dir", str(root / "covost"), "--cv_dir", str(root / "cv")],
        "counts": {"covost2_en_de_train": 3, "covost2_en_de_dev": 1, "covost2_en_de_test": 1,
                   "covost2_en_zh_train": 4, "covost2_en_zh_dev": 1, "covost2_en_zh_test": 1},
        "text": {"covost2_en_de_train": f"{cb}-common_voice_en_3 Birds sing \"loud\".",
                 "covost2_en_zh_test": f"{cc}-common_voice_en_5 Good night."},
        "text.tc.de": {"covost2_en_de_train": f"{ca}-common_voice_en_1 Die Katze sass."},
        "text.tc.zh": {"covost2_en_zh_train": f"{cb}-common_voice_en_7 这里没有德语。"},
        "utt2dur": {"covost2_en_de_dev": f"{cb}-common_voice_en_4 {durations['common_voice_en_4.mp3']:.3f}"},
        "skipped": {"covost2_en_de_train": [f"{cb}-common_voice_en_7 no_translation:de"],
                    "covost2_en_de_test": [f"{cc}-common_voice_en_6 missing_audio"]},
    }


# ---------------------------------------------------------------- FLEURS

FLEURS_TGT = {"de": "de_de", "fr": "fr_fr", "es": "es_419", "it": "it_it", "pt": "pt_br", "nl": "nl_nl",
              "ru": "ru_ru", "zh": "cmn_hans_cn", "ko": "ko_kr"}
FLORES_DEVTEST = ["Paris is the capital of France.", "Water boils at one hundred degrees.",
                  "Nobody reads this sentence."]


def write_fleurs(root: Path) -> Dict[str, object]:
    """``root/fleurs/data/<lang>/{split}.tsv``, ``en_us/audio/<split>/*.wav`` and ``root/flores200_dataset/devtest``.

    en_us train: FLORES id 1 read twice, id 2, id 3 (a FLORES devtest sentence, differently
    cased and punctuated: removed by the overlap rule), id 7 (wav missing). Target references
    of id 2 are only in the targets' dev.tsv; Korean lacks test id 6.
    """
    data = root / "fleurs" / "data"
    # split -> (flores id, file stem, raw transcription, seconds, wav exists)
    english = {
        "train": [("1", "101", "The sun is bright.", 1.0, True), ("1", "102", "The sun is bright.", 1.2, True),
                  ("2", "201", "Trees grow slowly.", 1.1, True),
                  ("3", "301", "paris is the capital of france", 0.9, True),
                  ("7", "701", "A missing file.", 1.0, False)],
        "dev": [("4", "401", "Rivers flow to the sea.", 1.3, True)],
        "test": [("5", "501", "Mountains are tall.", 1.4, True), ("6", "601", "Snow is cold.", 1.5, True)],
    }
    for split, rows in english.items():
        wav_dir = data / "en_us" / "audio" / split
        wav_dir.mkdir(parents=True)
        tsv = []
        for k, (fid, stem, raw, seconds, exists) in enumerate(rows):
            audio = tone(seconds, 16000, 300 + 30 * k + len(split))
            if exists:
                sf.write(wav_dir / f"{stem}.wav", audio, 16000, subtype="PCM_16")
            chars = "|".join(raw.lower().split()) + " |"
            tsv.append([fid, f"{stem}.wav", raw, raw.lower().strip("."), chars, str(len(audio)), "FEMALE"])
        _write_tsv(data / "en_us" / f"{split}.tsv", [], tsv)
    ids_per_split = {"train": ["1", "3", "7"], "dev": ["2", "4"], "test": ["5", "6"]}
    for lang, lang_dir in FLEURS_TGT.items():
        for split, ids in ids_per_split.items():
            ids = [i for i in ids if not (lang == "ko" and i == "6")]
            rows = [[i, f"{lang}{i}.wav", f"{lang} sentence {i}.", f"{lang} sentence {i}", "x |", "16000", "MALE"]
                    for i in ids]
            _write_tsv(data / lang_dir / f"{split}.tsv", [], rows)
    devtest = root / "flores200_dataset" / "devtest"
    devtest.mkdir(parents=True)
    (devtest / "eng_Latn.devtest").write_text("".join(s + "\n" for s in FLORES_DEVTEST), encoding="utf-8")
    return {
        "args": ["--corpus_dir", str(data), "--flores_devtest", str(devtest)],
        "counts": {"fleurs_en_train": 3, "fleurs_en_dev": 1, "fleurs_en_test": 2,
                   **{f"fleurs_en_{lang}_train": 3 for lang in FLEURS_TGT},
                   **{f"fleurs_en_{lang}_test": 2 if lang != "ko" else 1 for lang in FLEURS_TGT}},
        "overlap_removed": 1,
        "text": {"fleurs_en_train": "2_201 Trees grow slowly.", "fleurs_en_test": "6_601 Snow is cold."},
        "text.tc.de": {"fleurs_en_de_train": "2_201 de sentence 2.", "fleurs_en_de_test": "5_501 de sentence 5."},
        "text.tc.zh": {"fleurs_en_zh_train": "1_102 zh sentence 1."},
        "utt2dur": {"fleurs_en_train": "1_102 1.200", "fleurs_en_dev": "4_401 1.300"},
        "skipped": {"fleurs_en_train": ["3_301 fleurs_flores_devtest_overlap", "7_701 missing_audio"],
                    "fleurs_en_ko_test": ["6_601 no_translation:ko"]},
    }


# ---------------------------------------------------------------- Europarl-ST v1.1

def write_m4a(path: Path, audio: np.ndarray, rate: int) -> None:
    """AAC in an m4a container, as Europarl-ST distributes its speeches (bit-exact ffmpeg output)."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg not found: the Europarl-ST fixture encodes m4a with it "
                           "(tools/install.sh installs it)")
    wav = path.with_suffix(".wav")
    sf.write(wav, audio, rate, subtype="PCM_16")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "64k",
                    "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1", str(path)], check=True)
    wav.unlink()


def write_europarl_st(root: Path) -> Dict[str, object]:
    """``root/v1.1/en/audios/*.m4a`` (two speeches) and ``en/{de,fr}/{train,dev,test}/`` segment lists.

    de has speeches.lst/speakers.lst (speaker 96779 for speech en.1, 12345 for en.2); fr has
    none (the speech id is the speaker). The test split of both names a speech without audio.
    """
    base = root / "v1.1" / "en"
    (base / "audios").mkdir(parents=True)
    write_m4a(base / "audios" / "en.20080117.14.3-161.m4a", tone(6.0, 44100, 220), 44100)
    write_m4a(base / "audios" / "en.20090423.5.3-2.m4a", tone(4.0, 44100, 330), 44100)
    s1, s2, s3 = "en.20080117.14.3-161", "en.20090423.5.3-2", "en.20100101.1.1-1"
    # split -> (speech, start, end, english)
    segs = {"train": [(s1, 0.5, 2.25, "We vote today."), (s1, 2.25, 5.0, "The motion passes."),
                      (s2, 0.0, 1.5, "Thank you, Madam President.")],
            "dev": [(s2, 1.5, 3.75, "I support this report.")],
            "test": [(s1, 5.0, 5.9, "Adjourned."), (s3, 0.0, 1.0, "No audio for me.")]}
    for tgt in ("de", "fr"):
        for split, rows in segs.items():
            d = base / tgt / split
            d.mkdir(parents=True)
            (d / "segments.lst").write_text("".join(f"{s} {a:.2f} {b:.2f}\n" for s, a, b, _ in rows))
            (d / "segments.en").write_text("".join(f"{e}\n" for *_, e in rows))
            (d / f"segments.{tgt}").write_text("".join(f"[{tgt}] {e}\n" for *_, e in rows))
            if tgt == "de":
                speeches = sorted({s for s, *_ in rows})
                names = {s1: "Jane_DOE_96779", s2: "John_SMITH_12345", s3: "Nobody_NN_55555"}
                (d / "speeches.lst").write_text("".join(f"{s}\n" for s in speeches))
                (d / "speakers.lst").write_text("".join(f"{names[s]}\n" for s in speeches))
    return {
        "args": ["--corpus_dir", str(root / "v1.1"), "--tgt_langs", "de", "fr"],
        "counts": {f"europarl_st_en_{t}_{s}": n for t in ("de", "fr") for s, n in
                   (("train", 3), ("dev", 1), ("test", 1))},
        "text": {"europarl_st_en_de_train": f"96779-{s1}_0000050_0000225 We vote today."},
        "text.tc.fr": {"europarl_st_en_fr_dev": f"{s2}_0000150_0000375 [fr] I support this report."},
        "segments": {"europarl_st_en_de_train": f"12345-{s2}_0000000_0000150 {s2} 0.000 1.500"},
        "utt2dur": {"europarl_st_en_de_train": f"96779-{s1}_0000225_0000500 2.750"},
        "skipped": {"europarl_st_en_de_test": [f"55555-{s3}_0000000_0000100 missing_audio"],
                    "europarl_st_en_fr_test": [f"{s3}_0000000_0000100 missing_audio"]},
    }
