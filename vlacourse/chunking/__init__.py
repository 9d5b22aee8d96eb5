"""Notebook 08, executing action chunks: real-time chunking and the four strategies it is measured against,
on the flow VLA and on one fine-tuned on several operators' styles."""
