"""The demo world: a small multilingual grammar and speech synthesis for a download-free corpus."""
