"""The SPIRE language-model side: tokenizer/model extension, prompts, CPT/IT data, decoding, export.

Modules are small and import heavy libraries (torch, transformers) only where needed, so that the
data builders and prompt code stay cheap to import in recipe stages and tests.
"""
