"""ESPnet tasks (``espnet2.tasks.abs_task.AbsTask`` subclasses) of espnet_spire."""
