"""Hierarchical control (notebook 10): a planner decides something a person can read, and a lower level executes it.

    top_view     the planner's camera straight above the table: colour and the height under every pixel
    primitives   a pick and a place decided on that view, carried out by the scripted expert's own motions
    cliport      the CLIPort-style planner: a frozen semantic stream and a spatial one, pick and place heatmaps
    planning     its demonstrations (the expert's decisions), training, success on the arm, and CLIPort's curves
    commands     NaVILA's mid-level commands ("move left 4 cm"): parser, the expert's oracle, the low level
    navila       the command VLA: the VLM that points writes the next command, learned from the oracle's
    lingo        the commenting VLA (LINGO-2): the flow VLA says what it does; the words checked against the arm

Import after ``vlacourse.notebook.setup()``: MuJoCo fixes its rendering backend when first imported.
"""
