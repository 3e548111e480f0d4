from solution import redact


def test_examples():
    assert (
        redact("login user=bob password=hunter2 retry=3") == "login user=bob password=*** retry=3"
    )
    assert redact("DB_PASSWORD: s3cr3t, HOST: db") == "DB_PASSWORD: ***, HOST: db"


def test_query_string():
    url = "https://api.example.com/v1?api_key=abc123&page=2"
    assert redact(url) == "https://api.example.com/v1?api_key=***&page=2"


def test_longer_keys_and_case():
    assert redact("ACCESS_TOKEN=eyJhbGci.x.y") == "ACCESS_TOKEN=***"
    assert redact("client_secret = 'q1w2'") == "client_secret = ***"
    assert redact("Passwd:abc") == "Passwd:***"


def test_several_on_a_line_and_nothing_else_touched():
    text = "token=a1, user=root, secret=b2 host=example.org"
    assert redact(text) == "token=***, user=root, secret=*** host=example.org"
    plain = "nothing to hide: user=bob, tokens are counted"
    assert redact(plain) == plain
