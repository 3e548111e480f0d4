import ipaddress


def in_subnet(address: str, network: str) -> bool:
    """Whether an IP address belongs to a network written in CIDR notation."""
    addr = ipaddress.ip_address(address)
    net = ipaddress.ip_network(network, strict=True)
    return addr.version == net.version and addr in net
