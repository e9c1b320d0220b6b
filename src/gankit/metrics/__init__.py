"""Evaluation: feature extractors -> streamed statistics -> metric values (issue 3)."""
