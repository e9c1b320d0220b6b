"""Inference pipelines: free of training state, built from a checkpoint."""

from gankit.pipelines.generate import GeneratorPipeline, load

__all__ = ["GeneratorPipeline", "load"]
