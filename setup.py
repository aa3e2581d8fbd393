"""Installs the espnet_spire package. The pinned stack lives in tools/requirements.txt."""

from setuptools import find_packages, setup

setup(
    name="espnet_spire",
    version="0.1.0",
    description="ESPnet-style recipe plugin for SPIRE: speech as discrete units in a text LLM",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["espnet_spire", "espnet_spire.*"]),
    include_package_data=True,
    install_requires=[
        "espnet==202511",
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "transformers>=5,<6",
        "sentencepiece",
        "kaldiio",
        "soundfile",
        "scikit-learn",
        "joblib",
        "faiss-cpu",
        "sacrebleu",
        "jiwer",
        "whisper-normalizer",
        "tqdm",
        "pyyaml",
    ],
    extras_require={"deepspeed": ["deepspeed"], "test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "spire-make-demo-corpus=espnet_spire.bin.make_demo_corpus:main",
            "spire-validate-data-dir=espnet_spire.bin.validate_data_dir:main",
        ]
    },
)
