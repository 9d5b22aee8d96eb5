"""The arm: its MuJoCo model, closed-form inverse kinematics, and one 50 Hz control step.

    gripper target (x, y, z) + yaw ---> inverse kinematics ---> 5 joint targets ---> position actuators
    gripper command in [-1, 1]    ---------------------------> 2 finger targets  --/   (10 physics steps)

The learner-facing action is a Cartesian one (see ``vlacourse.sim.env``); this module turns a gripper
position into joint angles. The gripper always points straight down, so the wrist sits right above the
grasp point and the problem splits: the pan joint faces the target, a two-link arm (upper arm, forearm)
reaches the wrist in the vertical plane by the law of cosines, the wrist flex makes the three pitches
sum to pi (pointing down), and the wrist roll cancels the pan so the fingers keep their yaw.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from vlacourse.render import load_model

SHOULDER_HEIGHT = 0.10  # shoulder-lift axis above the table (base 0.04 + pan column 0.06)
UPPER_ARM = 0.25  # shoulder lift to elbow
FOREARM = 0.25  # elbow to wrist flex
HAND = 0.10  # wrist flex to the grasp point between the finger pads

CONTROL_HZ = 50  # policy steps per second
PHYSICS_STEPS = 10  # 2 ms physics steps per control step
ARM_JOINTS = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll")
FINGER_OPEN = 0.04  # each finger's travel: fully open leaves an 8 cm gap, blocks are 4 cm

# Where the grasp point may go: over the table, in reach, above the table top.
WORKSPACE_LOW = np.array([0.12, -0.36, 0.02])
WORKSPACE_HIGH = np.array([0.56, 0.36, 0.25])


@dataclass(frozen=True)
class JointTargets:
    arm: np.ndarray  # (5,) radians, in ARM_JOINTS order
    reachable: bool  # False when the target was beyond reach and the arm stretches toward it instead


def inverse_kinematics(position: np.ndarray, yaw: float = 0.0) -> JointTargets:
    """Joint angles that put the grasp point at ``position`` (metres, base frame), pointing down.

    ``yaw`` is the fingers' closing direction about the vertical, 0 along the world x axis.
    """
    x, y, z = position
    pan = np.arctan2(y, x)
    reach = np.hypot(x, y)  # horizontal distance to the wrist, which sits straight above the target
    wrist_r, wrist_z = reach, z + HAND - SHOULDER_HEIGHT
    distance = np.hypot(wrist_r, wrist_z)
    limit = UPPER_ARM + FOREARM - 1e-6
    reachable = distance <= limit
    if not reachable:
        wrist_r, wrist_z = wrist_r * limit / distance, wrist_z * limit / distance
        distance = limit
    # Law of cosines for the elbow; elbow-up (positive) so the forearm reaches down to the table.
    cos_elbow = (distance**2 - UPPER_ARM**2 - FOREARM**2) / (2 * UPPER_ARM * FOREARM)
    elbow = np.arccos(np.clip(cos_elbow, -1.0, 1.0))
    # Angles are measured from the vertical, positive leaning forward.
    lift = np.arctan2(wrist_r, wrist_z) - np.arctan2(FOREARM * np.sin(elbow), UPPER_ARM + FOREARM * np.cos(elbow))
    wrist_flex = np.pi - lift - elbow  # the three pitches sum to pi: the hand points down
    wrist_roll = pan - yaw  # the hand points down, so rolling it turns the fingers against the pan
    return JointTargets(np.array([pan, lift, elbow, wrist_flex, wrist_roll]), bool(reachable))


class Arm:
    """The MuJoCo model and data of the tabletop, with named handles to what the tasks read."""

    def __init__(self):
        self.model = load_model("tabletop_arm")
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.arm_qpos = np.array([m.jnt_qposadr[m.joint(n).id] for n in ARM_JOINTS])
        self.arm_qvel = np.array([m.jnt_dofadr[m.joint(n).id] for n in ARM_JOINTS])
        self.finger_qpos = np.array([m.jnt_qposadr[m.joint(n).id] for n in ("left_finger", "right_finger")])
        self.grasp_site = m.site("grasp").id
        self.pad_geoms = {m.geom("left_pad").id, m.geom("right_pad").id}

    def reset(
        self,
        block_positions: dict[str, np.ndarray],
        zone_positions: dict[str, np.ndarray],
        gripper_position: np.ndarray,
    ) -> None:
        """Place the blocks, zones and arm (gripper open above ``gripper_position``) and settle."""
        mujoco.mj_resetData(self.model, self.data)
        for name, xyz in block_positions.items():
            address = self.model.jnt_qposadr[self.model.joint(name).id]
            self.data.qpos[address : address + 7] = [*xyz, 1, 0, 0, 0]
        for name, xy in zone_positions.items():
            self.data.mocap_pos[self.model.body(name).mocapid[0]] = [xy[0], xy[1], 0.001]
        targets = inverse_kinematics(gripper_position)
        self.data.qpos[self.arm_qpos] = targets.arm
        self.data.qpos[self.finger_qpos] = FINGER_OPEN
        self.command(targets.arm, gripper=-1.0)
        mujoco.mj_forward(self.model, self.data)

    def command(self, arm_targets: np.ndarray, gripper: float) -> None:
        """Set the actuators: joint angles for the arm; gripper -1 open ... +1 closed."""
        self.data.ctrl[:5] = arm_targets
        self.data.ctrl[5:7] = FINGER_OPEN * (1.0 - gripper) / 2.0

    def step(self) -> None:
        """One control period: PHYSICS_STEPS steps of 2 ms."""
        mujoco.mj_step(self.model, self.data, nstep=PHYSICS_STEPS)

    # What the tasks and the policy's state read.
    def gripper_position(self) -> np.ndarray:
        return self.data.site_xpos[self.grasp_site].copy()

    def gripper_opening(self) -> float:
        """Distance between the finger pads' inner faces, metres (0.08 open, 0.04 on a block, 0 shut)."""
        return float(self.data.qpos[self.finger_qpos].sum())

    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self.arm_qpos].copy()

    def block_position(self, color: str) -> np.ndarray:
        return self.data.xpos[self.model.body(f"{color}_block").id].copy()

    def zone_position(self, zone: str) -> np.ndarray:
        return self.data.mocap_pos[self.model.body(f"{zone}_zone").mocapid[0]].copy()

    def touching_pads(self, color: str) -> int:
        """How many finger pads touch the block (2 = pinched)."""
        block = self.model.geom(f"{color}_block").id
        pairs = self.data.contact.geom  # (ncon, 2) geom ids of the active contacts
        partners = np.concatenate([pairs[pairs[:, 0] == block, 1], pairs[pairs[:, 1] == block, 0]])
        return len(self.pad_geoms & set(partners.tolist()))
