"""Where things appear in the policy's cameras: the pinhole projection, and cheap labelled scenes to learn it from.

A camera at position c with rotation R (its x axis right, y up, looking down its -z axis) and a vertical
field of view fovy sees a world point p at

    (x, y, z) = R^T (p - c)              the point in the camera's frame (z < 0: in front)
    u = f x / -z,  v = -f y / -z          f = 1 / tan(fovy / 2), so u, v in [-1, 1] span the image

u runs left to right and v top to bottom, as an image's columns and rows: pixel column (u + 1) / 2 * W.
The scene camera is fixed; the wrist camera rides on the arm, so its pose follows the joint angles, which
the robot's state holds. ``PointingLabels`` turns a frame's state and object positions into where each
block appears in each camera: the targets a VLM learns to point at (``vlacourse.vlm.pointing``).

A demonstration costs about a second of simulation; a scene for pointing, a fresh layout with the gripper
somewhere above the table, costs a reset and two renders, a few milliseconds (``PointingScenes``).
"""

from __future__ import annotations

import mujoco
import numpy as np
from tqdm.auto import tqdm

from vlacourse.sim.arm import WORKSPACE_HIGH, WORKSPACE_LOW, Arm
from vlacourse.sim.env import CAMERAS, TabletopEnv, clip_to_workspace
from vlacourse.sim.tasks import COLORS, TASKS, sample_layout, sample_task

POINT_LOW = np.array([WORKSPACE_LOW[0], WORKSPACE_LOW[1], 0.03])  # the gripper's box in pointing scenes: the
POINT_HIGH = np.array([WORKSPACE_HIGH[0], WORKSPACE_HIGH[1], 0.20])  # workspace, from just above the blocks up


def project(points: np.ndarray, position: np.ndarray, rotation: np.ndarray, fovy_degrees: float) -> np.ndarray:
    """(N, 3) world points -> (N, 3): u, v in image units ([-1, 1] across the image) and 1.0 where the point
    is in front of the camera and inside its image, else 0.0. ``rotation``: (3, 3), the camera's axes as columns."""
    local = (points - position) @ rotation  # (N, 3): R^T (p - c), row by row
    depth = -local[:, 2]  # distance along the viewing direction
    focal = 1.0 / np.tan(np.radians(fovy_degrees) / 2)
    safe = np.where(depth > 1e-6, depth, 1.0)
    u, v = focal * local[:, 0] / safe, -focal * local[:, 1] / safe
    visible = (depth > 1e-6) & (np.abs(u) <= 1) & (np.abs(v) <= 1)
    return np.stack([u, v, visible.astype(np.float64)], axis=1)


def back_project(
    uv: np.ndarray, height: float | np.ndarray, position: np.ndarray, rotation: np.ndarray, fovy_degrees: float
) -> np.ndarray:
    """(N, 2) image points -> (N, 3): where each one's ray meets the plane z = ``height`` (one for all, or (N,)
    one each): the inverse of ``project`` for points known to lie there, such as a block's centre on the table."""
    focal = 1.0 / np.tan(np.radians(fovy_degrees) / 2)
    rays = np.stack([uv[:, 0] / focal, -uv[:, 1] / focal, -np.ones(len(uv))], axis=1) @ rotation.T  # (N, 3), world
    distance = (height - position[2]) / rays[:, 2]  # along each ray, to the plane
    return position + distance[:, None] * rays


def camera_poses(arm: Arm) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """Each policy camera's position, rotation (axes as columns) and vertical field of view, for the arm's
    current joint angles (the wrist camera rides on the arm; the scene camera does not move)."""
    mujoco.mj_kinematics(arm.model, arm.data)
    mujoco.mj_camlight(arm.model, arm.data)  # camera poses from the bodies they ride on
    cameras = {name: arm.model.camera(name).id for name in CAMERAS}
    return {
        name: (arm.data.cam_xpos[i].copy(), arm.data.cam_xmat[i].reshape(3, 3).copy(), float(arm.model.cam_fovy[i]))
        for name, i in cameras.items()
    }


