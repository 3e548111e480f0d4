from solution import unique_name


def test_free_name_unchanged():
    assert unique_name("notes", set()) == "notes"
    assert unique_name("a.txt", {"b.txt"}) == "a.txt"


def test_first_free_number():
    assert unique_name("report.pdf", {"report.pdf"}) == "report (2).pdf"
    assert unique_name("report.pdf", {"report.pdf", "report (2).pdf"}) == "report (3).pdf"
    taken = {"x.png", "x (2).png", "x (4).png"}
    assert unique_name("x.png", taken) == "x (3).png"


def test_no_extension_and_dotfiles():
    assert unique_name("README", {"README"}) == "README (2)"
    assert unique_name(".env", {".env"}) == ".env (2)"


def test_last_dot_is_the_extension():
    assert unique_name("backup.tar.gz", {"backup.tar.gz"}) == "backup.tar (2).gz"


def test_existing_is_not_modified():
    taken = {"a.txt"}
    unique_name("a.txt", taken)
    assert taken == {"a.txt"}
