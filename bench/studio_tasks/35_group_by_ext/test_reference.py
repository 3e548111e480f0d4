from solution import group_by_extension


def test_example():
    assert group_by_extension(["a.txt", "b.JPG", "notes", "c.txt"]) == {
        "txt": ["a.txt", "c.txt"],
        "jpg": ["b.JPG"],
        "": ["notes"],
    }


def test_case_is_folded_and_order_kept():
    paths = ["IMG_2.JPG", "img_1.jpg", "scan.Jpg"]
    assert group_by_extension(paths) == {"jpg": paths}


def test_last_extension_only():
    assert group_by_extension(["backup.tar.gz", "x.gz"]) == {"gz": ["backup.tar.gz", "x.gz"]}


def test_folders_and_dotfiles():
    paths = ["my.folder/readme", "home/.bashrc", "photos/2024/beach.png"]
    assert group_by_extension(paths) == {
        "": ["my.folder/readme", "home/.bashrc"],
        "png": ["photos/2024/beach.png"],
    }


def test_empty():
    assert group_by_extension([]) == {}
