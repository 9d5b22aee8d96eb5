"""``python -m vlacourse.exercises student SRC OUT``: write student notebooks (see ``student.py``)."""

import argparse

from vlacourse.exercises.student import write_student_notebooks

parser = argparse.ArgumentParser(prog="python -m vlacourse.exercises")
commands = parser.add_subparsers(dest="command", required=True)
student = commands.add_parser("student", help="write notebooks with every solution replaced by a stub")
student.add_argument("source", help="folder of the solution notebooks (notebooks/)")
student.add_argument("out", help="folder to write the student notebooks to (student/)")
args = parser.parse_args()
for path in write_student_notebooks(args.source, args.out):
    print(f"wrote {path}")
