from solution import query_params


def test_repeated_names_and_plus():
    url = "https://shop.example/search?q=red+shoes&size=42&size=43#top"
    assert query_params(url) == {"q": ["red shoes"], "size": ["42", "43"]}


def test_no_query():
    assert query_params("https://example.org/") == {}
    assert query_params("https://example.org/page#section?x=1") == {}


def test_percent_decoding():
    url = "http://h/p?name=J%C3%BCrgen%20M&path=%2Ftmp%2Fa%26b"
    assert query_params(url) == {"name": ["Jürgen M"], "path": ["/tmp/a&b"]}


def test_blank_values():
    assert query_params("http://h/?debug&page=&x=1") == {"debug": [""], "page": [""], "x": ["1"]}
