from solution import to_snake_case


def test_camel():
    assert to_snake_case("CamelCase") == "camel_case"
    assert to_snake_case("mixedCaseName") == "mixed_case_name"


def test_acronyms():
    assert to_snake_case("HTTPServerError") == "http_server_error"
    assert to_snake_case("getHTTP") == "get_http"


def test_digits_and_plain():
    assert to_snake_case("Version2Update") == "version2_update"
    assert to_snake_case("simple") == "simple"
