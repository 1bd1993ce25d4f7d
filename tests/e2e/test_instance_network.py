"""Instances on their own network, enforced on the host: security groups (a
port closed, opened by a rule, closed again on revoke; a group as source), VPC
isolation, the metadata service (its own instance only, IMDSv2 required, the
hop limit), and nothing left on the host after terminate."""

import socket
import subprocess
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from instance_api import launch, run

import amiable
from amiable.cloud.core.home import Cloud
from amiable.runtime.layout import interface_name
from api_helpers import OTHER

PORT = 8080
LISTEN = f"httpd -p {PORT} -h /tmp/www && echo listening"
IMDS = "http://169.254.169.254/latest"


def tcp_open(address: str, port: int = PORT) -> bool:
    """Whether the host can open a TCP connection to the address (a dropped
    SYN times out: 1 s is plenty on one host)."""
    try:
        socket.create_connection((address, port), timeout=1).close()
    except OSError:
        return False
    return True


def address_of(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return str(found["PrivateIpAddress"])


def serve_http(ssm: Any, instance_id: str) -> None:
    done = run(ssm, instance_id, "mkdir -p /tmp/www && echo hello > /tmp/www/index.html", LISTEN)
    assert done["StandardOutputContent"].strip() == "listening", done


def fetch(ssm: Any, instance_id: str, url: str, *headers: str) -> dict[str, Any]:
    """`wget` inside an instance, given up after 3 s (busybox's own -T crashes)."""
    options = " ".join(f"--header '{h}'" for h in headers)
    return run(ssm, instance_id, f"timeout 3 wget -q -O- {options} {url}")


def ok(done: dict[str, Any]) -> str:
    assert done["Status"] == "Success", (
        done["StandardOutputContent"],
        done["StandardErrorContent"],
    )
    return str(done["StandardOutputContent"])


@pytest.fixture
def group(clients: tuple[Any, Any]) -> str:
    ec2, _ = clients
    return str(ec2.create_security_group(GroupName="web", Description="web")["GroupId"])


def _tcp(port: int, **source: Any) -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **source}]


def test_a_port_opens_with_a_rule_and_closes_on_revoke(
    clients: tuple[Any, Any], image: str, group: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image, SecurityGroupIds=[group])
    serve_http(ssm, instance)
    address = address_of(ec2, instance)
    assert not tcp_open(address), "inbound is denied unless a rule allows it"
    anywhere = _tcp(PORT, IpRanges=[{"CidrIp": "0.0.0.0/0"}])
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=anywhere)
    assert tcp_open(address)
    assert not tcp_open(address, PORT + 1), "only the port the rule names"
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=anywhere)
    assert not tcp_open(address)
    assert "hello" in ok(fetch(ssm, instance, "http://127.0.0.1:8080/")), "inside, as ever"


def test_a_group_as_source_admits_its_members_only(
    clients: tuple[Any, Any], image: str, group: str
) -> None:
    ec2, ssm = clients
    clients_group = ec2.create_security_group(GroupName="clients", Description="c")["GroupId"]
    (server,) = launch(ec2, image, SecurityGroupIds=[group])
    (member,) = launch(ec2, image, SecurityGroupIds=[clients_group])
    (stranger,) = launch(ec2, image, SecurityGroupIds=[group])
    serve_http(ssm, server)
    url = f"http://{address_of(ec2, server)}:{PORT}/"
    assert fetch(ssm, member, url)["Status"] == "Failed"
    pairs = _tcp(PORT, UserIdGroupPairs=[{"GroupId": clients_group}])
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=pairs)
    assert "hello" in ok(fetch(ssm, member, url))
    assert fetch(ssm, stranger, url)["Status"] == "Failed", "not in the source group"
    assert not tcp_open(address_of(ec2, server)), "nor is the host"
    (late,) = launch(ec2, image, SecurityGroupIds=[clients_group])
    assert "hello" in ok(fetch(ssm, late, url)), "a member that starts later is admitted"


def test_outbound_rules_are_enforced(clients: tuple[Any, Any], image: str, group: str) -> None:
    ec2, ssm = clients
    anywhere = _tcp(PORT, IpRanges=[{"CidrIp": "0.0.0.0/0"}])
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=anywhere)
    (server,) = launch(ec2, image, SecurityGroupIds=[group])
    (client,) = launch(ec2, image, SecurityGroupIds=[group])
    serve_http(ssm, server)
    url = f"http://{address_of(ec2, server)}:{PORT}/"
    assert "hello" in ok(fetch(ssm, client, url))
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=everything)
    assert fetch(ssm, client, url)["Status"] == "Failed"
    assert "i-" in ok(fetch(ssm, client, f"{IMDS}/meta-data/instance-id")), "IMDS is not egress"


