from urllib.parse import parse_qs, urlsplit


def query_params(url: str) -> dict[str, list[str]]:
    """The query parameters of a URL, each name with all its values in order."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)
