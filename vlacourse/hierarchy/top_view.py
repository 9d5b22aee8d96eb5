"""The planner's view: a camera straight above the table, with the height of whatever lies under each pixel.

CLIPort (Shridhar, Manuelli, Fox, CoRL 2021, arXiv 2109.12098, Sec. 3) plans on a top-down RGB-D view of the
workspace: a pick and a place are pixels of that image, and a pixel with its height is a point in space, so
the decision is one a person can look at. Ours:

        camera "top", 1.5 m above the table, looking straight down, fovy 16 degrees
                                   |
        +--------------------------v---------------------------+   64 x 112 pixels, about 6.6 mm each
        | robot's base side (x small)                          |   columns: y from -0.37 to +0.37 m
        |        [red]          [blue]              +-----+    |   rows: x from 0.13 to 0.55 m
        |                [green]      [yellow]      | bin |    |   each pixel: RGB and the height (m)
        | far side (x large)                        +-----+    |   of the surface it sees
        +------------------------------------------------------+

Where ours differs, and why:
- CLIPort's view (Transporter's) is orthographic: RGB-D images unprojected to a point cloud and rendered from
  above. Ours is one perspective camera far away
  with a narrow field of view: a block's top (4 cm up) is seen at most about 9 mm (1.3 pixels, at the blocks'
  farthest from the centre) from where an orthographic view would put it, and ``pixel_of`` / ``point_of`` are
  exact for the perspective camera, so nothing downstream relies on the view being orthographic.
- The arm is left out of the picture (its geoms are moved to a geom group MuJoCo does not draw by default, in a
  private copy of the model): the planner decides before the arm moves, on the table alone. The policy
  cameras of ``TabletopEnv`` are untouched: this view exists only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import mujoco
import numpy as np

from vlacourse.render import FAST_QUALITY
from vlacourse.sim.cameras import back_project, project

TOP_HEIGHT = 1.5  # metres above the table top
TOP_CENTRE = (0.34, 0.0)  # x, y under the camera: the middle of the blocks' and the bin's region
TOP_FOVY = 16.0  # degrees, vertical: 0.42 m of table over the image's 64 rows
TOP_SIZE = (64, 112)  # rows, columns: 8 x 14 patches of 8 pixels for the course ViT
HIDDEN_GROUP = 3  # MuJoCo draws geom groups 0-2 unless told otherwise
ARM_ROOT = "base"  # the body the arm hangs from; every geom under it is the arm's


def top_view_model() -> mujoco.MjModel:
    """A copy of the tabletop's model with the top camera added and the arm's geoms hidden. Its joints, bodies
    and their order are the tabletop's, so the arm's ``qpos`` and ``mocap_pos`` copy straight into its data."""
    with resources.as_file(resources.files("vlacourse") / "data" / "tabletop_arm.xml") as path:
        spec = mujoco.MjSpec.from_file(str(path))
    # Image right along +y (as in the scene camera), image up toward the robot's base (-x): looking down.
    spec.worldbody.add_camera(
        name="top",
        pos=[TOP_CENTRE[0], TOP_CENTRE[1], TOP_HEIGHT],
        xyaxes=[0, 1, 0, -1, 0, 0],
        fovy=TOP_FOVY,
    )
    stack = [spec.body(ARM_ROOT)]
    while stack:
        body = stack.pop()
        for geom in body.geoms:
            geom.group = HIDDEN_GROUP
        stack.extend(body.bodies)
    return spec.compile()


@dataclass(frozen=True)
class TopImage:
    """One top view: what the planner reads."""

    rgb: np.ndarray  # (H, W, 3) uint8
    heights: np.ndarray  # (H, W) float32: metres above the table top of the surface each pixel sees


class TopView:
    """Renders an environment's table from above: ``TopView()(env)`` -> ``TopImage``. One per thread, as any
    MuJoCo renderer (its GL context lives in the thread that made it)."""

    def __init__(self):
        self.model = top_view_model()
        self.data = mujoco.MjData(self.model)
        quality = self.model.vis.quality
        for name, value in FAST_QUALITY.items():  # a private model: set for good, nothing to restore
            setattr(quality, name, value)
        self.renderer = mujoco.Renderer(self.model, *TOP_SIZE)
        self.camera = self.model.camera("top").id

    def __call__(self, env) -> TopImage:
        """The table of ``env`` (a ``TabletopEnv`` after ``reset``) as it is now."""
        arm = env.arm
        if arm.model.nq != self.model.nq or arm.model.nmocap != self.model.nmocap:
            raise ValueError("this environment's model is not the tabletop's: the top view copies its state")
        self.data.qpos[:] = arm.data.qpos
        self.data.mocap_pos[:] = arm.data.mocap_pos
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)  # the camera's pose, for the renderer
        self.renderer.update_scene(self.data, camera=self.camera)
        rgb = self.renderer.render().copy()
        self.renderer.enable_depth_rendering()
        depth = self.renderer.render().copy()  # (H, W): distance from the camera's plane, metres
        self.renderer.disable_depth_rendering()
        return TopImage(rgb, (TOP_HEIGHT - depth).astype(np.float32))

    def close(self) -> None:
        self.renderer.close()


def _pose() -> tuple[np.ndarray, np.ndarray]:
    """The top camera's position and rotation (its axes as columns), as ``top_view_model`` places it."""
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # columns: x = +y, y = -x, z = +z
    return np.array([TOP_CENTRE[0], TOP_CENTRE[1], TOP_HEIGHT]), rotation


def pixel_of(points: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 2) float pixel coordinates (row, column) in the top view; centres of pixels
    are at integers."""
    position, rotation = _pose()
    uv = project(np.atleast_2d(points), position, rotation, TOP_FOVY)[:, :2]
    rows, columns = TOP_SIZE
    # u spans the image's width: the field of view is vertical, so u = +-1 is half the *height* to the side.
    column = (uv[:, 0] * rows / columns + 1) / 2 * columns - 0.5
    row = (uv[:, 1] + 1) / 2 * rows - 0.5
    return np.stack([row, column], axis=1)


def point_of(pixels: np.ndarray, heights: np.ndarray | float) -> np.ndarray:
    """(N, 2) pixels (row, column) and the height of each -> (N, 3) world points: where the pixel's ray meets
    that height (the inverse of ``pixel_of``)."""
    pixels = np.atleast_2d(np.asarray(pixels, dtype=np.float64))
    rows, columns = TOP_SIZE
    u = ((pixels[:, 1] + 0.5) / columns * 2 - 1) * columns / rows
    v = (pixels[:, 0] + 0.5) / rows * 2 - 1
    position, rotation = _pose()
    return back_project(np.stack([u, v], axis=1), np.asarray(heights, dtype=np.float64), position, rotation, TOP_FOVY)