def test_instances_of_different_vpcs_never_meet(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    open_all = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    default = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=default, IpPermissions=open_all)
    (here,) = launch(ec2, image)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    theirs = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=theirs, IpPermissions=open_all)
    (there,) = launch(ec2, image, SubnetId=subnet)
    assert address_of(ec2, there).startswith("10.8.1.")
    serve_http(ssm, there)
    serve_http(ssm, here)
    assert tcp_open(address_of(ec2, there)) and tcp_open(address_of(ec2, here)), "the host may"
    assert fetch(ssm, here, f"http://{address_of(ec2, there)}:{PORT}/")["Status"] == "Failed"
    assert fetch(ssm, there, f"http://{address_of(ec2, here)}:{PORT}/")["Status"] == "Failed"
    other = amiable.Session(cloud=cloud, region="eu-central-1", account=OTHER)
    other_ec2, other_ssm = other.client("ec2"), other.client("ssm")
    their_default = other_ec2.describe_security_groups(GroupNames=["default"])
    other_ec2.authorize_security_group_ingress(
        GroupId=their_default["SecurityGroups"][0]["GroupId"], IpPermissions=open_all
    )
    (stranger,) = launch(other_ec2, image_for(other_ec2, ec2, image))
    try:
        assert address_of(other_ec2, stranger) != address_of(ec2, here)
        url = f"http://{address_of(ec2, here)}:{PORT}/"
        assert fetch(other_ssm, stranger, url)["Status"] == "Failed", "another account's VPC"
    finally:
        other_ec2.terminate_instances(InstanceIds=[stranger])
        other_ec2.get_waiter("instance_terminated").wait(
            InstanceIds=[stranger], WaiterConfig={"Delay": 0.2}
        )


def image_for(other_ec2: Any, ec2: Any, image: str) -> str:
    """The image, shared with the other account."""
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    return image


def test_the_metadata_service_answers_for_its_own_instance(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    first, second = launch(ec2, image, count=2)
    for instance in (first, second):
        assert ok(fetch(ssm, instance, f"{IMDS}/meta-data/instance-id")) == instance
        assert ok(fetch(ssm, instance, f"{IMDS}/meta-data/local-ipv4")) == address_of(ec2, instance)
    assert fetch(ssm, first, f"{IMDS}/user-data")["Status"] == "Failed", "none: 404"
    direct = run(ssm, first, "timeout 2 wget -q -O- http://169.254.0.1:80/ ; echo $?")
    assert direct["StandardOutputContent"].strip() != "0", "nothing else of the host"


def test_imdsv2_required_refuses_v1_and_tags_follow(clients: tuple[Any, Any], image: str) -> None:
    ec2, ssm = clients
    (instance,) = launch(
        ec2,
        image,
        MetadataOptions={"HttpTokens": "required", "InstanceMetadataTags": "enabled"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
    )
    assert fetch(ssm, instance, f"{IMDS}/meta-data/instance-id")["Status"] == "Failed"
    put = (  # busybox's wget cannot PUT: the request by hand, the body is its last line
        r"printf 'PUT /latest/api/token HTTP/1.0\r\n"
        r"X-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n' | nc 169.254.169.254 80 | tail -n 1"
    )
    token = ok(run(ssm, instance, put)).strip()
    header = f"X-aws-ec2-metadata-token: {token}"
    assert ok(fetch(ssm, instance, f"{IMDS}/meta-data/instance-id", header)) == instance
    assert ok(fetch(ssm, instance, f"{IMDS}/meta-data/tags/instance/role", header)) == "web"
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "role", "Value": "db"}])
    assert ok(fetch(ssm, instance, f"{IMDS}/meta-data/tags/instance/role", header)) == "db"
    ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="optional")
    assert ok(fetch(ssm, instance, f"{IMDS}/meta-data/instance-id")) == instance


def test_the_hop_limit_keeps_tokens_from_a_container_behind_the_instance(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    (instance,) = launch(ec2, image)
    namespace = (
        f"/run/netns/{interface_name(cloud.region('eu-central-1').instance_directory(instance))}"
    )
    container = "amhop" + instance[-8:]
    veth = f"vh{instance[-8:]}"
    commands = [
        ["ip", "netns", "add", container],
        [
            "ip",
            "-n",
            namespace.rsplit("/", 1)[1],
            "link",
            "add",
            veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            container,
        ],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True)
        inside = namespace.rsplit("/", 1)[1]
        for command in (
            ["ip", "-n", inside, "addr", "add", "10.99.0.1/30", "dev", veth],
            ["ip", "-n", inside, "link", "set", veth, "up"],
            ["ip", "-n", container, "addr", "add", "10.99.0.2/30", "dev", "eth0"],
            ["ip", "-n", container, "link", "set", "eth0", "up"],
            ["ip", "-n", container, "route", "add", "default", "via", "10.99.0.1"],
            [
                "ip",
                "netns",
                "exec",
                inside,
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward && "
                "nft add table ip hop && nft add chain ip hop post "
                "'{ type nat hook postrouting priority 100; }' && "
                "nft add rule ip hop post oifname eth0 masquerade",
            ],
        ):
            subprocess.run(command, check=True)

        def token_from_container() -> int:
            done = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    container,
                    "python3",
                    "-c",
                    "import urllib.request as u;"
                    f"r=u.Request('{IMDS}/api/token',method='PUT',"
                    "headers={'X-aws-ec2-metadata-token-ttl-seconds':'60'});"
                    "u.urlopen(r,timeout=2).read()",
                ],
                capture_output=True,
            )
            return done.returncode

        assert token_from_container() != 0, "hop limit 1: one hop too far"
        ec2.modify_instance_metadata_options(InstanceId=instance, HttpPutResponseHopLimit=2)
        assert token_from_container() == 0
    finally:
        subprocess.run(["ip", "netns", "del", container], capture_output=True)


