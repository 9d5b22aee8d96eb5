"""The one widget pattern every notebook uses: ipywidgets controls that redraw a picture.

    sliders / dropdowns  --observe-->  draw(**values)  -->  RGB array or matplotlib Figure
                                                             |
                                                  PNG bytes  v
                                               ipywidgets.Image (shown under the controls)

Why an ``Image`` widget and not matplotlib inside an ``Output``, or plotly's ``FigureWidget``:
the figure is turned into PNG by matplotlib's Agg renderer directly, so it shows the same in Colab
(ipywidgets 7.7) and JupyterLab 4 (ipywidgets 8) whatever the notebook's matplotlib backend is; a
forced ``agg`` backend would print ``<Figure ...>`` as text inside an ``Output``, and ``FigureWidget``
needs anywidget on plotly 6+ and is reported broken in Colab. The redraw replaces the image's bytes,
so nothing flickers, and a test can move a control by setting ``.value`` and read the new picture.
``LiveLossPlot``, the loss curve every training cell shows, is the same kind of picture.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from PIL import Image as PILImage

if TYPE_CHECKING:
    from vlacourse.training import History


def png_from_rgb(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 image."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 image, got shape {rgb.shape} dtype {rgb.dtype}; "
            "convert floats in [0, 1] with (img * 255).astype(np.uint8)"
        )
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="png")
    return buffer.getvalue()


def png_from_figure(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib Figure: savefig draws PNG with Agg whatever the active backend."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def new_figure(width: float = 6.0, height: float = 3.5) -> Figure:
    """A Figure outside pyplot: the inline backend will not show it again under the widget."""
    return Figure(figsize=(width, height), layout="constrained")


class InteractiveImage:
    """Controls plus the picture ``draw(**values)`` makes from their values, redrawn on every change.

    ``controls`` maps each keyword of ``draw`` to an ipywidgets control (slider, dropdown, checkbox).
    Display it as the last expression of a cell. ``set(name=value)`` moves controls from code and
    rejects values a control cannot take, with the range in the message.
    """

    def __init__(self, draw: Callable[..., np.ndarray | Figure], controls: dict[str, widgets.ValueWidget]):
        self.draw = draw
        self.controls = controls
        self.image = widgets.Image(format="png")
        self.redraws = 0  # how many pictures were drawn: tests read it
        for control in controls.values():
            control.observe(self._on_change, names="value")
        # flex-start: a VBox stretches its children to its width, which would blur the picture.
        # Controls wrap onto a second row rather than widen the output past the page.
        row = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([row, self.image], layout=widgets.Layout(align_items="flex-start"))
        self.redraw()

    @property
    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> None:
        picture = self.draw(**self.values)
        self.image.value = png_from_figure(picture) if isinstance(picture, Figure) else png_from_rgb(picture)
        self.redraws += 1

    def _on_change(self, change) -> None:
        self.redraw()

    def set(self, **values: Any) -> None:
        """Move controls from code; several at once redraw once."""
        for name, value in values.items():
            if name not in self.controls:
                raise KeyError(f"no control named {name!r}; this widget has {sorted(self.controls)}")
            check_control_value(self.controls[name], name, value)
        with _hold(self):
            for name, value in values.items():
                self.controls[name].value = value
        self.redraw()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class _hold:
    """Pause redraws while several controls move, so that ``set`` draws once."""

    def __init__(self, view: InteractiveImage):
        self.view = view

    def __enter__(self):
        for control in self.view.controls.values():
            control.unobserve(self.view._on_change, names="value")

    def __exit__(self, *exc):
        for control in self.view.controls.values():
            control.observe(self.view._on_change, names="value")


def check_control_value(control: widgets.ValueWidget, name: str, value: Any) -> None:
    """Raise ValueError naming the allowed values: sliders would clamp silently, dropdowns would fail late."""
    if isinstance(control, widgets.Checkbox):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} is a checkbox: give True or False, got {value!r}")
    elif hasattr(control, "min") and hasattr(control, "max"):
        low, high = control.min, control.max
        if isinstance(control, widgets.FloatLogSlider):  # its min and max are exponents of its base
            low, high = control.base**low, control.base**high
        if not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
            raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name}={value} is out of range: choose a value in [{low:g}, {high:g}]")
    elif hasattr(control, "options"):
        allowed = [option[1] if isinstance(option, tuple) else option for option in control.options]
        if value not in allowed:
            raise ValueError(f"{name}={value!r} is not an option: choose one of {allowed}")


class LiveLossPlot:
    """A loss curve redrawn as training goes; ``baseline`` draws a horizontal reference line."""

    def __init__(self, title: str = "loss", baseline: tuple[str, float] | None = None):
        self.title, self.baseline = title, baseline
        self.image = widgets.Image(format="png")

    def draw(self, history: History) -> None:
        fig = new_figure(6.5, 3.2)
        ax = fig.add_subplot()
        ax.plot(history.steps, history.losses, color="0.6", linewidth=1, label="training")
        if history.eval_steps:
            ax.plot(history.eval_steps, history.eval_losses, "o-", color="crimson", markersize=3, label="validation")
        if self.baseline:
            ax.axhline(self.baseline[1], color="k", linestyle="--", linewidth=1, label=self.baseline[0])
        ax.set(xlabel="step", ylabel="cross-entropy (nats)", title=self.title)
        ax.legend(fontsize=8, loc="upper left")
        if getattr(history, "success_rates", None):  # a policy's runs on the arm, on a second axis
            arm = ax.twinx()
            arm.plot(history.success_steps, history.success_rates, "s-", color="seagreen", markersize=4)
            arm.set(ylim=(-0.02, 1.02), ylabel="success on the arm")
            arm.yaxis.label.set_color("seagreen")
        self.image.value = png_from_figure(fig)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.image)
