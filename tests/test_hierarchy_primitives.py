"""The planner's top view against the simulator's truth, and decisions carried out by the expert's motions."""

import numpy as np
import pytest

from vlacourse.hierarchy.primitives import Decision, execute, expert_decision, grasp_point, release_point
from vlacourse.hierarchy.top_view import TOP_SIZE, TopView, pixel_of, point_of
from vlacourse.sim.env import TabletopEnv
from vlacourse.sim.expert import GRASP_HEIGHT
from vlacourse.sim.tasks import BLOCK_HALF, COLORS

BRIGHTEST = {"red": 0, "green": 1, "blue": 2}  # the channel that dominates each block's colour from above


@pytest.fixture(scope="module")
def view():
    return TopView()


@pytest.fixture(scope="module")
def env():
    return TabletopEnv("pick_place", cameras=())


def test_pixels_and_points_are_inverses():
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(0.15, 0.5, 50), rng.uniform(-0.3, 0.3, 50), rng.uniform(0, 0.1, 50)])
    assert np.allclose(point_of(pixel_of(points), points[:, 2]), points, atol=1e-9)
    corners = pixel_of(point_of([[-0.5, -0.5], [TOP_SIZE[0] - 0.5, TOP_SIZE[1] - 0.5]], 0.0))
    assert np.allclose(corners, [[-0.5, -0.5], [TOP_SIZE[0] - 0.5, TOP_SIZE[1] - 0.5]]), "the image's corners"


def test_the_top_view_sees_each_block_where_the_projection_puts_it_and_how_high(env, view):
    for seed in range(3):
        env.reset(seed=seed)
        image = view(env)
        assert image.rgb.shape == (*TOP_SIZE, 3) and image.heights.shape == TOP_SIZE
        for color in COLORS:
            top = env.arm.block_position(color) + [0, 0, BLOCK_HALF]
            row, column = np.round(pixel_of(top[None])[0]).astype(int)
            assert image.heights[row, column] == pytest.approx(2 * BLOCK_HALF, abs=2e-3), (seed, color)
            if color in BRIGHTEST:
                assert image.rgb[row, column].argmax() == BRIGHTEST[color], (seed, color)
        table = pixel_of(np.array([[0.16, -0.34, 0.0]]))[0].round().astype(int)  # a corner no block reaches
        assert image.heights[tuple(table)] == pytest.approx(0.0, abs=1e-3)


def test_the_arm_is_left_out_of_the_view_and_the_tabletop_keeps_its_model(env, view):
    env.reset(seed=1)
    before = view(env)
    for _ in range(30):  # the arm goes down over the table
        env.step(np.array([0.3, 0.3, -1.0, -1.0]))
    after = view(env)
    gripper = pixel_of(env.arm.gripper_position()[None])[0].round().astype(int)
    assert env.arm.gripper_position()[2] < 0.05 and after.heights[tuple(gripper)] < 0.01, "the table, not the hand"
    # The same picture but for the blocks settling by micrometres (a pixel's edge may flip).
    assert np.abs(after.heights - before.heights).max() < 3e-3
    assert np.abs(after.rgb.astype(int) - before.rgb).max() <= 2
    names = [env.arm.model.camera(i).name for i in range(env.arm.model.ncam)]
    assert "top" not in names, "the policies' model is untouched"


def test_the_expert_decisions_carried_out_by_the_primitives_succeed(view):
    for task in ("pick_place", "stack"):
        for split in ("train", "heldout"):
            env = TabletopEnv(task, split=split, cameras=())
            for seed in range(4):
                env.reset(seed=seed)
                assert execute(env, view(env), expert_decision(env)), (task, split, seed)


def test_a_pixel_becomes_the_experts_grasp_and_release_heights(view):
    env = TabletopEnv("stack", cameras=())
    env.reset(seed=2)
    image, decision = view(env), expert_decision(env)
    assert grasp_point(image, decision.pick)[2] == pytest.approx(GRASP_HEIGHT, abs=2e-3)
    below = env.arm.block_position(env.task_spec.target)
    release = release_point(image, decision.place)
    assert np.allclose(release[:2], below[:2], atol=4e-3), "over the other block's centre, within a pixel"
    assert release[2] == pytest.approx(2 * BLOCK_HALF + 0.026, abs=2e-3)


def test_decisions_the_executor_cannot_carry_out_are_refused_with_the_reason(env, view):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the top view"):
        execute(env, view(env), Decision(pick=(70.0, 3.0), place=(10.0, 10.0)))
    with pytest.raises(ValueError, match="pick_place or stack"):
        push = TabletopEnv("push", cameras=())
        push.reset(seed=0)
        expert_decision(push)
