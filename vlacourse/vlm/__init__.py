"""Notebook 02, the vision-language model: rendered scenes with their facts, a ViT trained SigLIP-style,
the LLaVA-style course VLM and its three-stage recipe, and the VLM taught to point."""
