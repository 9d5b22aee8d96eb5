"""Notebook 01, the language model: the course's corpus, a byte-level BPE tokenizer, a tiny GPT in
nanoGPT's style, and what training and generating with it costs."""
