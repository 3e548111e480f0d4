"""python -m expenses FILE [--month YYYY-MM]"""

import argparse

from expenses.load import read_expenses
from expenses.report import totals_by_category

parser = argparse.ArgumentParser(prog="expenses")
parser.add_argument("file")
parser.add_argument("--month")
args = parser.parse_args()
totals = totals_by_category(read_expenses(args.file), args.month)
for category, total in totals:
    print(f"{category}: {total:.2f}")
print(f"total: {sum(t for _, t in totals):.2f}")
