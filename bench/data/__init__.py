"""Datasets as both sides of a run read them: the parent (to validate, split and describe them) and each worker
(to load them where they are measured). Below ``hello_bench.run`` and ``hello_bench.measure``, which both import it."""
