import subprocess
import sys
from pathlib import Path

import pytest
from expenses.load import read_expenses
from expenses.report import totals_by_category

ROOT = Path(__file__).resolve().parent
CSV = """date,description,category,amount
2024-03-02,Supermarket,groceries,54.20
2024-03-05,Cinema,fun,12.50
2024-03-09,Bakery,groceries,4.30
2024-03-15,Refund pending,fun,
2024-04-01,Rent,housing,800.00
2024-04-03,Market,groceries,20.00
"""


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(CSV)
    return path


def test_read_expenses(export):
    rows = read_expenses(export)
    assert len(rows) == 5
    assert rows[0] == {"date": "2024-03-02", "category": "groceries", "amount": 54.2}


def test_totals_all_months(export):
    totals = totals_by_category(read_expenses(export))
    assert [c for c, _ in totals] == ["housing", "groceries", "fun"]
    assert [t for _, t in totals] == pytest.approx([800.0, 78.5, 12.5])


def test_totals_one_month_and_ties():
    rows = [
        {"date": "2024-03-01", "category": "b", "amount": 5.0},
        {"date": "2024-03-02", "category": "a", "amount": 5.0},
        {"date": "2024-02-28", "category": "c", "amount": 99.0},
        {"date": "2023-03-10", "category": "c", "amount": 99.0},
    ]
    assert totals_by_category(rows, month="2024-03") == [("a", 5.0), ("b", 5.0)]
    assert totals_by_category(rows, month="2025-01") == []


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "expenses", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_cli(export):
    result = run(str(export))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "housing: 800.00",
        "groceries: 78.50",
        "fun: 12.50",
        "total: 891.00",
    ]


def test_cli_month(export):
    result = run(str(export), "--month", "2024-03")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["groceries: 58.50", "fun: 12.50", "total: 71.00"]
