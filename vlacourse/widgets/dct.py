"""The DCT compression widget (notebook 05): a demonstration's chunk, its DCT coefficients and FAST tokens,
as the scale and the kept frequencies move.

    [ episode ] [ frame ] [ action ] [ scale ] [ kept ]
    +-------------------------------------+------------------------------------+
    | the demonstration, the chunk and    | |coefficient| x scale per frequency |
    | its reconstruction from FAST tokens | (kept, rounded to 0, dropped)       |
    +-------------------------------------+------------------------------------+
"""

from __future__ import annotations

import numpy as np

from vlacourse.policies.fast import FASTTokenizer, compress


class DCTCompressionWidget:
    """Pick a demonstration, a moment, an action dimension, the scale and the frequencies kept; see the
    chunk and its reconstruction, the DCT coefficients, the tokens, and the compression against binning.

    A tokenizer per scale is fitted on ``fit_chunks`` chunks of the dataset the first time that scale is
    chosen (a second or two), since BPE merges learned at one scale do not fit the integers of another."""

    SCALES = (2, 5, 10, 20, 50)

    def __init__(self, dataset, chunk_size: int = 10, vocab_size: int = 512, fit_chunks: int = 500, seed: int = 0):
        import ipywidgets as widgets

        from vlacourse.sim.env import ACTION_NAMES
        from vlacourse.widgets.interactive import InteractiveImage

        self.dataset, self.chunk_size, self.vocab_size = dataset, chunk_size, vocab_size
        actions = dataset.arrays["action"]
        starts, stops = dataset.episode_data_index["from"], dataset.episode_data_index["to"]
        every = np.concatenate([np.arange(a, b - chunk_size + 1) for a, b in zip(starts, stops, strict=True)])
        picked = np.random.default_rng(seed).choice(every, min(fit_chunks, len(every)), replace=False)
        self.fit_chunks = actions[picked[:, None] + np.arange(chunk_size)]  # (N, H, D)
        self.tokenizers: dict[float, FASTTokenizer] = {}
        longest = int((stops - starts).max())  # past a shorter episode's end: its last chunk
        self.view = InteractiveImage(
            self.draw,
            {
                "episode": widgets.IntSlider(value=0, min=0, max=dataset.num_episodes - 1, description="episode"),
                "start": widgets.IntSlider(value=10, min=0, max=longest - chunk_size, description="frame"),
                "dimension": widgets.Dropdown(
                    options=[(n, i) for i, n in enumerate(ACTION_NAMES)], value=0, description="action"
                ),
                "scale": widgets.SelectionSlider(options=self.SCALES, value=10, description="scale"),
                "kept": widgets.IntSlider(value=chunk_size, min=1, max=chunk_size, description="kept"),
            },
        )

    def tokenizer(self, scale: float) -> FASTTokenizer:
        if scale not in self.tokenizers:
            self.tokenizers[scale] = FASTTokenizer.fit(self.fit_chunks, self.vocab_size, scale)
        return self.tokenizers[scale]

    def draw(self, episode: int, start: int, dimension: int, scale: float, kept: int):
        from vlacourse.sim.env import ACTION_NAMES
        from vlacourse.widgets.interactive import new_figure

        tokenizer = self.tokenizer(scale)
        actions = self.dataset.episode(episode)["action"]
        start = min(start, len(actions) - self.chunk_size)
        chunk = actions[start : start + self.chunk_size]
        report = compress(tokenizer, chunk, kept)
        fig = new_figure(11, 3.4)
        trajectory, spectrum = fig.subplots(1, 2)
        steps = np.arange(self.chunk_size)
        trajectory.plot(actions[:, dimension], color="0.75", linewidth=1, label="the whole demonstration")
        trajectory.plot(start + steps, chunk[:, dimension], "o-", color="0.3", markersize=3, label="the chunk")
        trajectory.plot(
            start + steps,
            report["reconstruction"][:, dimension],
            "s--",
            color="crimson",
            markersize=3,
            label="decoded from FAST tokens",
        )
        margin = 0.1 * (tokenizer.high[dimension] - tokenizer.low[dimension]) + 1e-3
        trajectory.set(
            xlabel="frame (50 Hz)",
            ylabel=ACTION_NAMES[dimension],
            ylim=(tokenizer.low[dimension] - margin, tokenizer.high[dimension] + margin),
            title=f"largest error in the chunk {report['max_error']:.3f} (all dims)",
        )
        trajectory.legend(fontsize=7, loc="lower right")
        magnitude = np.abs(report["scaled"][:, dimension])
        colours = ["seagreen" if k < kept and report["integers"][k, dimension] else "0.75" for k in steps]
        spectrum.bar(steps, magnitude, color=colours)
        spectrum.axhline(0.5, color="k", linestyle=":", linewidth=1)  # below it, a coefficient rounds to 0
        if kept < self.chunk_size:  # the dropped frequencies, shaded even where they had rounded to 0 anyway
            spectrum.axvspan(kept - 0.5, self.chunk_size - 0.5, color="0.9", zorder=0)
        spectrum.set(
            xlabel="frequency",
            ylabel="|coefficient| x scale",
            xlim=(-0.5, self.chunk_size - 0.5),
            title=f"{kept} of {self.chunk_size} frequencies kept: {len(report['tokens'])} FAST tokens "
            f"vs {chunk.size} bins, {report['ratio']:.1f}x fewer",
        )
        fig.suptitle(f"tokens {report['tokens']}", fontsize=8)
        return fig

    def _ipython_display_(self) -> None:
        self.view._ipython_display_()
