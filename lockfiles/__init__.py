"""Curated, compiled and checked lockfiles for the targets users meet (Colab, CUDA 12, LLaMA-Factory)."""
