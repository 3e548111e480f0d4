import pytest
from solution import in_subnet


def test_ipv4():
    assert in_subnet("192.168.1.77", "192.168.1.0/24")
    assert not in_subnet("192.168.2.1", "192.168.1.0/24")
    assert not in_subnet("10.1.0.1", "10.0.0.0/16")
    assert in_subnet("10.0.255.255", "10.0.0.0/16")


def test_edges_of_the_range():
    assert in_subnet("0.0.0.0", "0.0.0.0/0")
    assert in_subnet("172.16.5.4", "172.16.5.4/32")
    assert not in_subnet("172.16.5.5", "172.16.5.4/32")


def test_ipv6_and_mixed_versions():
    assert in_subnet("2001:db8::1", "2001:db8::/32")
    assert not in_subnet("2001:db9::1", "2001:db8::/32")
    assert not in_subnet("10.0.0.1", "::/0")


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("10.0.0.300", "10.0.0.0/8"),
        ("hello", "10.0.0.0/8"),
        ("10.0.0.1", "10.0.0.5/24"),
        ("10.0.0.1", "10.0.0.0/33"),
        ("10.0.0.1", ""),
    ],
)
def test_invalid_input_raises(address, network):
    with pytest.raises(ValueError):
        in_subnet(address, network)