def test_an_instance_holds_no_descriptor_of_the_host(clients: tuple[Any, Any], image: str) -> None:
    """Its init and what init starts (user data) hold no socket of the host's
    (the metadata service's) and no directory: a directory of the host's,
    open in a process of the sandbox, is a way out of its root (`..`)."""
    ec2, ssm = clients
    listing = "for f in /proc/1/fd/* /proc/$$/fd/*; do [ -d $f ] && echo dir $f; ls -l $f; done"
    script = f"#!/bin/sh\n({listing}) > /tmp/fds.part; mv /tmp/fds.part /tmp/fds\n"
    (instance,) = launch(ec2, image, UserData=script)
    listed = ok(run(ssm, instance, "while [ ! -e /tmp/fds ]; do sleep 0.1; done", "cat /tmp/fds"))
    assert "/dev/null" in listed and "console.log" in listed, listed
    assert "socket:" not in listed, listed
    assert "dir " not in listed, listed
    by_handle = 1 << 2  # CAP_DAC_READ_SEARCH: open_by_handle_at, through the console log's fs
    for process in ("1", "self"):
        status = ok(run(ssm, instance, f"grep CapBnd /proc/{process}/status"))
        assert not int(status.split()[-1], 16) & by_handle, (process, status)


def test_root_inside_has_no_hold_on_the_kernels_settings(
    clients: tuple[Any, Any], image: str
) -> None:
    """Root in an instance that does not boot systemd has no CAP_SYS_ADMIN, in
    its commands or in its init (which it may ptrace): it cannot mount a /proc
    of its own, whose /proc/sys would be the host's kernel settings (a write to
    core_pattern is a way out), nor make the read-only /proc/sys writable."""
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    host_wide = 1 << 21 | 1 << 2  # CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH
    for process in ("1", "self"):
        status = ok(run(ssm, instance, f"grep -E '^Cap(Prm|Eff|Bnd)' /proc/{process}/status"))
        for line in status.splitlines():
            assert not int(line.split()[-1], 16) & host_wide, (process, line)
    fresh_proc = run(ssm, instance, "mkdir -p /mnt/proc && mount -t proc proc /mnt/proc")
    assert fresh_proc["Status"] == "Failed", fresh_proc
    writable = run(ssm, instance, "mount -o remount,rw /proc/sys")
    assert writable["Status"] == "Failed", writable


def test_terminate_leaves_nothing_on_the_host(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    instances = launch(ec2, image, count=2)
    names = [interface_name(cloud.region("eu-central-1").instance_directory(i)) for i in instances]
    assert all(
        subprocess.run(["ip", "link", "show", n], capture_output=True).returncode == 0
        for n in names
    )
    ec2.terminate_instances(InstanceIds=instances)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=instances, WaiterConfig={"Delay": 0.2})
    ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    for name in names:
        assert subprocess.run(["ip", "link", "show", name], capture_output=True).returncode != 0
        assert name not in ruleset
    gone = ec2.describe_instances(InstanceIds=instances)["Reservations"][0]["Instances"]
    assert all("PrivateIpAddress" not in i for i in gone), "the interface went with it"
    time.sleep(0)  # the autouse leak check looks at processes, mounts, cgroups too


def test_changing_a_running_instances_groups_applies_at_once(
    clients: tuple[Any, Any], image: str, group: str
) -> None:
    ec2, ssm = clients
    closed = ec2.create_security_group(GroupName="closed", Description="closed")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=_tcp(PORT, IpRanges=[{"CidrIp": "0.0.0.0/0"}])
    )
    (instance,) = launch(ec2, image, SecurityGroupIds=[closed])
    serve_http(ssm, instance)
    address = address_of(ec2, instance)
    assert not tcp_open(address)
    ec2.modify_instance_attribute(InstanceId=instance, Groups=[group])
    assert tcp_open(address)
    shown = ec2.describe_instance_attribute(InstanceId=instance, Attribute="groupSet")
    assert [g["GroupId"] for g in shown["Groups"]] == [group]
    assert ok(fetch(ssm, instance, f"{IMDS}/meta-data/security-groups")) == "web"
    found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    interface = found["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=interface, Groups=[closed])
    assert not tcp_open(address)
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_security_group(GroupName="x", Description="x", VpcId=other_vpc)
    with pytest.raises(ClientError):
        ec2.modify_instance_attribute(InstanceId=instance, Groups=[elsewhere["GroupId"]])