class PointingLabels:
    """Where each block appears in each camera, for frames given by their state and environment state."""

    def __init__(self):
        self.arm = Arm()  # a private copy of the model: setting its joints moves nothing anyone renders

    def __call__(self, state: np.ndarray, environment_state: np.ndarray) -> np.ndarray:
        """(N, 9) states, (N, 16) environment states -> (N, blocks, cameras, 3): u, v, visible, float32
        (blocks in ``tasks.COLORS`` order, cameras in ``env.CAMERAS`` order: scene, wrist)."""
        blocks = environment_state[:, : 3 * len(COLORS)].reshape(len(state), len(COLORS), 3)  # (N, 4, 3)
        labels = np.zeros((len(state), len(COLORS), len(CAMERAS), 3), np.float32)
        for i in range(len(state)):
            self.arm.data.qpos[self.arm.arm_qpos] = state[i, 4:9]  # the five joint angles place the wrist camera
            poses = camera_poses(self.arm)
            for j, camera in enumerate(CAMERAS):
                labels[i, :, j] = project(blocks[i], *poses[camera])
        return labels


def named_block(instruction: str) -> int:
    """The index in ``tasks.COLORS`` of the first colour an instruction names (the block it acts on first)."""
    words = instruction.lower().replace("?", " ").split()
    named = [words.index(c) for c in COLORS if c in words]
    if not named:
        raise ValueError(f"the instruction {instruction!r} names no block: it needs one of the colours {COLORS}")
    return COLORS.index(words[min(named)])


FRAME_KEYS = tuple(f"observation.images.{c}" for c in CAMERAS) + ("observation.state", "observation.environment_state")


class PointingScenes:
    """``count`` fresh layouts, each with the open gripper at a random point of ``POINT_LOW``..``POINT_HIGH``,
    seen by both cameras. The layouts are drawn at once (seeded: the same arguments give the same scenes), each
    is rendered when first asked for (``frames``): a few training batches cost their own renders, not all."""

    def __init__(self, count: int, seed: int = 0, image_size: int = 64):
        rng = np.random.default_rng(seed)
        self.draws = []
        for _ in range(count):
            layout = sample_layout(rng, sample_task(TASKS[rng.integers(len(TASKS))], rng))
            self.draws.append((layout, clip_to_workspace(rng.uniform(POINT_LOW, POINT_HIGH))))
        self.image_size = image_size
        self._env: TabletopEnv | None = None
        self._labels: PointingLabels | None = None
        self._rendered: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.draws)

    def frames(self, indices, progress: bool = False) -> dict[str, np.ndarray]:
        """The scenes at ``indices``, stacked: the arrays of a ``DemoDataset``'s frames (images, state,
        environment state) without actions."""
        return self._stacked(indices, FRAME_KEYS, progress)

    def pointing_labels(self, indices) -> np.ndarray:
        """(N, blocks, cameras, 3): where each block appears in the scenes at ``indices`` (``PointingLabels``),
        computed once per scene, when it is rendered."""
        return self._stacked(indices, ("pointing",))["pointing"]

    def _stacked(self, indices, keys, progress: bool = False) -> dict[str, np.ndarray]:
        indices = [int(i) for i in indices]
        for i in tqdm(
            sorted(set(indices) - set(self._rendered)), desc="rendering pointing scenes", disable=not progress
        ):
            self._rendered[i] = self._render(i)
        return {key: np.stack([self._rendered[i][key] for i in indices]) for key in keys}

    def _render(self, index: int) -> dict[str, np.ndarray]:
        if self._env is None:
            self._env, self._labels = TabletopEnv(image_size=self.image_size), PointingLabels()
        env, (layout, gripper) = self._env, self.draws[index]
        env.arm.reset(
            {f"{c}_block": p for c, p in layout.blocks.items()},
            {f"{z}_zone": p for z, p in layout.zones.items()},
            gripper,
        )  # from a reset state: a scene does not depend on the one rendered before it
        frame = {f"observation.images.{c}": env.policy_camera.render(env.arm.data, c).copy() for c in CAMERAS}
        frame |= {"observation.state": env.state(), "observation.environment_state": env.environment_state()}
        where = self._labels(frame["observation.state"][None], frame["observation.environment_state"][None])
        return frame | {"pointing": where[0]}  # (blocks, cameras, 3)


def render_pointing_scenes(count: int, seed: int = 0, image_size: int = 64, progress: bool = True) -> dict:
    """All ``count`` scenes of ``PointingScenes(count, seed, image_size)``, rendered."""
    return PointingScenes(count, seed, image_size).frames(range(count), progress)
