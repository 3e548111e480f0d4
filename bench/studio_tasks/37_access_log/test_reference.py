from solution import parse_access_line

COMMON = '203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326'


def test_common_format():
    assert parse_access_line(COMMON) == {
        "ip": "203.0.113.9",
        "time": "10/Oct/2023:13:55:36 +0000",
        "method": "GET",
        "path": "/index.html",
        "status": 200,
        "size": 2326,
    }


def test_combined_format_and_user():
    line = (
        '2001:db8::7 - alice [01/Jan/2024:00:00:01 +0100] "POST /api/login?next=%2F HTTP/2.0"'
        ' 302 - "https://example.com/" "Mozilla/5.0 (X11; Linux)"'
    )
    assert parse_access_line(line) == {
        "ip": "2001:db8::7",
        "time": "01/Jan/2024:00:00:01 +0100",
        "method": "POST",
        "path": "/api/login?next=%2F",
        "status": 302,
        "size": 0,
    }


def test_trailing_newline_is_fine():
    assert parse_access_line(COMMON + "\n")["status"] == 200


def test_garbage_gives_none():
    assert parse_access_line("") is None
    assert parse_access_line("server started on port 80") is None
    assert parse_access_line('1.2.3.4 - - [x] "GET / HTTP/1.1" abc 12') is None
