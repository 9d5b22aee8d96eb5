# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %%
# Setup: run this cell first. In Colab it installs the course package; locally `make lab` already did.
import importlib.util
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("vlacourse") is None:
    import importlib.metadata as md
    import pathlib
    import subprocess

    keep = pathlib.Path("/tmp/colab-keep.txt")  # pin what Colab ships so that pip never swaps it out
    shipped = ["torch", "numpy", "ipywidgets", "ipykernel", "ipython"]
    keep.write_text("\n".join(f"{p}=={md.version(p)}" for p in shipped))
    package = "vlacourse @ git+https://github.com/vla-course/vla-course"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", str(keep), package], check=True)
    importlib.invalidate_caches()  # let this running kernel see the new package

from vlacourse.notebook import setup

course = setup(seed=0)

# %% [markdown]
# # 01 · LLM: a language model is a next-token predictor
#
# Every VLA in this course starts as a language model. So we start there too, and ask two questions:
# *what does a language model actually learn from text?* and *why is generating text slow?* The answer
# to the second one is the reason half of the later notebooks exist: a robot needs actions fast.
#
# We build the whole stack at small scale on the course's own language: sentences about a robot arm
# and its blocks. A tokenizer cuts text into tokens; a tiny GPT learns to predict the next token; we
# sample from it; and we time how long each new token takes, with and without a KV cache.
#
# **In the package:** `vlacourse.lm.corpus`, `vlacourse.lm.tokenizer`, `vlacourse.lm.gpt`,
# `vlacourse.lm.language_model`, `vlacourse.training` (read them beside this notebook).

# %%
from vlacourse.lm.corpus import load_corpus

corpus = load_corpus()
lines = corpus.splitlines()
print(f"{len(lines)} lines, {len(corpus):,} characters, {len(set(corpus.split()))} distinct words. A few:")
for line in lines[:6]:
    print("  ", line)

# %% [markdown]
# ## Tokenization: byte-pair encoding
#
# A model reads integers, not characters. **Byte-pair encoding** (BPE, used by GPT-2 and most LLMs since)
# starts from the 256 byte values and repeatedly merges the most frequent adjacent pair into a new
# token. Frequent words end up as single tokens, rare ones as several pieces, and any text at all can
# still be encoded, byte by byte. With a small vocabulary you can watch words being built:

# %%
from vlacourse.lm.tokenizer import BPETokenizer

small = BPETokenizer.train(corpus, vocab_size=300)
print("first merges:", [small.vocab[256 + i].decode() for i in range(12)])
sentence = "question: is the yellow block behind the red block? answer: no"
print("300 tokens:", "|".join(small.token_strings(sentence)))

tokenizer = BPETokenizer.train(corpus, vocab_size=512)
print(f"512 asked, {tokenizer.vocab_size} made (every word of the corpus is now one token):")
print("           ", "|".join(tokenizer.token_strings(sentence)))
print("an unseen word still encodes, byte by byte:", "|".join(tokenizer.token_strings(" the purple pyramid")))
ids = tokenizer.encode(corpus)
print(f"the corpus is {len(ids):,} tokens: {len(corpus) / len(ids):.1f} characters per token")

# %% [markdown]
# ## The model: a tiny GPT
#
# `vlacourse/lm/gpt.py` follows nanoGPT's `model.py`: token and position embeddings, a stack of pre-norm
# transformer blocks (causal self-attention, then an MLP), and an output layer that shares its weights
# with the token embedding. *Causal* means position t may only attend to positions up to t: the model
# learns to predict each token from the ones before it, which is all next-token training asks.
#
# ```
# token ids -> embeddings + positions -> [attention -> MLP] x 4 -> LayerNorm -> logits over the vocabulary
# ```

# %%
import torch

from vlacourse.lm.gpt import GPT, GPTConfig

config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=256, n_layer=4, n_head=4, n_embd=128)
model = GPT(config).to(course.device)
print(config)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters (GPT-2 small has 124 million)")

