"""Training machinery of the SPIRE LLM task: data reading, collation, schedulers, trainers, export.

``trainer.SpireTrainer`` extends ESPnet's trainer (atomic checkpoints, cosine schedule length,
Hugging Face export at the end); ``deepspeed_trainer.SpireDeepSpeedTrainer`` replaces ESPnet's
CUDA-only DeepSpeed trainer with one that runs on the engine's device (CPU with gloo included).
"""
