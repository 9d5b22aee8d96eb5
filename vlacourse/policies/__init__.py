"""Notebooks 04-07, the VLAs: the policy interface every VLA shares, the action tokenizers (bins, FAST),
and one file per VLA on the course VLM (binning, FAST, flow matching, knowledge insulation)."""
