"""The arm's inverse kinematics against MuJoCo's own forward kinematics, and the workspace."""

import mujoco
import numpy as np
import pytest

from vlacourse.sim.arm import Arm, inverse_kinematics
from vlacourse.sim.env import REACH_RADIUS, clip_to_workspace


@pytest.fixture(scope="module")
def arm():
    return Arm()


def _forward(arm, joint_angles):
    arm.data.qpos[arm.arm_qpos] = joint_angles
    mujoco.mj_forward(arm.model, arm.data)
    hand = arm.data.xmat[arm.model.body("hand").id].reshape(3, 3)  # columns: the hand's axes in the world
    return arm.gripper_position(), hand


def test_inverse_kinematics_matches_mujocos_forward_kinematics(arm):
    rng = np.random.default_rng(0)
    for _ in range(200):
        target = clip_to_workspace(rng.uniform([0.15, -0.35, 0.02], [0.5, 0.35, 0.25]))
        yaw = rng.uniform(-0.7, 0.7)
        solution = inverse_kinematics(target, yaw)
        position, hand = _forward(arm, solution.arm)
        assert solution.reachable
        np.testing.assert_allclose(position, target, atol=1e-6)
        np.testing.assert_allclose(hand[:, 2], [0, 0, -1], atol=1e-6)  # pointing straight down
        closing = hand[:, 0]  # the fingers close along the hand's x axis, which points along -yaw here
        assert abs(abs(np.dot(closing[:2], [np.cos(yaw), np.sin(yaw)])) - 1) < 1e-6


def test_joint_angles_stay_inside_the_joint_limits(arm):
    rng = np.random.default_rng(1)
    limits = arm.model.jnt_range[
        [arm.model.joint(n).id for n in ("shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll")]
    ]
    for _ in range(200):
        angles = inverse_kinematics(clip_to_workspace(rng.uniform([0.1, -0.4, 0.0], [0.6, 0.4, 0.3]))).arm
        assert np.all(angles >= limits[:, 0]) and np.all(angles <= limits[:, 1])


def test_unreachable_targets_are_flagged_and_approached(arm):
    solution = inverse_kinematics(np.array([0.7, 0.0, 0.02]))
    position, _ = _forward(arm, solution.arm)
    assert not solution.reachable and position[0] > 0.45  # stretched toward it


def test_workspace_clipping_keeps_targets_reachable():
    rng = np.random.default_rng(2)
    for target in rng.uniform(-1, 1, (500, 3)):
        clipped = clip_to_workspace(target)
        assert np.linalg.norm(clipped) <= REACH_RADIUS + 1e-9 and clipped[2] >= 0.02
        assert inverse_kinematics(clipped).reachable
