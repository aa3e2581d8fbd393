"""Training machinery of the SPIRE LLM task: data reading, collation, schedulers, trainers, export.

``trainer.SpireTrainer`` extends ESPnet's trainer (atomic checkpoints, cosine schedule length,
Hugging Face export at the end); ``deepspeed_trainer.SpireDeepSpeedTrainer`` subclasses ESPnet's
CUDA-only DeepSpeed trainer so that it runs on the engine's device (CPU with gloo included).
"""
