"""Feature extractors: SPIRE layer semantics, batched == one-by-one on real speech, MFCC, chunking."""

import copy

import numpy as np
import pytest
import torch

from _units_helpers import an4_arrays, make_tiny_ssl
from espnet_spire.units.extractors import build_extractor
from espnet_spire.units.features import FeatureConfig, plan_chunks
from espnet_spire.units.hf_ssl import HFSSLExtractor, normalize_waveform


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny random models of each supported type, pre-LN and post-LN."""
    root = tmp_path_factory.mktemp("ssl")
    out = {}
    for kind in ("hubert", "wav2vec2", "wavlm"):
        for stable in (True, False):
            out[kind, stable] = make_tiny_ssl(str(root / f"{kind}_{stable}"), kind, stable, layers=3, seed=1)
    return out


def _full_model(path):
    import transformers

    cfg = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    cls = {"hubert": transformers.HubertModel, "wav2vec2": transformers.Wav2Vec2Model,
           "wavlm": transformers.WavLMModel}[cfg.model_type]
    return cls.from_pretrained(path, local_files_only=True).eval()


@pytest.mark.parametrize("kind", ["hubert", "wav2vec2", "wavlm"])
@pytest.mark.parametrize("stable", [True, False], ids=["preLN", "postLN"])
def test_layer_semantics(models, kind, stable):
    """Layer L = output of block L, no final LayerNorm; post-LN input LayerNorm kept."""
    path = models[kind, stable]
    full = _full_model(path)
    wav = an4_arrays()[0][:12000]
    x = torch.from_numpy(normalize_waveform(wav))[None]
    with torch.no_grad():
        ref = full(x, output_hidden_states=True)
    hs = ref.hidden_states
    assert len(hs) == 4  # input to block 1, then the output of each of the 3 blocks
    outs = {}
    for layer in range(0, 4):
        ext = HFSSLExtractor(path, layer=layer, batch_size=1)
        (feat,) = ext([wav])
        outs[layer] = feat
        assert feat.shape == (ext.num_frames(len(wav)), 32)
        np.testing.assert_allclose(feat, hs[layer][0].numpy(), atol=1e-5, rtol=1e-5)
    # differing layers really give different features (the comparison above can fail)
    assert not np.allclose(outs[1], outs[2], atol=1e-4)
    last = ref.last_hidden_state[0].numpy()
    if stable:
        # pre-LN: the full model applies the final encoder LayerNorm; our layer-3 output does not
        assert not np.allclose(outs[3], last, atol=1e-3)
        with torch.no_grad():
            normed = full.encoder.layer_norm(torch.from_numpy(outs[3])).numpy()
        np.testing.assert_allclose(normed, last, atol=1e-4, rtol=1e-4)
    else:
        # post-LN: the encoder LayerNorm sits before block 1, so the last layer is the model output
        np.testing.assert_allclose(outs[3], last, atol=1e-5, rtol=1e-5)
        with torch.no_grad():
            before_ln = full.feature_projection(full.feature_extractor(x).transpose(1, 2))
            if isinstance(before_ln, tuple):  # wav2vec2/WavLM also return the normed conv features
                before_ln = before_ln[0]
            before_ln = before_ln + full.encoder.pos_conv_embed(before_ln)
            np.testing.assert_allclose(full.encoder.layer_norm(before_ln)[0].numpy(), outs[0], atol=1e-5)


@pytest.mark.parametrize("kind", ["hubert", "wavlm"])
def test_batched_equals_one_by_one_layer_norm_models(models, kind):
    """hubert-large style (layer-norm front end, attention mask): padding does not change frames."""
    wavs = an4_arrays()
    path = models[kind, True]
    batched = HFSSLExtractor(path, layer=2, batch_size=4)
    single = HFSSLExtractor(path, layer=2, batch_size=1)
    assert batched.batched and batched.batch_size == 4
    fb, fs = batched(wavs), single(wavs)
    assert len(set(len(w) for w in wavs)) > 3  # the batches really are padded
    for w, a, b in zip(wavs, fb, fs):
        assert a.shape == b.shape == (batched.num_frames(len(w)), 32)
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)
    # and so are the units: assign to centroids taken from the frames themselves
    from espnet_spire.units.assign import Assigner

    allf = np.concatenate(fs)
    assigner = Assigner(allf[np.random.default_rng(0).choice(len(allf), 20, replace=False)])
    for a, b in zip(fb, fs):
        assert np.array_equal(assigner(a), assigner(b))


def test_group_norm_models_take_the_safe_path(models):
    """hubert-base style GroupNorm front end: padding changes features, so we never pad."""
    wavs = an4_arrays()[:4]
    path = models["hubert", False]
    ext = HFSSLExtractor(path, layer=2, batch_size=4)
    assert not ext.batched and ext.batch_size == 1
    # what naive padding would do (even with a mask): the short utterance's frames change
    naive = copy.copy(ext)
    naive.use_attention_mask = True
    short = min(range(4), key=lambda i: len(wavs[i]))
    padded = naive._forward([normalize_waveform(w) for w in wavs])[short]
    alone = ext([wavs[short]])[0]
    assert padded.shape == alone.shape
    assert np.abs(padded - alone).max() > 1e-3
    # the safe path equals one-by-one exactly
    for a, b in zip(ext(wavs), [ext([w])[0] for w in wavs]):
        np.testing.assert_array_equal(a, b)


def test_normalisation_matches_transformers_feature_extractor():
    from transformers import Wav2Vec2FeatureExtractor

    wavs = an4_arrays()[:3]
    fe = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    out = fe(wavs, sampling_rate=16000, padding="longest", return_tensors="np")
    for i, w in enumerate(wavs):
        ours = normalize_waveform(w)
        np.testing.assert_allclose(out["input_values"][i, : len(w)], ours, atol=1e-6)
        assert np.all(out["input_values"][i, len(w):] == 0)
        assert abs(ours.mean()) < 1e-4 and abs(ours.std() - 1) < 1e-2  # eps 1e-7 vs quiet AN4 audio


@pytest.mark.parametrize("n,frames", [(16000, 49), (48000, 149), (400, 1), (399, 0)])
def test_vector9_frame_count(models, n, frames):
    ext = HFSSLExtractor(models["hubert", True], layer=1, batch_size=4)
    assert ext.num_frames(n) == frames
    wav = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    # inside a padded batch, a 399-sample utterance just yields 0 frames
    out = ext([wav, np.ones(16000, dtype=np.float32)])
    assert out[0].shape == (frames, 32)


def test_chunking_keeps_the_frame_grid(models):
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(0, 20000))
        chunk = 320 * int(rng.integers(1, 20))
        pieces = plan_chunks(n, chunk, 400, 320)
        total = sum((e - s - 400) // 320 + 1 for s, e in pieces)
        assert total == (max(0, (n - 400) // 320 + 1) if n >= 400 else 0)
        assert all(s % 320 == 0 and e - s >= 400 for s, e in pieces)
    wavs = an4_arrays()[:3]
    path = models["hubert", True]
    whole = HFSSLExtractor(path, layer=2, chunk_seconds=0)(wavs)
    chunked = HFSSLExtractor(path, layer=2, chunk_seconds=0.5)(wavs)
    long_enough = HFSSLExtractor(path, layer=2, chunk_seconds=10)(wavs)
    for a, b, c in zip(whole, chunked, long_enough):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, c, atol=1e-5)


def test_bf16_option(models):
    wav = an4_arrays()[1]
    f32 = HFSSLExtractor(models["hubert", True], layer=2, dtype="fp32")([wav])[0]
    b16 = HFSSLExtractor(models["hubert", True], layer=2, dtype="bf16")([wav])[0]
    assert b16.dtype == np.float32 and b16.shape == f32.shape
    assert np.abs(b16 - f32).max() < 0.1 * np.abs(f32).max()


def test_bad_layer_and_missing_model(models, tmp_path):
    with pytest.raises(ValueError, match="layer 4"):
        HFSSLExtractor(models["hubert", True], layer=4)
    with pytest.raises(FileNotFoundError, match="SSL model dir not found"):
        HFSSLExtractor(str(tmp_path / "nope"), layer=1)
    with pytest.raises(ValueError, match="ssl_model"):
        build_extractor(FeatureConfig(feature_type="hf_ssl"))


def test_mfcc_shape_and_normalisation():
    ext = build_extractor(FeatureConfig(feature_type="mfcc"))
    wavs = an4_arrays()[:2] + [np.zeros(399, dtype=np.float32), np.ones(400, dtype=np.float32) * 0.1]
    feats = ext(wavs)
    for w, f in zip(wavs, feats):
        n = len(w)
        assert f.shape == ((n - 400) // 160 + 1 if n >= 400 else 0, 39)
        assert f.dtype == np.float32
    assert feats[0].shape == (98, 39)  # 16000 samples
    np.testing.assert_allclose(feats[1].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(feats[1].std(axis=0), 1, atol=1e-2)
    assert ext.describe()["feature_type"] == "mfcc" and ext.dim == 39


def test_mfcc50_is_half_the_frame_rate():
    """mfcc50: same 25 ms windows every 20 ms (HuBERT's 50 Hz); its cepstra are every second
    frame of the 100 Hz ones, and the k-means identity (feature_type) tells the two apart."""
    import torch
    import torchaudio.compliance.kaldi as kaldi

    ext = build_extractor(FeatureConfig(feature_type="mfcc50"))
    wav = an4_arrays()[1]
    (f,) = ext([wav])
    assert f.shape == ((len(wav) - 400) // 320 + 1, 39) and ext.frame_rate == 50.0
    d = ext.describe()
    assert d["feature_type"] == "mfcc50" and d["frame_shift_ms"] == 20.0
    x = torch.from_numpy(wav * 32768.0).unsqueeze(0)
    c10 = kaldi.mfcc(x, num_ceps=13, frame_shift=10.0, dither=0.0, use_energy=False).numpy()
    c20 = kaldi.mfcc(x, num_ceps=13, frame_shift=20.0, dither=0.0, use_energy=False).numpy()
    np.testing.assert_allclose(c20, c10[::2][: len(c20)], atol=1e-3)
    # after per-utterance CMVN, the static part is the normalised 20 ms cepstra
    np.testing.assert_allclose(f[:, :13], (c20 - c20.mean(0)) / (c20.std(0) + 1e-5), atol=1e-3)
    assert not np.allclose(f.shape[0], build_extractor(FeatureConfig(feature_type="mfcc"))([wav])[0].shape[0])