# %% [markdown]
# ## Training: predict the next token
#
# Training shows the model windows of 64 tokens and asks, at every position, for the next token. The
# loss is the cross-entropy of its prediction. The dashed line is the **unigram baseline**: the loss of
# a model that knows only how often each token appears and ignores context. Beating it means the model
# has learned how tokens follow each other.

# %%
from vlacourse.lm.language_model import TokenWindows, unigram_cross_entropy, validation_loss
from vlacourse.training import train
from vlacourse.widgets.interactive import LiveLossPlot

windows = TokenWindows(ids, window=64, batch_size=32, device=course.device, seed=0)
unigram = unigram_cross_entropy(windows.train, windows.val, tokenizer.vocab_size)
plot = LiveLossPlot("the tiny GPT learns the course's language", baseline=("unigram baseline", unigram))
plot

# %%
history = train(
    model,
    windows.batch,
    steps=300,
    lr=3e-3,
    evaluate=lambda: validation_loss(model, windows),
    eval_every=50,
    plot=plot,
)
final_val = history.eval_losses[-1]
print(f"validation loss {final_val:.3f} nats against the unigram baseline's {unigram:.3f}")

# %% [markdown]
# ## Sampling
#
# Generation is a loop: predict a distribution over the next token, pick one, append it, repeat.
# **Temperature** divides the logits before the softmax: 0 always takes the most likely token, 1 samples
# the model's distribution as it is, higher values flatten it and the text gets stranger.

# %%
prompt = torch.tensor([tokenizer.encode("question: where is the red block? answer:")], device=course.device)
newline = tokenizer.encode("\n")[0]
generator = torch.Generator(device=course.device).manual_seed(0)
for temperature in (0.0, 0.7, 1.0, 1.5):
    out = model.generate(
        prompt.repeat(3, 1), max_new_tokens=24, temperature=temperature, generator=generator, stop_token=newline
    )
    samples = [tokenizer.decode(row[prompt.shape[1] :].tolist()).split("\n")[0] for row in out]
    print(f"temperature {temperature}: " + " | ".join(samples))

# %% [markdown]
# ## Why generating is slow, and what the KV cache saves
#
# Each new token needs a full pass through the network. Without a cache, that pass recomputes every
# earlier token as well, so the cost of a token grows with the length of the text. A **KV cache** keeps
# each layer's keys and values of the tokens already seen; a new token then computes only its own and
# reads the rest. Here is the time for one more token, after contexts of different lengths:

# %%
import matplotlib.pyplot as plt

from vlacourse.lm.language_model import milliseconds_per_token

contexts = [16, 32, 64, 128, 255]
uncached = [milliseconds_per_token(model, n, use_cache=False) for n in contexts]
cached = [milliseconds_per_token(model, n, use_cache=True) for n in contexts]
speedup = uncached[-1] / cached[-1]

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(contexts, uncached, "o-", label="without cache: recompute everything")
ax.plot(contexts, cached, "o-", label="with KV cache: only the new token")
ax.set(
    xlabel="tokens already in the context",
    ylabel="ms per new token",
    ylim=(0, None),
    title=f"one more token after {contexts[-1]}: {speedup:.1f}x faster with the cache",
)
ax.legend()
plt.show()
# %% [markdown]
# Times depend on the machine (and on what else it is doing). The work does not: here are the
# floating-point operations of the matrix products in that one pass, counted by torch as they run. Without
# the cache the pass computes every position again; with it, only the new one:

# %%
from vlacourse.lm.language_model import matmul_flops_per_token

flops_uncached = matmul_flops_per_token(model, contexts[-1], use_cache=False)
flops_cached = matmul_flops_per_token(model, contexts[-1], use_cache=True)
print(
    f"one more token after {contexts[-1]}: {flops_uncached / 1e6:.0f} MFLOP without the cache, "
    f"{flops_cached / 1e6:.1f} MFLOP with it ({flops_uncached // flops_cached}x less work)"
)

