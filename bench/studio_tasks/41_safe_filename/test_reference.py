from solution import safe_filename


def test_forbidden_characters():
    assert safe_filename('Report: Q1/Q2 "final"?.pdf') == "Report_ Q1_Q2 _final__.pdf"
    assert safe_filename("a<b>c|d*e\\f") == "a_b_c_d_e_f"


def test_control_characters():
    assert safe_filename("line\nbreak\ttab") == "line_break_tab"


def test_ends_are_cleaned():
    assert safe_filename("  notes.txt  ") == "notes.txt"
    assert safe_filename("draft...") == "draft"
    assert safe_filename(" ... ") == "untitled"
    assert safe_filename("") == "untitled"


def test_reserved_names():
    assert safe_filename("nul.txt") == "_nul.txt"
    assert safe_filename("CON") == "_CON"
    assert safe_filename("com7.log") == "_com7.log"
    assert safe_filename("console.txt") == "console.txt"
    assert safe_filename("LPT10") == "LPT10"


def test_custom_replacement():
    assert safe_filename("a/b:c", replacement="-") == "a-b-c"
    assert safe_filename("aux", replacement="-") == "-aux"


def test_normal_names_unchanged():
    assert safe_filename("Holiday photos 2024 (1).jpg") == "Holiday photos 2024 (1).jpg"