# %% [markdown]
# Even with the cache, tokens come one at a time: a 7-dimensional robot action at 50 Hz, one token per
# dimension, is 350 tokens a second from a model far bigger than this one. Notebooks 04 to 06 are about
# that problem: compress the actions (FAST), or stop generating them token by token (flow matching).
#
# Caching must not change what the model says; the same prompt gives the same tokens either way:

# %%
greedy_cached = model.generate(prompt, 30, temperature=0, use_cache=True)
greedy_uncached = model.generate(prompt, 30, temperature=0, use_cache=False)
print("identical:", torch.equal(greedy_cached, greedy_uncached))
print(tokenizer.decode(greedy_cached[0].tolist()).split("\n")[0])

# %% [markdown]
# ## Why a language model cannot see or act
#
# Ask it about *this* table: which block is in the bin? It has read thousands of answers to that
# question, but never seen a table. Its probabilities for each colour are the corpus's statistics, and
# they would be the same for any scene:

# %%
question = torch.tensor(
    [tokenizer.encode("question: what colour is the block in the bin? answer:")], device=course.device
)
with torch.no_grad():
    probabilities = torch.softmax(model(question)[0][0, -1], dim=-1)
colour_probability = {c: float(probabilities[tokenizer.encode(f" {c}")[0]]) for c in ("red", "green", "blue", "yellow")}
print({c: f"{p:.0%}" for c, p in colour_probability.items()})

# %% [markdown]
# It cannot look, and it has no way to move an arm. Notebook 02 gives it eyes (a vision encoder whose
# output it reads as if it were tokens); notebook 04 gives it hands (action tokens).
#
# ## Exercises
#
# ### Exercise 1.1: the causal mask
#
# Write `causal_mask(T)`: a `(T, T)` boolean tensor, `True` where query `i` may attend to key `j`
# (that is, `j <= i`). The check also plugs it into PyTorch's attention and compares with `is_causal=True`.

# %%
import torch

from vlacourse.exercises import check


def causal_mask(T):
    ### BEGIN SOLUTION
    return torch.ones(T, T, dtype=torch.bool).tril()
    ### END SOLUTION


mask_check = check("causal_mask", causal_mask)

# %% [markdown]
# ### Exercise 1.2: the heart of BPE
#
# Write `most_frequent_pair(ids)`: the adjacent pair of ids that occurs most often in the list `ids`
# (overlapping occurrences count), with ties going to the smallest pair. Training BPE is this, plus
# a merge, repeated.

# %%
from collections import Counter

from vlacourse.exercises import check


def most_frequent_pair(ids):
    ### BEGIN SOLUTION
    counts = Counter(zip(ids, ids[1:], strict=False))
    return max(counts, key=lambda pair: (counts[pair], -pair[0], -pair[1]))
    ### END SOLUTION


pair_check = check("most_frequent_pair", most_frequent_pair)

# %% [markdown]
# ### Exercise 1.3 (no check): temperature and top-k
#
# Sample 20 answers to "question: how many blocks are in the bin? answer:" at temperature 1.0, then
# with `top_k=2`. What does top-k remove? Then train a model with `n_layer=1`: how close does it get to
# the 4-layer model's validation loss?
#
# ## What this notebook claims

# %%
assert final_val < 0.5 * unigram, f"validation loss {final_val:.3f} is not clearly below the unigram {unigram:.3f}"
assert flops_uncached == (contexts[-1] + 1) * flops_cached, "with the cache, only the new position is computed"
assert torch.equal(greedy_cached, greedy_uncached), "cached and uncached decoding disagree"
assert max(colour_probability.values()) < 0.6, "the LLM claims to know a scene it cannot see"
assert mask_check.ok and pair_check.ok
print(
    f"All claims hold: loss {final_val:.2f} vs unigram {unigram:.2f}; KV cache {flops_uncached // flops_cached}x "
    f"less work (and {speedup:.1f}x faster here); "
    f"colour guesses {max(colour_probability.values()):.0%} at most."
)
